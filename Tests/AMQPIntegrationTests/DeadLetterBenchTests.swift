import Foundation
@testable import SwitchboardBench
import Testing

/// `bench dead-letters --kill` at a small scale: `serve dead-letters` (this build's
/// executable) SIGKILLed part-way through archiving and through replaying, restarted,
/// and the benchmark's own checks hold: every dead letter archived exactly once, every
/// replay in its tenant queue at least once, every message sent by the provider once.
@Suite("switchboard bench dead-letters --kill")
struct DeadLetterBenchTests {
    @Test(.timeLimit(.minutes(3)))
    func aServiceKilledWhileArchivingAndWhileReplayingLosesNothingAndSendsNothingTwice() async throws {
        var options = DeadLetterBenchmark.Options(executable: GatewayBenchTests.executable,
                                                  topologyPath: TestTopology.path,
                                                  managementURL: TestTopology.managementURL)
        options.messages = 3_000
        options.tenants = 4
        options.kill = true
        options.archiveRows = 5_000
        let report = try await DeadLetterBenchmark(
            configuration: try TestBroker.configuration("bench-dead-letters"), management: try TestTopology.management(),
            topology: try TestTopology.load(), options: options, logger: TestBroker.logger
        ).run()
        #expect(report.archived == 3_000)
        #expect(report.replayed == 3_000)
        #expect((report.reachedOutbound ?? 0) >= 3_000)
        #expect(report.sentByProvider == 3_000)
        #expect(report.duplicateSends == 0)
        #expect(report.archivePerSecond > 0 && report.archiveServiceMicroseconds > 0)
        #expect(report.groupsAllTenants != nil)
    }
}
