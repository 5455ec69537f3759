import Foundation
import SwitchboardStore
import Testing

@Suite("Where the store is: a SQLite path or a PostgreSQL URL")
struct StoreLocationTests {
    @Test func aPathIsSQLiteAndAPostgresURLIsParsed() throws {
        #expect(try StoreLocation(".local/switchboard.sqlite") == .sqlite(path: ".local/switchboard.sqlite"))
        guard case .postgres(let configuration) = try StoreLocation(
            "postgresql://sb:p%40ss@db.internal:6432/gateway?sslmode=require&schema=tenant_a&pool_size=24")
        else {
            Issue.record("not PostgreSQL")
            return
        }
        #expect(configuration.host == "db.internal")
        #expect(configuration.port == 6432)
        #expect(configuration.user == "sb")
        #expect(configuration.password == "p@ss")
        #expect(configuration.database == "gateway")
        #expect(configuration.tlsMode == "require")
        #expect(configuration.schema == "tenant_a")
        #expect(configuration.poolSize == 24)
        #expect(!configuration.redactedURL.contains("p@ss") && !configuration.redactedURL.contains("p%40ss"))
        // The full URL gives the same configuration back.
        #expect(try StoreLocation(configuration.url) == .postgres(configuration))
    }

    @Test(arguments: [
        "postgres://",                                           // no host
        "postgres://h/db?sslmode=verify-full",                   // a mode we do not offer
        "postgres://h/db?schema=a;drop",                         // not an identifier
        "postgres://h/db?schema=1abc",
        "postgres://h/db?pool_size=0",
        "postgres://h/db?application_name=x",                    // unknown parameter
    ])
    func aBrokenURLIsRefusedWithAReason(url: String) {
        #expect(throws: StoreError.self) { try StoreLocation(url) }
    }

    @Test func aScratchStoreIsAFileOrASchemaOfItsOwn() throws {
        let directory = URL(fileURLWithPath: "/tmp/sb-x")
        #expect(try StoreLocation.scratch(beside: nil, name: "run-1", directory: directory)
                == .sqlite(path: "/tmp/sb-x/run-1.sqlite"))
        guard case .postgres(let configuration) = try StoreLocation.scratch(
            beside: "postgres://u:p@127.0.0.1:55432/switchboard", name: "Run-1", directory: directory)
        else {
            Issue.record("not PostgreSQL")
            return
        }
        #expect(configuration.schema == "run_1")
    }
}
