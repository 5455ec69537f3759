import Crypto
import Foundation
import SwitchboardApp
import SwitchboardStore

/// The store the integration tests run on: a SQLite file in the test's scratch
/// directory, or, when `SWITCHBOARD_TEST_DATABASE` names a `postgres://` server, a schema
/// of its own there (named after the directory), so the same suite runs on both.
enum TestStore {
    static let base: String? = ProcessInfo.processInfo.environment["SWITCHBOARD_TEST_DATABASE"].flatMap {
        $0.isEmpty ? nil : $0
    }

    static var backend: StoreBackend { base?.hasPrefix("postgres") == true ? .postgres : .sqlite }

    static func location(in directory: URL) throws -> StoreLocation {
        try StoreLocation.scratch(beside: base, name: directory.lastPathComponent, directory: directory)
    }

    /// The store in `directory` with a fresh master key.
    static func database(in directory: URL) throws -> GatewayConfiguration.Database {
        GatewayConfiguration.Database(location: try location(in: directory),
                                      secretBox: try SecretBox(masterKey: SymmetricKey(size: .bits256)))
    }

    /// Drops a PostgreSQL scratch schema (a file goes with its directory).
    static func discard(in directory: URL) async {
        try? await location(in: directory).discard(logger: TestBroker.logger)
    }
}
