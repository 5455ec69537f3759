import ArgumentParser
import Foundation
import SwitchboardBroker
import SwitchboardCore
import SwitchboardProviders
import SwitchboardRegistry
import SwitchboardStore

extension TenantCommand {
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a tenant: provision its queue, then record it.")

        @OptionGroup var amqp: AMQPOptions
        @OptionGroup var topology: TopologyOptions
        @OptionGroup var store: StoreOptions
        @OptionGroup var logging: LoggingOptions
        @Argument(help: "Tenant id (lower-case letters, digits, '-').") var id: String
        @Option(help: "Display name.") var name: String?
        @Option(help: "Messages per second per session.") var sessionRate = 1.0
        @Option(help: "Share of the session rate that bulk may use (0…1).") var bulkShare = 0.5
        @Option(help: "Ready messages the queue may hold before publishes are refused.") var backlogQuota: Int?

        func run() async throws {
            let tenant = Tenant(id: try TenantID(id), name: name ?? id,
                                limits: TenantLimits(sessionRate: sessionRate, bulkShare: bulkShare,
                                                     backlogQuota: backlogQuota))
            let store = try await self.store.open(logger: logging.makeLogger(label: "switchboard.registry"))
            try await withApplier(amqp, topology, logging, label: "switchboard.registry") { applier in
                _ = try await TenantRegistry(store: store, broker: applier).create(tenant)
                await applier.announcer(logger: logging.makeLogger(label: "switchboard.registry"))
                    .announce(ControlEvent(.tenantCreated, tenant: tenant.id))
            }
            print("created tenant \(id)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tenants.")

        @OptionGroup var store: StoreOptions
        @OptionGroup var logging: LoggingOptions

        func run() async throws {
            let store = try await self.store.open(logger: logging.makeLogger(label: "switchboard.registry"))
            for tenant in try await store.tenants() {
                let quota = tenant.limits.backlogQuota.map(String.init) ?? "none"
                print("\(tenant.id)\t\(tenant.name)\trate \(tenant.limits.sessionRate)/s\tbulk \(tenant.limits.bulkShare)\tquota \(quota)")
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a tenant with its sessions and keys; refuses while messages are queued unless --force.")

        @OptionGroup var amqp: AMQPOptions
        @OptionGroup var topology: TopologyOptions
        @OptionGroup var store: StoreOptions
        @OptionGroup var logging: LoggingOptions
        @Argument(help: "Tenant id.") var id: String
        @Flag(help: "Delete even if its queue holds messages (they are lost).") var force = false

        func run() async throws {
            let tenant = try TenantID(id)
            let store = try await self.store.open(logger: logging.makeLogger(label: "switchboard.registry"))
            try await withApplier(amqp, topology, logging, label: "switchboard.registry") { applier in
                try await TenantRegistry(store: store, broker: applier).delete(tenant, force: force)
                await applier.announcer(logger: logging.makeLogger(label: "switchboard.registry"))
                    .announce(ControlEvent(.tenantDeleted, tenant: tenant))
            }
            print("deleted tenant \(id)")
        }
    }
}

/// `switchboard session …`: a tenant's WhatsApp numbers.
struct SessionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "session", abstract: "Add or list sessions; their health.", subcommands: [Add.self, List.self, Health.self],
        aliases: ["sessions"])

    /// `switchboard sessions health`: what `GET /v1/health` shows, from the store.
    struct Health: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every session's state, last change and last send; service instances heard in the last minute.")

        @OptionGroup var store: StoreOptions
        @OptionGroup var logging: LoggingOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let store = try await self.store.open(logger: logging.makeLogger(label: "switchboard.store"))
            let sessions = try await store.sessionHealth()
            let instances = try await store.serviceInstances(seenSince: Date().addingTimeInterval(-60))
            func time(_ date: Date?) -> String { date.map(WireJSON.format) ?? "-" }
            if json {
                struct Output: Encodable {
                    let sessions: [[String: String]]
                    let instances: [[String: String]]
                }
                let output = Output(
                    sessions: sessions.map {
                        ["tenant": $0.tenant.rawValue, "session": $0.session.rawValue, "provider": $0.provider.rawValue,
                         "status": $0.status.rawValue, "status_changed_at": time($0.statusChangedAt),
                         "down_since": time($0.downSince), "last_sent_at": time($0.lastSentAt)]
                    },
                    instances: instances.map { beat, seen in
                        ["instance": beat.instance, "services": beat.services.joined(separator: ","),
                         "version": beat.version, "host": beat.host, "started_at": time(beat.startedAt),
                         "last_seen": time(seen)]
                    })
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                return print(String(decoding: try encoder.encode(output), as: UTF8.self))
            }
            print("SESSION\tTENANT\tPROVIDER\tSTATUS\tCHANGED\tDOWN SINCE\tLAST SENT")
            for session in sessions {
                print("\(session.session)\t\(session.tenant)\t\(session.provider)\t\(session.status.rawValue)\t"
                      + "\(time(session.statusChangedAt))\t\(time(session.downSince))\t\(time(session.lastSentAt))")
            }
            print("\nINSTANCE\tSERVICES\tVERSION\tSTARTED\tLAST SEEN")
            for (beat, seen) in instances {
                print("\(beat.instance)\t\(beat.services.joined(separator: ","))\t\(beat.version)\t"
                      + "\(time(beat.startedAt))\t\(time(seen))")
            }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a session; credentials are stored encrypted and never shown again.")

        @OptionGroup var amqp: AMQPOptions
        @OptionGroup var topology: TopologyOptions
        @OptionGroup var store: StoreOptions
        @OptionGroup var logging: LoggingOptions
        @Argument(help: "Session id (lower-case letters, digits, '-'), unique across tenants.") var id: String
        @Option(help: "Owning tenant.") var tenant: String
        @Option(help: "wasender, meta or simulator.") var provider: String
        @Option(help: "The number in E.164, e.g. +14155550123.") var phone: String
        @Option(name: .customLong("credential"), help: "A provider credential NAME=VALUE (repeatable).")
        var credentials: [String] = []
        @Option(help: "Webhook secret (else a random one is made and printed once).") var webhookSecret: String?
        @Flag(help: "Make it the tenant's primary session.") var primary = false
        @Option(help: "Its status until the provider reports one: connected, disconnected, … (a tenant is dispatched only while all its sessions are connected).")
        var status: String = "disconnected"

        func run() async throws {
            guard let provider = ProviderKind(rawValue: provider), ProviderRegistry.standard.provider(for: provider) != nil
            else {
                throw ValidationError("--provider must be one of \(ProviderRegistry.standard.kinds.map(\.rawValue))")
            }
            var pairs: [String: String] = [:]
            for credential in credentials {
                let parts = credential.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { throw ValidationError("--credential must be NAME=VALUE") }
                pairs[String(parts[0])] = String(parts[1])
            }
            let secret = webhookSecret ?? (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
            guard let status = SessionStatus(providerValue: status) else {
                throw ValidationError("--status must be one of \(SessionStatus.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let session = Session(id: try SessionID(id), tenant: try TenantID(tenant), provider: provider,
                                  phoneNumber: try PhoneNumber(phone), status: status, isPrimary: primary)
            let store = try await self.store.open(logger: logging.makeLogger(label: "switchboard.registry"))
            try await store.addSession(session, secrets: SessionSecrets(credentials: pairs, webhookSecret: secret))
            print("added session \(id) for tenant \(tenant)")
            // Running services follow at once; without a broker they see it at their next full reload.
            do {
                try await withApplier(amqp, topology, logging, label: "switchboard.registry") { applier in
                    await applier.announcer(logger: logging.makeLogger(label: "switchboard.registry"))
                        .announce(ControlEvent(.sessionChanged, tenant: session.tenant, session: session.id))
                }
            } catch {
                print("note: not announced on the broker (\(error)); running services see it within a minute")
            }
            if webhookSecret == nil { print("webhook secret (shown once): \(secret)") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a tenant's sessions.")

        @OptionGroup var store: StoreOptions
        @OptionGroup var logging: LoggingOptions
        @Option(help: "Tenant id.") var tenant: String

        func run() async throws {
            let store = try await self.store.open(logger: logging.makeLogger(label: "switchboard.registry"))
            for session in try await store.sessions(of: try TenantID(tenant)) {
                print("\(session.id)\t\(session.provider.rawValue)\t\(session.phoneNumber)\t\(session.status.rawValue)"
                    + (session.isPrimary ? "\tprimary" : ""))
            }
        }
    }
}

/// `switchboard key …`: API keys.
struct KeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key", abstract: "Create API keys.", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an API key for one tenant or for admin; it is printed once and stored hashed.")

        @OptionGroup var store: StoreOptions
        @OptionGroup var logging: LoggingOptions
        @Option(help: "The tenant the key speaks for.") var tenant: String?
        @Flag(help: "An admin key (tenants, sessions, keys).") var admin = false
        @Option(help: "What the key is for.") var label: String?

        func validate() throws {
            guard admin != (tenant != nil) else { throw ValidationError("give exactly one of --tenant or --admin") }
        }

        func run() async throws {
            let scope: APIKeyScope = try admin ? .admin : .tenant(TenantID(tenant ?? ""))
            let store = try await self.store.open(logger: logging.makeLogger(label: "switchboard.registry"))
            let issued = try await store.createKey(scope: scope, label: label)
            print("api key \(issued.key.id) for \(scope) (shown once):")
            print(issued.token)
        }
    }
}
