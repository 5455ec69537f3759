public import AsyncHTTPClient
public import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// A tenant as an import file lists it (CSV rows or a JSON line), in the shape of one
/// item of `POST /v1/tenants/batch`: the api validates it, the file only carries it.
public struct ImportedTenant: Codable, Sendable, Hashable {
    public var id: String
    public var name: String
    public var sessionRate: Double?
    public var bulkShare: Double?
    public var backlogQuota: Int?
    public var sessions: [ImportedSession]

    enum CodingKeys: String, CodingKey {
        case id, name, sessions
        case sessionRate = "session_rate", bulkShare = "bulk_share", backlogQuota = "backlog_quota"
    }

    public init(id: String, name: String, sessionRate: Double? = nil, bulkShare: Double? = nil,
                backlogQuota: Int? = nil, sessions: [ImportedSession] = []) {
        self.id = id
        self.name = name
        self.sessionRate = sessionRate
        self.bulkShare = bulkShare
        self.backlogQuota = backlogQuota
        self.sessions = sessions
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        name = try container.decode(String.self, forKey: .name)
        sessionRate = try container.decodeIfPresent(Double.self, forKey: .sessionRate)
        bulkShare = try container.decodeIfPresent(Double.self, forKey: .bulkShare)
        backlogQuota = try container.decodeIfPresent(Int.self, forKey: .backlogQuota)
        sessions = try container.decodeIfPresent([ImportedSession].self, forKey: .sessions) ?? []
    }
}

/// A session of an imported tenant.
public struct ImportedSession: Codable, Sendable, Hashable {
    public var id: String
    public var provider: String
    public var phoneNumber: String
    public var status: String?
    public var primary: Bool?
    public var webhookSecret: String?
    public var credentials: [String: String]?

    enum CodingKeys: String, CodingKey {
        case id, provider, status, primary, credentials
        case phoneNumber = "phone_number", webhookSecret = "webhook_secret"
    }

    public init(id: String, provider: String, phoneNumber: String, status: String? = nil, primary: Bool? = nil,
                webhookSecret: String? = nil, credentials: [String: String]? = nil) {
        self.id = id
        self.provider = provider
        self.phoneNumber = phoneNumber
        self.status = status
        self.primary = primary
        self.webhookSecret = webhookSecret
        self.credentials = credentials
    }
}

/// Reads an import file: JSON lines (one batch item per line) or CSV with a header row.
///
/// CSV columns: `id`, `name` (required), `session_rate`, `bulk_share`, `backlog_quota`,
/// and for a session `session_id`, `provider`, `phone_number`, `status`, `primary`,
/// `webhook_secret`, `credential.<name>` (one column per credential). Consecutive rows
/// with the same `id` add sessions to one tenant; a row without `session_id` has none.
public enum TenantImportFile {
    public enum Format: String, Sendable, CaseIterable {
        case csv, jsonl

        /// By the file's extension (`.csv`; `.jsonl`, `.ndjson`, `.json`).
        public init?(path: String) {
            switch (path as NSString).pathExtension.lowercased() {
            case "csv": self = .csv
            case "jsonl", "ndjson", "json": self = .jsonl
            default: return nil
            }
        }
    }

    /// A line of the file that cannot be read.
    public struct Malformed: Error, CustomStringConvertible {
        public let line: Int
        public let reason: String
        public var description: String { "line \(line): \(reason)" }
    }

    public static func parse(_ text: String, format: Format) throws(Malformed) -> [ImportedTenant] {
        switch format {
        case .jsonl: try parseJSONLines(text)
        case .csv: try parseCSV(text)
        }
    }

    static func parseJSONLines(_ text: String) throws(Malformed) -> [ImportedTenant] {
        var tenants: [ImportedTenant] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !trimmed.isEmpty else { continue }
            do {
                tenants.append(try JSONDecoder().decode(ImportedTenant.self, from: Data(trimmed.utf8)))
            } catch {
                throw Malformed(line: index + 1, reason: "not a tenant as JSON: \(error)")
            }
        }
        return tenants
    }

    static let tenantColumns: Set<String> = ["id", "name", "session_rate", "bulk_share", "backlog_quota"]
    static let sessionColumns: Set<String> = ["session_id", "provider", "phone_number", "status", "primary",
                                              "webhook_secret"]

    static func parseCSV(_ text: String) throws(Malformed) -> [ImportedTenant] {
        let rows = try CSV.rows(text)
        guard let header = rows.first?.fields.map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) else {
            return []
        }
        for column in header where !tenantColumns.contains(column) && !sessionColumns.contains(column)
            && !column.hasPrefix("credential.")
        {
            throw Malformed(line: 1, reason: "unknown column '\(column)'")
        }
        for required in ["id", "name"] where !header.contains(required) {
            throw Malformed(line: 1, reason: "the header has no '\(required)' column")
        }
        var tenants: [ImportedTenant] = []
        for row in rows.dropFirst() {
            if row.fields.allSatisfy({ $0.isEmpty }) { continue }
            guard row.fields.count == header.count else {
                throw Malformed(line: row.line, reason: "\(row.fields.count) fields, the header has \(header.count)")
            }
            var values: [String: String] = [:]
            for (column, value) in zip(header, row.fields) where !value.isEmpty { values[column] = value }
            guard let id = values["id"], let name = values["name"] else {
                throw Malformed(line: row.line, reason: "id and name are required")
            }
            func number<T: LosslessStringConvertible>(_ column: String, as: T.Type) throws(Malformed) -> T? {
                guard let text = values[column] else { return nil }
                guard let value = T(text) else { throw Malformed(line: row.line, reason: "\(column) '\(text)' is not a number") }
                return value
            }
            var tenant = ImportedTenant(id: id, name: name, sessionRate: try number("session_rate", as: Double.self),
                                        bulkShare: try number("bulk_share", as: Double.self),
                                        backlogQuota: try number("backlog_quota", as: Int.self))
            if let sessionID = values["session_id"] {
                guard let provider = values["provider"], let phone = values["phone_number"] else {
                    throw Malformed(line: row.line, reason: "a session needs provider and phone_number")
                }
                var credentials: [String: String] = [:]
                for (column, value) in values where column.hasPrefix("credential.") {
                    credentials[String(column.dropFirst("credential.".count))] = value
                }
                let primary: Bool? = switch values["primary"]?.lowercased() {
                case nil: nil
                case "true", "yes", "1": true
                case "false", "no", "0": false
                case let other?: throw Malformed(line: row.line, reason: "primary '\(other)' is not true or false")
                }
                tenant.sessions = [ImportedSession(
                    id: sessionID, provider: provider, phoneNumber: phone, status: values["status"], primary: primary,
                    webhookSecret: values["webhook_secret"], credentials: credentials.isEmpty ? nil : credentials)]
            }
            if let last = tenants.last, last.id == tenant.id {
                tenants[tenants.count - 1].sessions += tenant.sessions
            } else {
                tenants.append(tenant)
            }
        }
        return tenants
    }
}

/// RFC 4180 CSV: fields separated by commas, optionally quoted (a quote doubled inside),
/// quoted fields may hold commas and line breaks; CRLF or LF line ends.
enum CSV {
    struct Row {
        /// The file line the row starts on (1-based).
        let line: Int
        let fields: [String]
    }

    static func rows(_ text: String) throws(TenantImportFile.Malformed) -> [Row] {
        var rows: [Row] = []
        var fields: [String] = []
        var field = ""
        var quoted = false
        var atFieldStart = true
        var line = 1
        var rowLine = 1
        var characters = Array(text.unicodeScalars)[...]
        func endField() {
            fields.append(field)
            field = ""
            atFieldStart = true
        }
        while let character = characters.popFirst() {
            if quoted {
                if character == "\"" {
                    if characters.first == "\"" {
                        characters.removeFirst()
                        field.unicodeScalars.append("\"")
                    } else {
                        quoted = false
                    }
                } else {
                    if character == "\n" { line += 1 }
                    field.unicodeScalars.append(character)
                }
                continue
            }
            switch character {
            case "\"" where atFieldStart:
                quoted = true
                atFieldStart = false
            case ",":
                endField()
            case "\r" where characters.first == "\n":
                continue
            case "\n":
                endField()
                rows.append(Row(line: rowLine, fields: fields))
                fields = []
                line += 1
                rowLine = line
            default:
                atFieldStart = false
                field.unicodeScalars.append(character)
            }
        }
        if quoted { throw TenantImportFile.Malformed(line: rowLine, reason: "a quoted field is not closed") }
        if !field.isEmpty || !fields.isEmpty {
            endField()
            rows.append(Row(line: rowLine, fields: fields))
        }
        return rows
    }
}

/// Sends imported tenants to a running api in batches (`POST /v1/tenants/batch`). Run
/// again over the same file, it skips the tenants that exist, so an interrupted import
/// resumes where it stopped.
public struct TenantImporter: Sendable {
    /// Where the import stands after each batch.
    public struct Progress: Sendable, Hashable {
        public var total: Int
        public var created = 0
        /// Tenants that existed already (left as they were).
        public var skipped = 0
        public var failed = 0
        public var done: Int { created + skipped + failed }
    }

    /// An item the api refused, with its problem's detail.
    public struct Failure: Sendable, Hashable {
        public let tenant: String
        public let status: Int
        public let reason: String
    }

    /// Why the import stopped before the end.
    public struct Stopped: Error, CustomStringConvertible {
        public let description: String
    }

    public let baseURL: String
    public let key: String
    public let batchSize: Int
    let client: HTTPClient

    public init(baseURL: String, key: String, batchSize: Int = 500, client: HTTPClient = .shared) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.key = key
        self.batchSize = max(1, min(batchSize, 1_000))
        self.client = client
    }

    /// Imports every tenant; `progress` is called after each batch. A batch the api does
    /// not answer is tried three times, then the import stops (run it again to resume).
    public func run(_ tenants: [ImportedTenant], progress: (Progress) -> Void = { _ in }) async throws(Stopped)
        -> (Progress, [Failure])
    {
        var state = Progress(total: tenants.count)
        var failures: [Failure] = []
        for start in stride(from: 0, to: tenants.count, by: batchSize) {
            let batch = Array(tenants[start..<min(start + batchSize, tenants.count)])
            let results = try await send(batch)
            for result in results {
                switch result.status {
                case 201: state.created += 1
                case 409 where result.problem?.type == "urn:switchboard:problem:tenant-exists": state.skipped += 1
                default:
                    state.failed += 1
                    failures.append(Failure(tenant: result.id, status: result.status,
                                            reason: result.problem?.detail ?? result.problem?.title ?? "status \(result.status)"))
                }
            }
            progress(state)
        }
        return (state, failures)
    }

    struct Answer: Decodable {
        let results: [Result]
        struct Result: Decodable {
            let id: String
            let status: Int
            let problem: Problem?
        }
        struct Problem: Decodable {
            let type: String
            let title: String?
            let detail: String?
        }
    }

    private func send(_ batch: [ImportedTenant]) async throws(Stopped) -> [Answer.Result] {
        struct Body: Encodable { let tenants: [ImportedTenant] }
        let body: Data
        do { body = try JSONEncoder().encode(Body(tenants: batch)) } catch {
            throw Stopped(description: "cannot encode a batch: \(error)")
        }
        var lastError = ""
        for attempt in 1...3 {
            do {
                var request = HTTPClientRequest(url: baseURL + "/v1/tenants/batch")
                request.method = .POST
                request.headers.add(name: "Authorization", value: "Bearer \(key)")
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(data: body))
                let response = try await client.execute(request, timeout: .seconds(300))
                let answer = Data(buffer: try await response.body.collect(upTo: 64 << 20))
                if response.status == .ok, let decoded = try? JSONDecoder().decode(Answer.self, from: answer),
                   decoded.results.count == batch.count
                {
                    return decoded.results
                }
                lastError = "the api answered \(response.status.code): \(String(decoding: answer.prefix(500), as: UTF8.self))"
                // A 4xx for the batch as a whole will not change by trying again.
                if (400..<500).contains(Int(response.status.code)) { break }
            } catch {
                lastError = "\(error)"
            }
            try? await Task.sleep(for: .seconds(attempt))
        }
        throw Stopped(description: "a batch starting at tenant \(batch.first?.id ?? "?") failed: \(lastError); "
            + "run the import again to resume (tenants created so far are skipped)")
    }
}
