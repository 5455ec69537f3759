import Foundation
import GRDB
@testable import SwitchboardStore
import SwitchboardCore
import Testing

@Suite("Migrations")
struct MigrationTests {
    /// v5 rebuilds `sessions` without the provider CHECK: rows written under v4 survive,
    /// and a provider the v1 schema never heard of is accepted.
    @Test func v5DropsTheProviderCheckAndKeepsEverySession() async throws {
        let temporary = try TemporaryStore()
        defer { temporary.remove() }
        let v4 = try DatabaseQueue(path: temporary.path)
        try SQLiteStore.migrator.migrate(v4, upTo: "v4: contacts, conversations, bot, consumer receipts")
        try await v4.write { db in
            try db.execute(sql: "INSERT INTO tenants (id, name, session_rate, bulk_share, created_at) VALUES ('acme', 'Acme', 5, 0.5, CURRENT_TIMESTAMP)")
            try db.execute(sql: """
                INSERT INTO sessions (id, tenant_id, provider, phone_number, status, is_primary, sealed_secrets, created_at)
                VALUES ('acme-main', 'acme', 'wasender', '+14155550100', 'connected', 1, x'00', CURRENT_TIMESTAMP)
                """)
            #expect(throws: DatabaseError.self) {
                try db.execute(sql: """
                    INSERT INTO sessions (id, tenant_id, provider, phone_number, status, is_primary, sealed_secrets, created_at)
                    VALUES ('acme-new', 'acme', 'newcomer', '+14155550101', 'connected', 0, x'00', CURRENT_TIMESTAMP)
                    """)
            }
        }
        try v4.close()

        let store = try temporary.open()  // runs v5
        let sessions = try await store.sessions(of: try TenantID("acme"))
        #expect(sessions.map(\.id.rawValue) == ["acme-main"])
        #expect(sessions.first?.isPrimary == true)
        let latest = try DatabaseQueue(path: temporary.path)
        try await latest.write { db in
            try db.execute(sql: """
                INSERT INTO sessions (id, tenant_id, provider, phone_number, status, is_primary, sealed_secrets, created_at)
                VALUES ('acme-new', 'acme', 'newcomer', '+14155550101', 'connected', 0, x'00', CURRENT_TIMESTAMP)
                """)
            // Still one primary per tenant.
            #expect(throws: DatabaseError.self) {
                try db.execute(sql: "UPDATE sessions SET is_primary = 1 WHERE id = 'acme-new'")
            }
        }
        try latest.close()
    }
}
