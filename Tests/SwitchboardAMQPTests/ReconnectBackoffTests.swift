import Testing
@testable import SwitchboardAMQP

@Suite("Reconnect backoff")
struct ReconnectBackoffTests {
    @Test func growsExponentiallyWithinJitterAndCaps() {
        var backoff = ReconnectBackoff(policy: .init(initialDelay: .milliseconds(100), maximumDelay: .seconds(2),
                                                     multiplier: 2))
        var generator = SystemRandomNumberGenerator()
        let ceilings: [Double] = [0.1, 0.2, 0.4, 0.8, 1.6, 2, 2, 2]
        for ceiling in ceilings {
            let delay = backoff.nextDelay(using: &generator).seconds
            #expect(delay >= ceiling / 2 - 1e-9 && delay <= ceiling + 1e-9, "delay \(delay) outside [\(ceiling / 2), \(ceiling)]")
        }
        backoff.reset()
        let afterReset = backoff.nextDelay(using: &generator).seconds
        #expect(afterReset <= 0.1 + 1e-9)
    }
}
