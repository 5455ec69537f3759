/// The `simulator` service: a provider stand-in for development, tests and benchmarks.
public enum SimulatorServer {}
