import Foundation
import SwitchboardAMQP
@testable import SwitchboardBench
import SwitchboardCore
import Testing

/// `bench gateway` and `bench tenants` report what real runs did: small runs of them
/// against the test broker. `bench gateway` starts this build's `switchboard` as
/// `serve all` and `serve simulator`, and reads the broker's node-wide counters, so it
/// runs alone after the parallel suites (deploy/local/test.sh): beside other suites their
/// publishes would count too.
@Suite("switchboard bench gateway and bench tenants")
struct GatewayBenchTests {
    static let executable = DisposableNode.repositoryRoot.appendingPathComponent(".build/debug/switchboard").path

    private func gateway(statusWebhooks: Bool) async throws -> GatewayBenchmark.Report {
        var options = GatewayBenchmark.Options(executable: Self.executable, topologyPath: TestTopology.path,
                                               managementURL: TestTopology.managementURL)
        options.messages = 120
        options.warmup = 10
        options.tenants = 3
        options.concurrency = 8
        options.statusWebhooks = statusWebhooks
        return try await GatewayBenchmark(
            configuration: try TestBroker.configuration("bench-gateway"), management: try TestTopology.management(),
            topology: try TestTopology.load(), options: options, logger: TestBroker.logger
        ).run()
    }

    @Test(.timeLimit(.minutes(3)))
    func theWholeLoopEndsWithEveryMessageReadAndCountsEachProcessesCPU() async throws {
        let report = try await gateway(statusWebhooks: true)
        #expect(report.states == ["read": 130], "\(report.states)")
        #expect(report.messagesPerSecond > 0)
        #expect(report.gatewayMicroseconds > 0 && report.simulatorMicroseconds > 0)
        #expect((report.brokerMicroseconds ?? 0) > 0)
        #expect(report.totalMicroseconds == report.gatewayMicroseconds + (report.brokerMicroseconds ?? 0))
        // The api's publish, three raw webhooks and three status events per message.
        let work = try #require(report.brokerPerMessage)
        #expect(work.published >= 6.5 && work.published <= 7.5, "\(work)")

        let quiet = try await gateway(statusWebhooks: false)
        #expect(quiet.states == ["sent": 130], "\(quiet.states)")
        // The api's publish and the dispatcher's `sent` event.
        let quietWork = try #require(quiet.brokerPerMessage)
        #expect(quietWork.published >= 1.5 && quietWork.published <= 2.5, "\(quietWork)")
    }

    @Test(.timeLimit(.minutes(3)))
    func tenantsAreOnboardedEveryOneConsumedAndTheLastOneSendsAtOnce() async throws {
        var options = TenantsBenchmark.Options()
        options.tenants = 30
        options.throughSingleCreates = 10
        options.concurrency = 4
        options.batchSize = 7
        options.probes = 5
        options.idleSeconds = 1
        let report = try await TenantsBenchmark(
            configuration: try TestBroker.configuration("bench-tenants"), management: try TestTopology.management(),
            topology: try TestTopology.load(), options: options, logger: TestBroker.logger
        ).run()
        #expect(report.singleCreates.tenants == 10 && report.singleCreates.failed == 0)
        #expect(report.batches.tenants == 15 && report.batches.failed == 0)
        #expect(report.consumers == 30)
        #expect(report.laneLoad == [30])
        #expect(report.createAtFullSizeMs.p50 > 0)
        #expect(report.gatewayRSSMegabytes > 0)
        #expect(report.lastTenantFirstSendMs > 0 && report.lastTenantFirstSendMs < 5_000)
    }
}
