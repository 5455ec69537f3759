import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import SwitchboardAMQP
import SwitchboardBroker
import SwitchboardCore

/// `switchboard send`: one text message, through the REST API (as a publisher without
/// AMQP would) or straight onto `sb.outbound` (as an AMQP publisher would).
struct SendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send",
        abstract: "Send one text message through the API or over AMQP.")

    enum Route: String, ExpressibleByArgument, CaseIterable {
        case api, amqp
    }

    @OptionGroup var amqp: AMQPOptions
    @OptionGroup var topology: TopologyOptions
    @OptionGroup var logging: LoggingOptions
    @Option(help: "api (POST /v1/messages) or amqp (publish to sb.outbound with confirm).") var via: Route = .api
    @Option(help: "The api's URL (else SWITCHBOARD_API_URL, else \(Settings.Default.apiURL)).") var apiURL: String?
    @Option(help: "API key (else SWITCHBOARD_API_KEY).") var key: String?
    @Option(help: "Tenant id (required over AMQP and with an admin key).") var tenant: String?
    @Option(help: "Session id (default: the tenant's primary).") var session: String?
    @Option(help: "Recipient, E.164.") var to: String
    @Option(help: "The text.") var text: String
    @Option(name: .customLong("class"), help: "transactional or bulk.") var messageClass: String = "transactional"
    @Option(help: "Message id, also the idempotency key (default: a new ULID).") var id: String?
    @Option(help: "Campaign name.") var campaign: String?
    @Option(help: "Do not send after this many seconds.") var expiresIn: Int?
    @Option(help: "Over AMQP: publish this many messages (texts numbered '<text> 0', '<text> 1', …; a new id each).")
    var count = 1

    func run() async throws {
        guard let messageClass = MessageClass(rawValue: messageClass) else {
            throw ValidationError("--class must be transactional or bulk")
        }
        let expiresAt = expiresIn.map { Date().addingTimeInterval(TimeInterval($0)) }
        switch via {
        case .api: try await sendThroughAPI(messageClass, expiresAt: expiresAt)
        case .amqp: try await publish(messageClass, expiresAt: expiresAt)
        }
    }

    private func sendThroughAPI(_ messageClass: MessageClass, expiresAt: Date?) async throws {
        let settings = Settings()
        guard let key = key ?? settings.environment[Settings.Key.apiKey.rawValue] else {
            throw ValidationError("an API key is needed: --key or SWITCHBOARD_API_KEY")
        }
        var body: [String: String] = ["to": to, "text": text, "class": messageClass.rawValue]
        body["tenant"] = tenant
        body["session"] = session
        body["id"] = id
        body["campaign"] = campaign
        body["expires_at"] = expiresAt.map(WireJSON.format)
        var request = HTTPClientRequest(url: settings.value(apiURL, .apiURL, default: Settings.Default.apiURL) + "/v1/messages")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(data: try JSONEncoder().encode(body)))
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            let response = try await client.execute(request, timeout: .seconds(30))
            let answer = try await response.body.collect(upTo: 1 << 20)
            try await client.shutdown()
            print(String(buffer: answer))
            guard response.status == .accepted else { throw ExitCode(1) }
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    private func publish(_ messageClass: MessageClass, expiresAt: Date?) async throws {
        guard let tenant else { throw ValidationError("--tenant is required over AMQP") }
        guard count >= 1, count == 1 || id == nil else { throw ValidationError("--count must be 1 or more, and 1 with --id") }
        let envelopes = try (0..<count).map { index in
            OutboundEnvelope(
                id: id ?? MessageID.make(), tenant: try TenantID(tenant), session: try session.map { try SessionID($0) },
                messageClass: messageClass, to: try PhoneNumber(to), text: count == 1 ? text : "\(text) \(index)",
                campaign: campaign, expiresAt: expiresAt)
        }
        let problems = envelopes[0].problems()
        guard problems.isEmpty else { throw ValidationError(problems.map(\.description).joined(separator: "; ")) }
        let exchange = try topology.load().roles.outbound
        let connection = try await AMQPConnection.connect(
            try amqp.configuration(connectionName: "switchboard-send"), logger: logging.makeLogger(label: "switchboard.send"))
        do {
            // Up to 64 publishes awaiting their confirms at a time.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, envelope) in envelopes.enumerated() {
                    if index >= 64 { try await group.next() }
                    group.addTask {
                        try await connection.publish(try envelope.wireBody(), exchange: exchange,
                                                     routingKey: envelope.routingKey, properties: envelope.amqpProperties())
                    }
                }
                try await group.waitForAll()
            }
            await connection.close()
        } catch {
            await connection.close()
            throw error
        }
        if count == 1 {
            print(#"{"id":"\#(envelopes[0].id)","tenant":"\#(tenant)","state":"queued"}"#)
        } else {
            print(#"{"published":\#(count),"tenant":"\#(tenant)","state":"queued"}"#)
        }
    }
}
