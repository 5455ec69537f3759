import HTTPTypes
import SwitchboardCore
import SwitchboardHTTP
import SwitchboardStore

// MARK: The API's own problems

extension Problem {
    static func validation(_ errors: [EnvelopeProblem]) -> Problem {
        Problem(.unprocessableContent, kind: "validation", title: "The request breaks the rules of its fields",
                detail: errors.map(\.description).joined(separator: "; "), errors: errors)
    }

    static func validation(field: String, _ detail: String) -> Problem {
        validation([EnvelopeProblem(field: field, detail: detail)])
    }

    /// The same problem about a part of a larger body: its fields under `path`.
    func within(_ path: String) -> Problem {
        guard let errors else { return self }
        return .validation(errors.map { EnvelopeProblem(field: "\(path).\($0.field)", detail: $0.detail) })
    }

    static func unauthenticated(_ detail: String) -> Problem {
        Problem(.unauthorized, kind: "unauthenticated", title: "An API key is required", detail: detail,
                headers: [.wwwAuthenticate: #"Bearer realm="switchboard""#])
    }

    static var adminOnly: Problem {
        Problem(.forbidden, kind: "admin-only", title: "This route needs an admin key",
                detail: "tenant keys reach their own tenant's sessions, keys and messages only")
    }

    static func backlogFull(_ tenant: TenantID) -> Problem {
        Problem(.tooManyRequests, kind: "backlog-full", title: "The tenant's queue is at its backlog quota",
                detail: "the broker refused the message for tenant \(tenant); retry after the backlog drains",
                headers: [.retryAfter: "5"])
    }
}

extension Problem {
    /// A store failure as the caller sees it.
    init(_ error: StoreError) {
        switch error {
        case .notFound(let what): self = .notFound(what)
        case .conflict(let what): self = .conflict("exists", "\(what) already exists")
        case .invalid(let error): self = .validation(field: error.field, error.reason)
        case .secrets, .database: self = .storeUnavailable("\(error)")
        }
    }
}

/// Runs a store operation, turning its failure into problem details.
func storeCall<T>(_ body: () async throws(StoreError) -> T) async throws(Problem) -> T {
    do { return try await body() } catch { throw Problem(error) }
}

