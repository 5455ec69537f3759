public import Foundation
public import SwitchboardCore
public import SwitchboardStore

/// Edit and replay: an outbound envelope patched (a JSON merge patch, RFC 7386),
/// checked by the same rules as `POST /v1/messages` (every broken field at once), sent
/// back to `sb.outbound` with confirm, and only then marked replayed.
public struct DeadLetterEditor: Sendable {
    /// Why an edit was refused or did not go out.
    public enum Failure: Error, Sendable {
        /// The dead letter is replayed or discarded.
        case notWaiting(ArchivedDeadLetter.State)
        /// Only outbound envelopes can be edited.
        case notAnEnvelope(String)
        /// The patched envelope breaks these rules.
        case invalid([EnvelopeProblem])
        case replay(ReplayError)
        case store(StoreError)
    }

    let store: any DeadLetterStore
    let sessions: any SessionStore
    let replayer: DeadLetterReplayer

    public init(store: any DeadLetterStore, sessions: any SessionStore, replayer: DeadLetterReplayer) {
        self.store = store
        self.sessions = sessions
        self.replayer = replayer
    }

    /// Patches, checks, replays and marks `letter`; returns the envelope sent and the
    /// dead letter as it now stands.
    public func edit(_ letter: ArchivedDeadLetter, patch: JSONValue) async throws(Failure)
        -> (envelope: OutboundEnvelope, letter: ArchivedDeadLetter)
    {
        guard letter.state == .archived else { throw .notWaiting(letter.state) }
        guard letter.originalExchange == replayer.outboundExchange else {
            throw .notAnEnvelope("it was not published to \(replayer.outboundExchange)")
        }
        guard case .object(let original)? = try? JSONDecoder().decode(JSONValue.self, from: letter.body) else {
            throw .notAnEnvelope("its body is not a JSON object")
        }
        guard case .object = patch else { throw .invalid([EnvelopeProblem(field: "patch", detail: "must be a JSON object")]) }
        // Typed fields are checked one by one (a placeholder stands in for a broken one),
        // so the rest still decodes and every broken field is reported at once.
        guard case .object(var fields) = JSONValue.object(original).merging(patch: patch) else {
            throw .invalid([EnvelopeProblem(field: "envelope", detail: "must be a JSON object")])
        }
        var problems: [EnvelopeProblem] = []
        let typed: [(String, String, (String) -> Bool)] = [
            ("to", "+10000000000", { (try? PhoneNumber($0)) != nil }),
            ("session", "placeholder", { (try? SessionID($0)) != nil }),
            ("tenant", letter.tenant, { (try? TenantID($0)) != nil }),
        ]
        for (field, placeholder, isValid) in typed {
            guard let value = fields[field], value != .null else { continue }
            guard let text = value.stringValue else {
                problems.append(EnvelopeProblem(field: field, detail: "must be a string"))
                fields[field] = .string(placeholder)
                continue
            }
            if !isValid(text) {
                let rule = field == "to" ? "is not E.164 (e.g. +14155550123)" : "is not a valid id (1–63 of a-z, 0-9 and '-')"
                problems.append(EnvelopeProblem(field: field, detail: "'\(text)' \(rule)"))
                fields[field] = .string(placeholder)
            }
        }
        let envelope = try decode(.object(fields))
        do { try envelope.validate(now: Date()) } catch { problems += error.problems }
        let broken = Set(problems.map(\.field))
        if !broken.contains("tenant"), envelope.tenant.rawValue != letter.tenant {
            problems.append(EnvelopeProblem(field: "tenant", detail: "must stay \(letter.tenant)"))
        }
        if let session = envelope.session, !broken.contains("session") {
            let found: Session?
            do { found = try await sessions.session(session) } catch { throw .store(error) }
            if found?.tenant != envelope.tenant {
                problems.append(EnvelopeProblem(field: "session", detail: "tenant \(letter.tenant) has no session \(session)"))
            }
        }
        guard problems.isEmpty else { throw .invalid(problems) }
        let body: Data
        do { body = try envelope.wireBody() } catch {
            throw .invalid([EnvelopeProblem(field: "envelope", detail: "cannot be encoded: \(error)")])
        }
        do { try await replayer.replay(letter, body: body) } catch { throw .replay(error) }
        do {
            _ = try await store.markReplayed(letter.id, at: Date())
            return (envelope, try await store.deadLetter(letter.id) ?? letter)
        } catch {
            throw .store(error)
        }
    }

    private func decode(_ value: JSONValue) throws(Failure) -> OutboundEnvelope {
        do {
            return try WireJSON.sharedDecoder.decode(OutboundEnvelope.self, from: JSONEncoder().encode(value))
        } catch let error as DecodingError {
            throw .invalid([EnvelopeProblem(field: Self.path(of: error), detail: Self.explain(error))])
        } catch {
            throw .invalid([EnvelopeProblem(field: "envelope", detail: "\(error)")])
        }
    }

    static func path(of error: DecodingError) -> String {
        let codingPath: [any CodingKey] = switch error {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context): context.codingPath
        case .keyNotFound(let key, let context): context.codingPath + [key]
        @unknown default: []
        }
        let text = codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        return text.isEmpty ? "envelope" : String(text.drop(while: { $0 == "." }))
    }

    static func explain(_ error: DecodingError) -> String {
        switch error {
        case .typeMismatch(let type, _): "must be \(type == String.self ? "a string" : "of type \(type)")"
        case .valueNotFound: "must not be null"
        case .keyNotFound: "is required"
        case .dataCorrupted(let context): context.debugDescription
        @unknown default: "\(error)"
        }
    }
}

extension JSONValue {
    /// RFC 7386: objects merge key by key, `null` removes a key, anything else replaces.
    public func merging(patch: JSONValue) -> JSONValue {
        guard case .object(let changes) = patch else { return patch }
        var result: [String: JSONValue] = if case .object(let object) = self { object } else { [:] }
        for (key, change) in changes {
            if case .null = change {
                result[key] = nil
            } else {
                result[key] = (result[key] ?? .null).merging(patch: change)
            }
        }
        return .object(result)
    }
}
