public import SwitchboardCore

/// Why a store operation failed.
public enum StoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No such tenant, session or key.
    case notFound(String)
    /// It exists already, or another row already holds what must be unique.
    case conflict(String)
    /// The input breaks a rule of the registry.
    case invalid(RegistryError)
    /// The master key is missing or wrong, or a secret cannot be opened.
    case secrets(String)
    /// The database failed (I/O, corruption, a full disk, the server unreachable).
    case database(String)

    public var description: String {
        switch self {
        case .notFound(let what): "\(what) not found"
        case .conflict(let what): "\(what) already exists"
        case .invalid(let error): "\(error)"
        case .secrets(let why): "secrets: \(why)"
        case .database(let why): "database: \(why)"
        }
    }
}
