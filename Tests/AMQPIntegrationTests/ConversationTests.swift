import Foundation
import Hummingbird
import SwitchboardAMQP
import SwitchboardBroker
import SwitchboardCore
import SwitchboardHTTP
import SwitchboardSimulator
import SwitchboardStore
import Synchronization
import Testing

/// What the simulator accepted for `contact` through `session`.
private func accepted(_ inbound: TestInbound, _ session: String, to contact: String) -> [SimulatedMessage] {
    let digits = contact.filter(\.isNumber)
    return inbound.simulator.state.messages(session: session).filter { $0.to.filter(\.isNumber) == digits }
}

private func publish(_ envelope: OutboundEnvelope, _ inbound: TestInbound) async throws {
    try await inbound.scratch.connection.publish(try envelope.wireBody(), exchange: "sb.outbound",
                                                 routingKey: envelope.routingKey, properties: envelope.amqpProperties())
}

private func bulk(_ text: String, to contact: String, tenant: TenantID) throws -> OutboundEnvelope {
    OutboundEnvelope(id: MessageID.make(), tenant: tenant, messageClass: .bulk, to: try PhoneNumber(contact), text: text,
                     campaign: "spring")
}

@Suite("Inbox and bot: the human handoff and automatic replies against a real broker, the simulator and SQLite")
struct ConversationTests {
    @Test(.timeLimit(.minutes(3)))
    func aReplyPausesThatContactsBulkAlertsAnAgentWhoAnswersAndResolvingLetsBulkThrough() async throws {
        try await TestInbound.with(conversations: true) { inbound in
            // Bulk at about 8 messages/s: a campaign of 45 over three contacts takes a few seconds.
            let shop = try await inbound.addTenant("shop", limits: TenantLimits(sessionRate: 10, bulkShare: 1))
            let other = try await inbound.addTenant("otherco")
            let (ann, bob, cat) = ("+14155550301", "+14155550302", "+14155550303")
            var campaign: [OutboundEnvelope] = []
            for index in 0..<15 {
                for contact in [ann, bob, cat] {
                    campaign.append(try bulk("offer \(index)", to: contact, tenant: shop))
                }
            }
            for envelope in campaign { try await publish(envelope, inbound) }
            #expect(await eventually { accepted(inbound, "shop-main", to: bob).count >= 2 })

            _ = try inbound.simulator.state.inbound(session: "shop-main", from: bob, text: "Hi, where is my order?",
                                                    name: "Bob")
            var events: [NormalizedEvent] = []
            #expect(try await eventually {
                events += try await inbound.drainEvents()
                return events.contains { $0.type == .inboxAlert }
            })
            let alertSeen = Date()
            let alert = try #require(events.first { $0.type == .inboxAlert })
            #expect(alert.tenant == shop)
            #expect(alert.alert?.contact == bob)
            #expect(alert.alert?.reason == "reply")
            #expect(alert.alert?.pausedUntil != nil)
            #expect(alert.message?.text == "Hi, where is my order?")

            // The campaign runs to its end: Ann and Cat get everything, Bob nothing after the alert.
            #expect(try await eventually(timeout: .seconds(40)) {
                for envelope in campaign {
                    guard let state = try await inbound.store.message(envelope.id, of: shop)?.state,
                          state != .queued, state != .accepting else { return false }
                }
                return true
            })
            #expect(accepted(inbound, "shop-main", to: ann).count == 15)
            #expect(accepted(inbound, "shop-main", to: cat).count == 15)
            let toBob = accepted(inbound, "shop-main", to: bob).filter { $0.text?.hasPrefix("offer") == true }
            var suppressed = 0
            for envelope in campaign where envelope.to.e164 == bob {
                if try await inbound.store.message(envelope.id, of: shop)?.state == .suppressed { suppressed += 1 }
            }
            #expect(suppressed >= 5, "only \(suppressed) of Bob's bulk messages were held back")
            #expect(toBob.count + suppressed == 15, "\(toBob.count) sent + \(suppressed) suppressed")
            let late = toBob.filter { $0.acceptedAt > alertSeen.addingTimeInterval(0.3) }
            #expect(late.isEmpty, "bulk reached Bob after the alert: \(late.map(\.acceptedAt))")

            try await inbound.withAPI(tenants: [shop, other]) { port, keys in
                let (key, otherKey) = (keys[0], keys[1])
                let open = try await TestAPI.request(port: port, .GET, "/v1/conversations?state=open", key: key)
                #expect(open.status == 200, "\(open.text)")
                let listed = open.json["conversations"] as? [[String: Any]] ?? []
                #expect(listed.map { $0["contact"] as? String } == [bob])
                #expect(listed.first?["unread"] as? Int == 1)
                #expect(listed.first?["session"] as? String == "shop-main")

                let one = try await TestAPI.request(port: port, .GET, "/v1/conversations/%2B14155550302", key: key)
                #expect(one.status == 200, "\(one.text)")
                let policy = one.json["contact_policy"] as? [String: Any]
                #expect(policy?["bulk_allowed"] as? Bool == false)
                #expect(policy?["suppression"] as? String == "paused")
                let thread = one.json["messages"] as? [[String: Any]] ?? []
                #expect(thread.contains { $0["direction"] as? String == "inbound"
                    && $0["text"] as? String == "Hi, where is my order?" })

                // Another tenant's key sees none of it.
                let foreign = try await TestAPI.request(port: port, .GET, "/v1/conversations", key: otherKey)
                #expect((foreign.json["conversations"] as? [Any])?.isEmpty == true, "\(foreign.text)")
                let foreignOne = try await TestAPI.request(port: port, .GET, "/v1/conversations/14155550302", key: otherKey)
                #expect(foreignOne.status == 404)
                #expect(foreignOne.isProblem)
                let foreignResolve = try await TestAPI.request(port: port, .POST, "/v1/conversations/14155550302/resolve",
                                                               key: otherKey)
                #expect(foreignResolve.status == 404)

                let assigned = try await TestAPI.request(port: port, .POST, "/v1/conversations/14155550302/assign",
                                                         key: key, json: #"{"assignee":"ana"}"#)
                #expect(assigned.json["assignee"] as? String == "ana", "\(assigned.text)")
                let reply = try await TestAPI.request(
                    port: port, .POST, "/v1/conversations/14155550302/reply", key: key,
                    json: #"{"text":"Happy to help: what is your order number?"}"#)
                #expect(reply.status == 202, "\(reply.text)")
                #expect((reply.json["conversation"] as? [String: Any])?["state"] as? String == "waiting")
                #expect((reply.json["conversation"] as? [String: Any])?["unread"] as? Int == 0)
                #expect(await eventually {
                    accepted(inbound, "shop-main", to: bob).contains { $0.text == "Happy to help: what is your order number?" }
                })

                let resolved = try await TestAPI.request(port: port, .POST, "/v1/conversations/14155550302/resolve", key: key)
                #expect(resolved.status == 200, "\(resolved.text)")
                #expect(resolved.json["state"] as? String == "resolved")
                #expect((resolved.json["contact_policy"] as? [String: Any])?["bulk_allowed"] as? Bool == true)
                let waiting = try await TestAPI.request(port: port, .GET, "/v1/conversations?state=open", key: key)
                #expect((waiting.json["conversations"] as? [Any])?.isEmpty == true)
            }
            // Resolved: bulk reaches Bob again.
            let afterwards = try bulk("back in stock", to: bob, tenant: shop)
            try await publish(afterwards, inbound)
            #expect(await eventually {
                accepted(inbound, "shop-main", to: bob).contains { $0.text == "back in stock" }
            })
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func stopOptsOutAndIsConfirmedOnceBulkIsSuppressedAndStartReversesIt() async throws {
        try await TestInbound.with(conversations: true) { inbound in
            let club = try await inbound.addTenant("club")
            let other = try await inbound.addTenant("otherco")
            let dee = "+14155550401"
            try await inbound.withAPI(tenants: [club, other]) { port, keys in
                let (key, otherKey) = (keys[0], keys[1])
                _ = try inbound.simulator.state.inbound(session: "club-main", from: dee, text: "STOP")
                #expect(await eventually {
                    accepted(inbound, "club-main", to: dee).contains { $0.text == BotSettings.defaultOptOutReply }
                })
                let contact = try await TestAPI.request(port: port, .GET, "/v1/contacts/14155550401", key: key)
                #expect(contact.json["opted_out"] as? Bool == true, "\(contact.text)")
                #expect(contact.json["suppression"] as? String == "opted-out")
                let elsewhere = try await TestAPI.request(port: port, .GET, "/v1/contacts/14155550401", key: otherKey)
                #expect(elsewhere.json["opted_out"] as? Bool == false, "another tenant's contact is its own")

                // A second STOP is not confirmed again.
                _ = try inbound.simulator.state.inbound(session: "club-main", from: dee, text: "  stop! ")
                var events: [NormalizedEvent] = []
                #expect(try await eventually {
                    events += try await inbound.drainEvents()
                    guard let second = events.first(where: { $0.message?.text == "  stop! " }) else { return false }
                    return try await inbound.store.pendingPublications(consumer: "bot", tenant: club,
                                                                       eventID: second.id) == []
                })
                try await Task.sleep(for: .seconds(1))
                #expect(accepted(inbound, "club-main", to: dee).filter { $0.text == BotSettings.defaultOptOutReply }.count == 1)

                // Bulk is suppressed; a one-time code still goes.
                let promo = try await TestAPI.request(port: port, .POST, "/v1/messages", key: key,
                                                      json: #"{"to":"+14155550401","class":"bulk","text":"promo"}"#)
                let code = try await TestAPI.request(port: port, .POST, "/v1/messages", key: key,
                                                     json: #"{"to":"+14155550401","text":"your code is 4711"}"#)
                let promoID = try #require(promo.json["id"] as? String)
                #expect(try await eventually {
                    let state = try await TestAPI.request(port: port, .GET, "/v1/messages/\(promoID)", key: key)
                    return state.json["state"] as? String == "suppressed"
                })
                #expect(code.status == 202)
                #expect(await eventually { accepted(inbound, "club-main", to: dee).contains { $0.text == "your code is 4711" } })
                #expect(!accepted(inbound, "club-main", to: dee).contains { $0.text == "promo" })

                // START reverses it, confirmed; bulk goes again.
                _ = try inbound.simulator.state.inbound(session: "club-main", from: dee, text: "Start")
                #expect(await eventually {
                    accepted(inbound, "club-main", to: dee).contains { $0.text == BotSettings.defaultOptInReply }
                })
                #expect(try await eventually {
                    let contact = try await TestAPI.request(port: port, .GET, "/v1/contacts/14155550401", key: key)
                    return contact.json["bulk_allowed"] as? Bool == true
                })
                _ = try await TestAPI.request(port: port, .POST, "/v1/messages", key: key,
                                              json: #"{"to":"+14155550401","class":"bulk","text":"welcome back"}"#)
                #expect(await eventually { accepted(inbound, "club-main", to: dee).contains { $0.text == "welcome back" } })
            }
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func aSlowOrFailingBotURLDelaysNoOtherTenantsReplies() async throws {
        let secret = "fastco-bot-secret-0123456789"
        let signedForwards = Counter()
        let botServer = try await EmbeddedHTTPServer.start(logger: TestBroker.logger) { onRunning in
            let router = Router()
            router.post("slow") { _, _ -> Response in
                try await Task.sleep(for: .seconds(8))
                return Response(status: .ok, headers: [.contentType: "application/json"],
                                body: .init(byteBuffer: ByteBuffer(string: #"{"reply":"too late"}"#)))
            }
            router.post("fail") { _, _ -> Response in Response(status: .internalServerError) }
            router.post("ok") { request, _ -> Response in
                let body = try await request.body.collect(upTo: 1 << 20)
                do {
                    try WebhookSignature.standard(
                        id: request.headers[values: .init("webhook-id")!].first,
                        timestamp: request.headers[values: .init("webhook-timestamp")!].first,
                        signatures: request.headers[values: .init("webhook-signature")!].first,
                        body: Data(buffer: body), secret: secret)
                } catch {
                    return Response(status: .unauthorized)
                }
                signedForwards.increment()
                return Response(status: .ok, headers: [.contentType: "application/json"],
                                body: .init(byteBuffer: ByteBuffer(string: #"{"reply":"bot says hi"}"#)))
            }
            return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                               onServerRunning: { await onRunning($0.localAddress?.port ?? 0) })
        }
        defer { Task { try? await botServer.stop() } }
        let base = "http://127.0.0.1:\(botServer.port)"
        try await TestInbound.with(conversations: true) { inbound in
            let slow = try await inbound.addTenant("slowco")
            let failing = try await inbound.addTenant("failco")
            let fast = try await inbound.addTenant("fastco")
            try await inbound.withAPI(tenants: [slow, failing, fast]) { port, keys in
                for (key, path) in [(keys[0], "slow"), (keys[1], "fail"), (keys[2], "ok")] {
                    let saved = try await TestAPI.request(
                        port: port, .PUT, "/v1/bot", key: key,
                        json: #"{"forward_url":"\#(base)/\#(path)","forward_secret":"\#(secret)","forward_timeout_seconds":10}"#)
                    #expect(saved.status == 200, "\(saved.text)")
                    #expect(saved.json["forward_secret"] == nil)
                    #expect(saved.json["forward_secret_set"] as? Bool == true)
                }
                let rule = try await TestAPI.request(port: port, .POST, "/v1/bot/rules", key: keys[2],
                                                     json: #"{"keywords":["HELP","info"],"reply":"Here to help: send your order number"}"#)
                #expect(rule.status == 201, "\(rule.text)")
                let noSecret = try await TestAPI.request(port: port, .PUT, "/v1/bot", key: keys[0],
                                                         json: #"{"reply_limit":0}"#)
                #expect(noSecret.status == 422)
                #expect(noSecret.isProblem)
                // Rules and settings are each tenant's own.
                let slowRules = try await TestAPI.request(port: port, .GET, "/v1/bot/rules", key: keys[0])
                #expect((slowRules.json["rules"] as? [Any])?.isEmpty == true, "\(slowRules.text)")
                let fastRules = try await TestAPI.request(port: port, .GET, "/v1/bot/rules", key: keys[2])
                #expect((fastRules.json["rules"] as? [[String: Any]])?.first?["reply"] as? String
                    == "Here to help: send your order number")
                let slowSettings = try await TestAPI.request(port: port, .GET, "/v1/bot", key: keys[0])
                #expect(slowSettings.json["forward_url"] as? String == "\(base)/slow")
            }
            // The slow and the failing bot each get a burst.
            for index in 0..<10 {
                _ = try inbound.simulator.state.inbound(session: "slowco-main", from: "+141555506\(10 + index)", text: "hi \(index)")
                _ = try inbound.simulator.state.inbound(session: "failco-main", from: "+141555507\(10 + index)", text: "hi \(index)")
            }
            try await Task.sleep(for: .milliseconds(500))
            let started = ContinuousClock.now
            _ = try inbound.simulator.state.inbound(session: "fastco-main", from: "+14155550801", text: "help")
            _ = try inbound.simulator.state.inbound(session: "fastco-main", from: "+14155550802", text: "hello bot")
            #expect(await eventually(timeout: .seconds(5)) {
                accepted(inbound, "fastco-main", to: "+14155550801").contains { $0.text == "Here to help: send your order number" }
                    && accepted(inbound, "fastco-main", to: "+14155550802").contains { $0.text == "bot says hi" }
            })
            let elapsed = ContinuousClock.now - started
            #expect(elapsed < .seconds(5), "fastco answered after \(elapsed)")
            #expect(signedForwards.value == 1)
            #expect(inbound.simulator.state.messages(session: "failco-main").isEmpty)
            #expect(inbound.simulator.state.messages(session: "slowco-main").isEmpty)
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func eventsAreAppliedOnceAndRepliesAreBoundedSoNoBotCanLoop() async throws {
        try await TestInbound.with(conversations: true) { inbound in
            let loop = try await inbound.addTenant("loopco")
            try await inbound.store.setBotSettings(BotSettings(
                officeHours: OfficeHours(timeZone: "Europe/Berlin", days: [:]), outOfHoursReply: "We are closed",
                outOfHoursCooldownSeconds: 3600, replyLimit: 3), of: loop)
            try await inbound.store.putBotRule(BotRule(id: "ping", keywords: ["PING"], reply: "PONG"), of: loop)
            let gus = "+14155550901"

            // The same event twice: one conversation message, one reply.
            let event = NormalizedEvent(
                id: "evt_twice", type: .messageReceived, tenant: loop, session: try SessionID("loopco-main"),
                provider: .simulator, occurredAt: Date(), receivedAt: Date(),
                message: .init(providerID: "in-1", from: gus, to: "+14155550100", type: "text", text: "PING"))
            try await inbound.scratch.connection.publish(event, to: "sb.events")
            try await inbound.scratch.connection.publish(event, to: "sb.events")
            let contact = try PhoneNumber(gus)
            #expect(try await eventually {
                let bot = try await inbound.store.pendingPublications(consumer: "bot", tenant: loop, eventID: "evt_twice")
                let inbox = try await inbound.store.pendingPublications(consumer: "inbox", tenant: loop, eventID: "evt_twice")
                return bot == [] && inbox == []
            })
            #expect(await eventually { accepted(inbound, "loopco-main", to: gus).count == 1 })
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await inbound.store.conversation(with: contact, of: loop)?.unread == 1)

            // Another bot answering every reply: at most the reply limit (3) in the window.
            for _ in 0..<8 {
                _ = try inbound.simulator.state.inbound(session: "loopco-main", from: gus, text: "ping")
            }
            // A contact writing while closed gets the out-of-hours reply once per cooldown.
            for text in ["are you open?", "hello?", "anyone?"] {
                _ = try inbound.simulator.state.inbound(session: "loopco-main", from: "+14155550902", text: text)
            }
            // The tenant's own number is never answered.
            _ = try inbound.simulator.state.inbound(session: "loopco-main", from: "+14155550100", text: "PING")
            var events: [NormalizedEvent] = []
            #expect(try await eventually {
                events += try await inbound.drainEvents()
                let received = events.filter { $0.type == .messageReceived }
                guard received.count == 12 + 2 else { return false }  // + the twice-published one
                // (The own number's message leaves no receipt: the bot does not even decide on it.)
                for event in received where event.message?.from != "+14155550100" {
                    guard try await inbound.store.pendingPublications(consumer: "bot", tenant: loop,
                                                                      eventID: event.id) == [] else { return false }
                }
                return true
            })
            try await Task.sleep(for: .seconds(1))
            #expect(accepted(inbound, "loopco-main", to: gus).map(\.text) == ["PONG", "PONG", "PONG"])
            #expect(accepted(inbound, "loopco-main", to: "+14155550902").map(\.text) == ["We are closed"])
            #expect(accepted(inbound, "loopco-main", to: "+14155550100").isEmpty)
            #expect(try await inbound.store.conversation(with: contact, of: loop)?.unread == 9)
        }
    }
}

/// A count shared with a request handler.
private final class Counter: Sendable {
    private let count = Mutex(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
