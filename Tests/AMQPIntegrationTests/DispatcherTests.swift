import Foundation
import SwitchboardAMQP
import SwitchboardCore
import SwitchboardDispatcher
import SwitchboardSimulator
import SwitchboardStore
import Testing

@Suite("The dispatcher against a real broker and the provider simulator")
struct DispatcherTests {
    @Test(.timeLimit(.minutes(2)))
    func sendsEachMessageOnceRecordsItAndEmitsASentEvent() async throws {
        try await TestOutbound.with { outbound in
            let acme = try await outbound.addTenant("acme")
            // A subscriber's queue on the statuses' fan-out.
            let statuses = "test.statuses"
            try await outbound.scratch.connection.declareQueue(AMQPQueueDeclaration(name: statuses))
            try await outbound.scratch.connection.bind(AMQPBinding(exchange: "sb.statuses", queue: statuses))
            var ids: [String] = []
            for index in 0..<20 {
                let envelope = try outbound.envelope("acme", "hello \(index)")
                ids.append(envelope.id)
                try await outbound.publish(envelope)
            }
            #expect(await eventually { outbound.accepted("acme-main") == 20 })
            #expect(await outbound.scratch.waitForDepth(statuses, 20))
            #expect(try await eventually { try await outbound.scratch.depth("sb.outbound.acme") == 0 })
            for id in ids {
                let stored = try #require(try await outbound.store.message(id, of: acme))
                #expect(stored.state == .sent)
                #expect(stored.providerMessageID != nil)
            }
            // The dispatcher wrote the log itself: the built-in consumers get no status.
            for queue in ["sb.events.logger", "sb.events.inbox", "sb.events.bot"] {
                #expect(try await outbound.scratch.depth(queue) == 0, "\(queue)")
            }
            let event = try #require(try await outbound.scratch.connection.get(queue: statuses, autoAck: true))
            let decoded = try WireJSON.decoder().decode(NormalizedEvent.self, from: event.body)
            #expect(decoded.type == .messageStatus)
            #expect(decoded.status?.status == .sent)
            #expect(decoded.tenant == acme)
            #expect(Set(outbound.simulator.state.messages(session: "acme-main").map(\.text)).count == 20)
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func noSecondHoldsMoreThanTheSessionRateAndTheProviderNeverSays429() async throws {
        try await TestOutbound.with { outbound in
            try await outbound.addTenant("acme", rate: 5, bulkShare: 1, simulatorRate: 5)
            for index in 0..<15 {
                try await outbound.publish(try outbound.envelope("acme", "paced \(index)",
                                                                 messageClass: index % 2 == 0 ? .bulk : .transactional))
            }
            #expect(await eventually(timeout: .seconds(30)) { outbound.accepted("acme-main") == 15 })
            let stats = outbound.simulator.state.stats(session: "acme-main")
            #expect(stats.maxPerSecond <= 5, "\(stats)")
            #expect(stats.rateLimited == 0)
            let messages = outbound.simulator.state.messages(session: "acme-main")
            let span = messages.last!.acceptedAt.timeIntervalSince(messages.first!.acceptedAt)
            #expect(span >= 2.5, "15 messages at 5/s take about 3 s, took \(span)")
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aTransactionalMessageOvertakesTheTenantsQueuedBulk() async throws {
        // In flight 4: a transactional message may wait behind at most 4 bulk messages
        // already fetched; the rest of the backlog waits in the broker's priority queue.
        try await TestOutbound.with(.init(inFlightPerTenant: 4, refreshInterval: .milliseconds(200))) { outbound in
            try await outbound.addTenant("acme", rate: 10, bulkShare: 1, simulatorRate: 10)
            for index in 0..<60 {
                try await outbound.publish(try outbound.envelope("acme", "bulk \(index)", messageClass: .bulk))
            }
            #expect(await eventually { outbound.accepted("acme-main") >= 5 })
            let code = try outbound.envelope("acme", "code", messageClass: .transactional)
            try await outbound.publish(code)
            let acceptedBefore = outbound.accepted("acme-main")
            #expect(await eventually(timeout: .seconds(10)) {
                outbound.simulator.state.messages(session: "acme-main").contains { $0.text == "code" }
            })
            let texts = outbound.simulator.state.messages(session: "acme-main").map(\.text)
            let position = try #require(texts.firstIndex(of: "code"))
            let bulkAhead = position - acceptedBefore
            #expect(bulkAhead <= 4, "\(bulkAhead) bulk messages went between the publish and the code")
            #expect(texts.count < 60, "the code came after the whole backlog")
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func transientFailuresGoThroughTheRetryTiersThenToTheDeadLetterQueue() async throws {
        try await TestOutbound.with(.init(refreshInterval: .milliseconds(200), maximumAttempts: 3,
                                          firstRetryDelay: .milliseconds(1))) { outbound in
            try await outbound.addTenant("acme", behaviour: SimulatorBehaviour(errorRate: 1))
            let envelope = try outbound.envelope("acme", "never lands")
            try await outbound.publish(envelope)
            #expect(await outbound.scratch.waitForDepth("sb.dead", 1, timeout: .seconds(30)))
            let dead = try #require(try await outbound.scratch.connection.get(queue: "sb.dead", autoAck: true))
            #expect(dead.properties.messageID == envelope.id)
            #expect(dead.routingKey == "acme.retries-exhausted")
            let headers = dead.headers
            guard case .string(let code)? = headers[OutboundHeader.errorCode] else {
                Issue.record("no \(OutboundHeader.errorCode) header: \(headers)")
                return
            }
            #expect(code.hasPrefix("retries-exhausted:"))
            #expect(headers[OutboundHeader.attempts] == .int32(3))
            #expect(headers[OutboundHeader.originalRoutingKey] == .string("acme.transactional"))
            #expect(headers[OutboundHeader.firstFailedAt] != nil)
            #expect(headers[OutboundHeader.lastFailedAt] != nil)
            #expect(outbound.simulator.state.stats(session: "acme-main").errors == 3)
            // Recorded right after the dead letter is published.
            #expect(try await eventually { try await outbound.store.message(envelope.id, of: try TenantID("acme"))?.state == .failed })
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func permanentFailuresAndExpiredMessagesAreDeadLetteredAtOnce() async throws {
        try await TestOutbound.with { outbound in
            try await outbound.addTenant("acme", behaviour: SimulatorBehaviour(invalidNumberPrefixes: ["+1999"]))
            let invalid = try outbound.envelope("acme", "to nobody", to: "+19995550000")
            let expired = try outbound.envelope("acme", "too late", expiresAt: Date().addingTimeInterval(-1))
            try await outbound.publish(invalid)
            try await outbound.publish(expired)
            #expect(await outbound.scratch.waitForDepth("sb.dead", 2))
            var reasons: [String: AMQPTable] = [:]
            while let dead = try await outbound.scratch.connection.get(queue: "sb.dead", autoAck: true) {
                reasons[dead.routingKey] = dead.headers
            }
            #expect(reasons["acme.invalid-recipient"]?[OutboundHeader.attempts] == .int32(1))
            #expect(reasons["acme.expired"]?[OutboundHeader.attempts] == .int32(0))
            // The expired one never reached the provider.
            #expect(outbound.accepted("acme-main") == 0)
            #expect(try await eventually { try await outbound.store.message(expired.id, of: try TenantID("acme"))?.state == .expired })
        }
    }

    /// An envelope published straight to sb.outbound passes no api: the dispatcher
    /// applies the envelope's rules itself and dead-letters it, listing every broken
    /// field, instead of handing a 5,000-character text to the provider.
    @Test(.timeLimit(.minutes(2)))
    func anEnvelopeBreakingItsRulesOverAMQPIsDeadLetteredAsInvalidAndNeverSent() async throws {
        try await TestOutbound.with { outbound in
            let acme = try await outbound.addTenant("acme")
            var tooLong = try outbound.envelope("acme", String(repeating: "x", count: 5000))
            tooLong.campaign = ""
            try await outbound.publish(tooLong)
            let control = try outbound.envelope("acme", "fine")
            try await outbound.publish(control)
            #expect(await outbound.scratch.waitForDepth("sb.dead", 1))
            let dead = try #require(try await outbound.scratch.connection.get(queue: "sb.dead", autoAck: true))
            #expect(dead.properties.messageID == tooLong.id)
            #expect(dead.routingKey == "acme.invalid")
            #expect(try WireJSON.decoder().decode(OutboundEnvelope.self, from: dead.body) == tooLong)
            #expect(dead.headers[OutboundHeader.errorCode] == .string("invalid"))
            let detail = dead.headers[OutboundHeader.errorDetail]?.stringValue ?? ""
            #expect(detail.contains("text: is longer than 4096 characters"), "\(detail)")
            #expect(detail.contains("campaign:"), "\(detail)")
            #expect(dead.headers[OutboundHeader.originalRoutingKey] == .string("acme.transactional"))
            // The message after it went out; the invalid one never reached the provider.
            #expect(await eventually { outbound.accepted("acme-main") == 1 })
            #expect(outbound.simulator.state.messages(session: "acme-main").map(\.text) == ["fine"])
            #expect(try await eventually {
                try await outbound.store.message(tooLong.id, of: acme)?.state == .failed
            })
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aDisconnectedSessionPausesItsTenantAndNothingIsLostOnResume() async throws {
        try await TestOutbound.with { outbound in
            try await outbound.addTenant("acme")
            try await outbound.addTenant("globex")
            let session = try SessionID("acme-main")
            // The pause is the dispatcher cancelling its consumer of the tenant's queue:
            // wait for the consumer to be there, then for the refresh that reads the
            // disconnect to take it away (a fixed sleep raced the refresh on a busy machine).
            func consumers() async throws -> UInt32 {
                try await outbound.scratch.connection.inspectQueue("sb.outbound.acme").consumerCount
            }
            #expect(try await eventually { try await consumers() == 1 })
            try await outbound.store.setStatus(.disconnected, of: session)
            #expect(try await eventually { try await consumers() == 0 })
            for index in 0..<10 {
                try await outbound.publish(try outbound.envelope("acme", "waiting \(index)"))
                try await outbound.publish(try outbound.envelope("globex", "flowing \(index)"))
            }
            #expect(await eventually { outbound.accepted("globex-main") == 10 })
            #expect(outbound.accepted("acme-main") == 0)
            #expect(try await outbound.scratch.depth("sb.outbound.acme") == 10)
            try await outbound.store.setStatus(.connected, of: session)
            #expect(await eventually { outbound.accepted("acme-main") == 10 })
            #expect(Set(outbound.simulator.state.messages(session: "acme-main").map(\.text)).count == 10)
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aMessageTheStoreRecordsAsSentIsNotSentAgain() async throws {
        try await TestOutbound.with { outbound in
            let acme = try await outbound.addTenant("acme")
            let envelope = try outbound.envelope("acme", "sent before a crash")
            try await outbound.store.recordSent(envelope, session: try SessionID("acme-main"), providerMessageID: "42",
                                                at: Date())
            // A publisher sends it again under the same id (the api does after an unknown outcome).
            try await outbound.scratch.connection.publish(
                try envelope.wireBody(), exchange: "sb.outbound", routingKey: envelope.routingKey,
                properties: envelope.amqpProperties(republished: true))
            let control = try outbound.envelope("acme", "fresh")
            try await outbound.publish(control)
            #expect(await eventually { outbound.accepted("acme-main") == 1 })
            #expect(try await eventually { try await outbound.scratch.depth("sb.outbound.acme") == 0 })
            #expect(outbound.simulator.state.messages(session: "acme-main").map(\.text) == ["fresh"])
            #expect(try await outbound.store.message(envelope.id, of: acme)?.providerMessageID == "42")
        }
    }

    /// Copies of one message arriving together (a replayed dead letter published again
    /// after its runner died, a publisher's retry) are handled one after the other: the
    /// second finds the first's record and is not sent.
    @Test(.timeLimit(.minutes(2)))
    func copiesOfOneMessageInFlightTogetherAreSentOnce() async throws {
        try await TestOutbound.with { outbound in
            let acme = try await outbound.addTenant("acme", behaviour: SimulatorBehaviour(latencyMs: 50))
            var envelopes: [OutboundEnvelope] = []
            for index in 0..<5 { envelopes.append(try outbound.envelope("acme", "copy \(index)")) }
            for envelope in envelopes {
                for _ in 0..<3 {
                    try await outbound.scratch.connection.publish(
                        try envelope.wireBody(), exchange: "sb.outbound", routingKey: envelope.routingKey,
                        properties: envelope.amqpProperties(republished: true))
                }
            }
            #expect(try await eventually { try await outbound.scratch.depth("sb.outbound.acme") == 0 })
            #expect(await eventually { outbound.accepted("acme-main") >= 5 })
            try await Task.sleep(for: .milliseconds(500))
            #expect(outbound.simulator.state.messages(session: "acme-main").compactMap(\.text).sorted()
                == (0..<5).map { "copy \($0)" })
            for envelope in envelopes {
                #expect(try await outbound.store.message(envelope.id, of: acme)?.state == .sent)
            }
        }
    }
}
