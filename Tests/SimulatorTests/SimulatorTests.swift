import Testing

@Suite("The provider simulator")
struct SimulatorTests {}
