import Foundation
import SwitchboardAMQP
@testable import SwitchboardBench
import SwitchboardCore
import Testing

/// The outbound benchmark's figures come from real work: small runs of it against the
/// test broker and the embedded simulator.
@Suite("switchboard bench outbound")
struct BenchTests {
    private func run(_ scenario: OutboundBenchmark.Scenario, messages: Int, tenants: Int) async throws
        -> OutboundBenchmark.Report
    {
        var options = OutboundBenchmark.Options()
        options.scenario = scenario
        options.messages = messages
        options.tenants = tenants
        return try await OutboundBenchmark(
            configuration: try TestBroker.configuration("bench"), management: try TestTopology.management(),
            topology: try TestTopology.load(), options: options, logger: TestBroker.logger
        ).run()
    }

    /// The broker's CPU is read only when it runs on this machine (the test broker does,
    /// unless SWITCHBOARD_TEST_AMQP_URL points elsewhere).
    private func brokerIsLocal() throws -> Bool {
        ["127.0.0.1", "localhost", "::1"].contains(try TestBroker.configuration("bench").host)
    }

    @Test func throughputCountsEveryAcceptedMessageOnceAndItsCPU() async throws {
        let report = try await run(.throughput, messages: 300, tenants: 3)
        #expect(report.messages == 300)
        #expect(report.duplicates == 0)
        #expect(report.rateLimited == 0)
        #expect((report.acceptedPerSecond ?? 0) > 0)
        let cpu = try #require(report.cpuPerMessage)
        #expect(cpu.processMicroseconds > 0)
        if try brokerIsLocal() {
            #expect((cpu.brokerMicroseconds ?? 0) > 0)
        }
        #expect(report.parts == nil)
    }

    @Test func theFloorMeasuresEachPartAloneAndTheCeilingTheirSumAllows() async throws {
        let report = try await run(.floor, messages: 400, tenants: 2)
        let parts = try #require(report.parts)
        #expect(parts.map(\.name) == ["broker", "provider", "store"])
        for part in parts {
            #expect(part.perSecond > 0 && part.seconds > 0, "\(part.name)")
            #expect(part.cpuPerMessage.processMicroseconds > 0, "\(part.name)")
        }
        guard try brokerIsLocal() else {
            #expect(report.ceilingPerSecond == nil)
            return
        }
        // Publishing, delivering, the status event and the ack are the broker's work.
        #expect((parts[0].cpuPerMessage.brokerMicroseconds ?? 0) > 0)
        let total = parts.reduce(0) { $0 + $1.cpuPerMessage.totalMicroseconds }
        let ceiling = try #require(report.ceilingPerSecond)
        #expect(abs(ceiling - Double(ProcessInfo.processInfo.activeProcessorCount) * 1_000_000 / total) < 0.001)
    }

    @Test func cpuTicksAreReadAfterACommandNameHoldingSpacesAndParentheses() {
        let stat = "4242 (beam (x) smp) S 1 4242 4242 0 -1 4194560 9 0 0 0 1234 567 0 0 20 0 30 0 100 0 0"
        #expect(CPUSample.cpuTicks(fromStat: stat) == 1801)
        #expect(CPUSample.cpuTicks(fromStat: "4242 (beam.smp) S 1 2") == nil)
        #expect(CPUSample.cpuTicks(fromStat: "garbage") == nil)
    }
}
