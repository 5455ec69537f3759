import ArgumentParser
import Foundation
import SwitchboardAMQP
import SwitchboardCore
import SwitchboardDeadLetters
import SwitchboardStore

/// `switchboard dead-letters …`: the archive from a shell, on the store and the broker
/// directly (no API key needed; actions are audited as `cli:<user>`). Reads print tables,
/// or JSON with `--json`.
struct DeadLettersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dead-letters", abstract: "Inspect, group, replay, edit, discard and restore dead letters.",
        subcommands: [List.self, Groups.self, Show.self, Replay.self, Edit.self, Discard.self, Restore.self])

    /// The filter options every command that selects dead letters shares.
    struct FilterOptions: ParsableArguments {
        @Option(help: "Tenant.") var tenant: String?
        @Option(help: "Reason (expired, unknown-session, invalid, unroutable, a provider's code, …).") var reason: String?
        @Option(help: "Error code (sb-error-code).") var code: String?
        @Option(help: "Session.") var session: String?
        @Option(help: "Provider.") var provider: String?
        @Option(help: "Archived at or after (RFC 3339).") var since: String?
        @Option(help: "Archived before (RFC 3339).") var until: String?

        var isEmpty: Bool { [tenant, reason, code, session, provider, since, until].allSatisfy { $0 == nil } }

        func filter() throws -> DeadLetterFilter {
            func time(_ text: String?, _ name: String) throws -> Date? {
                guard let text else { return nil }
                guard let date = WireJSON.parseDate(text) else { throw ValidationError("--\(name) must be RFC 3339") }
                return date
            }
            return DeadLetterFilter(tenant: tenant, reason: reason, errorCode: code, session: session, provider: provider,
                                    since: try time(since, "since"), until: try time(until, "until"))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Dead letters, newest first.")
        @OptionGroup var store: StoreOptions
        @OptionGroup var logging: LoggingOptions
        @OptionGroup var filter: FilterOptions
        @Option(help: "archived (default), replayed, discarded or all.") var state = "archived"
        @Option(help: "At most this many.") var limit = 50
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            var selection = try filter.filter()
            if state != "all" {
                guard let value = ArchivedDeadLetter.State(rawValue: state) else {
                    throw ValidationError("--state must be archived, replayed, discarded or all")
                }
                selection.states = [value]
            } else {
                selection.states = Set(ArchivedDeadLetter.State.allCases)
            }
            let letters = try await openStore(store, logging).deadLetters(matching: selection, after: nil, limit: limit)
            if json { return try printJSON(letters.map(DeadLetterSummary.init)) }
            printTable(["id", "tenant", "state", "reason", "code", "session", "message", "archived"], letters.map {
                [$0.id, $0.tenant, $0.state.rawValue, $0.reason, $0.errorCode ?? "-", $0.session ?? "-",
                 $0.messageID ?? "-", WireJSON.format($0.archivedAt)]
            })
        }
    }

    struct Groups: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Dead letters waiting, grouped per tenant.")
        @OptionGroup var store: StoreOptions
        @OptionGroup var logging: LoggingOptions
        @Option(help: "Tenant (else every tenant).") var tenant: String?
        @Option(help: "reason (default), session or provider.") var by = "reason"
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            guard let grouping = DeadLetterGrouping(rawValue: by) else {
                throw ValidationError("--by must be reason, session or provider")
            }
            let groups = try await openStore(store, logging).deadLetterGroups(tenant: tenant, by: grouping,
                                                                               includeEmpty: false)
            if json {
                return try printJSON(groups.map { group -> [String: JSONValue] in
                    var object: [String: JSONValue] = ["tenant": .string(group.tenant), "count": .integer(Int64(group.count)),
                                                       "total": .integer(Int64(group.total)),
                                                       "first_seen": .string(WireJSON.format(group.firstSeen)),
                                                       "last_seen": .string(WireJSON.format(group.lastSeen))]
                    object["reason"] = group.reason.map(JSONValue.string)
                    object["error_code"] = group.errorCode.map(JSONValue.string)
                    object["session"] = group.session.map(JSONValue.string)
                    object["provider"] = group.provider.map(JSONValue.string)
                    return object
                })
            }
            printTable(["tenant", by == "reason" ? "reason" : by, "code", "waiting", "total", "last seen"], groups.map {
                [$0.tenant, $0.reason ?? $0.session ?? $0.provider ?? "-", $0.errorCode ?? "-", "\($0.count)",
                 "\($0.total)", WireJSON.format($0.lastSeen)]
            })
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One dead letter: why, headers, body.")
        @OptionGroup var store: StoreOptions
        @OptionGroup var logging: LoggingOptions
        @Argument(help: "Dead letter id.") var id: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            guard let letter = try await openStore(store, logging).deadLetter(id) else {
                throw ValidationError("no dead letter \(id)")
            }
            // The api's answer for `GET /v1/dead-letters/{id}`, the same type encoded the same way.
            let detail = try WireJSON.encoder(sortedKeys: true).encode(DeadLetterDetail(letter))
            if json { return print(String(decoding: detail, as: UTF8.self)) }
            guard case .object(var object) = try JSONDecoder().decode(JSONValue.self, from: detail) else { return }
            if case .object(let facts)? = object.removeValue(forKey: "dead_letter") { object.merge(facts) { $1 } }
            let structured = ["body", "headers", "properties", "death_history"]
            for key in object.keys.sorted() where !structured.contains(key) && key != "body_base64" {
                if case .string(let text)? = object[key] { print("\(key): \(text)") } else if let value = object[key] {
                    print("\(key): \(String(decoding: try JSONEncoder().encode(value), as: UTF8.self))")
                }
            }
            for key in structured.dropFirst() {
                print("\(key): \(String(decoding: try prettyJSON(object[key] ?? .null), as: UTF8.self))")
            }
        }
    }

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replay dead letters (ids or a filter): republished with confirm, then marked, with progress.")
        @OptionGroup var amqp: AMQPOptions
        @OptionGroup var topology: TopologyOptions
        @OptionGroup var store: StoreOptions
        @OptionGroup var logging: LoggingOptions
        @OptionGroup var filter: FilterOptions
        @Argument(help: "Dead letter ids (else --tenant/--reason/… select).") var ids: [String] = []
        @Option(name: .customLong("to-session"), help: "Send through this session of the tenant instead (a redirect).")
        var toSession: String?

        func run() async throws {
            guard ids.isEmpty != filter.isEmpty else {
                throw ValidationError("name dead letter ids or a filter (--tenant, --reason, …), not both")
            }
            let store = try await openStore(self.store, logging)
            let actor = cliActor
            let now = Date()
            let job: ReplayJob
            if ids.isEmpty {
                job = try await store.createReplayJob(matching: try filter.filter(), session: toSession, actor: actor, at: now)
            } else {
                let created = try await store.createReplayJob(ids: ids, tenant: nil, session: toSession, actor: actor, at: now)
                job = created.job
                for id in ids where created.outcomes[id] != .accepted {
                    FileHandle.standardError.write(Data("\(id): \(created.outcomes[id]?.rawValue ?? "not-found")\n".utf8))
                }
            }
            try await store.recordAudit(AuditEntry(at: now, actorID: actor, actorLabel: nil, tenant: filter.tenant,
                                                   action: "dead-letters.replay",
                                                   target: #"{"job":"\#(job.id)"}"#, count: job.total))
            guard job.total > 0 else { return print("nothing to replay") }
            // This command runs the job itself (the dead-letters service would too): it
            // claims it first, so the two never replay the same job at once.
            let logger = logging.makeLogger(label: "switchboard.dead-letters")
            let connection = try await AMQPConnection.connect(try amqp.configuration(connectionName: "switchboard-dead-letters"),
                                                              logger: logger)
            let runner = ReplayJobRunner(store: store, replayer: DeadLetterReplayer(publisher: connection,
                                                                                     roles: try topology.load().roles),
                                         logger: logger)
            guard let claimed = try await store.claimReplayJob(job.id, leaseUntil: runner.leaseEnd) else {
                await connection.close()
                return print("job \(job.id): \(job.total) dead letters, taken by the dead-letters service")
            }
            let outcome: Result<ReplayJob, StoreError>
            do throws(StoreError) {
                outcome = .success(try await runner.run(claimed) { progress in
                let done = progress.replayed + progress.failed
                let width = 30
                let filled = progress.total == 0 ? width : done * width / progress.total
                FileHandle.standardError.write(Data(
                    "\r[\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] \(done)/\(progress.total)".utf8))
                })
            } catch {
                outcome = .failure(error)
            }
            FileHandle.standardError.write(Data("\n".utf8))
            await connection.close()
            let final = try outcome.get()
            print("job \(final.id): \(final.replayed) replayed, \(final.failed) could not be, \(final.remaining) left")
            if final.remaining > 0 { throw ExitCode(1) }
        }
    }

    struct Edit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Patch a dead envelope (JSON merge patch), check it like POST /v1/messages, and replay it.")
        @OptionGroup var amqp: AMQPOptions
        @OptionGroup var topology: TopologyOptions
        @OptionGroup var store: StoreOptions
        @OptionGroup var logging: LoggingOptions
        @Argument(help: "Dead letter id.") var id: String
        @Option(help: #"The patch, e.g. '{"to":"+14155550123"}' (null removes a field)."#) var patch: String

        func run() async throws {
            guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(patch.utf8)) else {
                throw ValidationError("--patch must be JSON")
            }
            let store = try await openStore(self.store, logging)
            guard let letter = try await store.deadLetter(id) else { throw ValidationError("no dead letter \(id)") }
            let logger = logging.makeLogger(label: "switchboard.dead-letters")
            let connection = try await AMQPConnection.connect(try amqp.configuration(connectionName: "switchboard-dead-letters"),
                                                              logger: logger)
            let editor = DeadLetterEditor(store: store, sessions: store,
                                          replayer: DeadLetterReplayer(publisher: connection, roles: try topology.load().roles))
            let edited: (envelope: OutboundEnvelope, letter: ArchivedDeadLetter)
            do {
                edited = try await editor.edit(letter, patch: value)
            } catch {
                await connection.close()
                if case .invalid(let problems) = error {
                    for problem in problems { FileHandle.standardError.write(Data("\(problem)\n".utf8)) }
                    throw ExitCode(1)
                }
                throw ValidationError("\(error)")
            }
            await connection.close()
            try await store.recordAudit(AuditEntry(at: Date(), actorID: cliActor, actorLabel: nil, tenant: letter.tenant,
                                                   action: "dead-letters.edit", target: #"{"id":"\#(id)"}"#, count: 1))
            print("replayed \(id) as message \(edited.envelope.id)")
        }
    }

    struct Discard: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Hide dead letters (ids or a filter); kept until the retention ends.")
        @OptionGroup var store: StoreOptions
        @OptionGroup var logging: LoggingOptions
        @OptionGroup var filter: FilterOptions
        @Argument(help: "Dead letter ids (else --tenant/--reason/… select).") var ids: [String] = []

        func run() async throws {
            guard ids.isEmpty != filter.isEmpty else { throw ValidationError("name dead letter ids or a filter, not both") }
            let store = try await openStore(self.store, logging)
            let count: Int
            if ids.isEmpty {
                count = try await store.discard(matching: try filter.filter(), at: Date())
            } else {
                let outcomes = try await store.setDiscarded(ids, true, tenant: nil, at: Date())
                count = outcomes.values.filter { $0 == .accepted }.count
                for id in ids where outcomes[id] != .accepted { print("\(id): \(outcomes[id]?.rawValue ?? "not-found")") }
            }
            try await store.recordAudit(AuditEntry(at: Date(), actorID: cliActor, actorLabel: nil, tenant: filter.tenant,
                                                   action: "dead-letters.discard", target: "{}", count: count))
            print("discarded \(count)")
        }
    }

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Bring discarded dead letters back.")
        @OptionGroup var store: StoreOptions
        @OptionGroup var logging: LoggingOptions
        @Argument(help: "Dead letter ids.") var ids: [String]

        func run() async throws {
            let store = try await openStore(self.store, logging)
            let outcomes = try await store.setDiscarded(ids, false, tenant: nil, at: Date())
            let count = outcomes.values.filter { $0 == .accepted }.count
            for id in ids where outcomes[id] != .accepted { print("\(id): \(outcomes[id]?.rawValue ?? "not-found")") }
            try await store.recordAudit(AuditEntry(at: Date(), actorID: cliActor, actorLabel: nil, tenant: nil,
                                                   action: "dead-letters.restore", target: "{}", count: count))
            print("restored \(count)")
        }
    }
}

/// Who the audit log names for an action taken from this shell.
private var cliActor: String { "cli:\(ProcessInfo.processInfo.environment["USER"] ?? "unknown")" }

private func openStore(_ options: StoreOptions, _ logging: LoggingOptions) async throws -> any GatewayStore {
    try await options.open(logger: logging.makeLogger(label: "switchboard.store"))
}

/// Indented JSON, times as the api writes them.
private func prettyJSON<T: Encodable>(_ value: T) throws -> Data {
    let encoder = WireJSON.encoder(sortedKeys: true)
    encoder.outputFormatting.insert(.prettyPrinted)
    return try encoder.encode(value)
}

private func printJSON<T: Encodable>(_ value: T) throws {
    print(String(decoding: try prettyJSON(value), as: UTF8.self))
}

/// Columns padded to their widest cell.
private func printTable(_ header: [String], _ rows: [[String]]) {
    let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
    for row in [header] + rows {
        print(row.indices.map { $0 == row.count - 1 ? row[$0] : row[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
            .joined(separator: "  "))
    }
}
