import Crypto
import Logging
import Foundation
import SwitchboardCore
import SwitchboardProviders
import SwitchboardStore
import Testing

/// A store in a fresh SQLite file of its own, removed afterwards.
struct TemporaryStore {
    let directory: URL
    let key = SymmetricKey(size: .bits256)

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sbstore-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    var path: String { directory.appendingPathComponent("switchboard.sqlite").path }

    func open(key: SymmetricKey? = nil) throws -> SQLiteStore {
        try SQLiteStore(path: path, secretBox: try SecretBox(masterKey: key ?? self.key))
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}

extension StoreBackend {
    /// The backends the store suites run on: SQLite always; PostgreSQL when
    /// `SWITCHBOARD_TEST_POSTGRES` names a server (the test command starts one).
    static var underTest: [StoreBackend] { postgresForTests == nil ? [.sqlite] : [.sqlite, .postgres] }

    static var postgresForTests: String? {
        ProcessInfo.processInfo.environment["SWITCHBOARD_TEST_POSTGRES"].flatMap { $0.isEmpty ? nil : $0 }
    }
}

/// Runs `body` with a fresh store of `backend` (a new file, or a new schema on the test
/// server) holding the tenants acme and globex, and removes it afterwards.
func withStore(_ backend: StoreBackend, _ body: (any GatewayStore) async throws -> Void) async throws {
    let temporary = try TemporaryStore()
    defer { temporary.remove() }
    let location = try StoreLocation.scratch(beside: backend == .postgres ? StoreBackend.postgresForTests : nil,
                                             name: "sbstore_" + temporary.directory.lastPathComponent,
                                             directory: temporary.directory)
    let store = try await location.open(secretBox: try SecretBox(masterKey: temporary.key))
    do {
        #expect(store.backend == backend)
        for id in ["acme", "globex"] { try await store.createTenant(try tenant(id)) }
        try await body(store)
    } catch {
        await store.close()
        await location.discard(logger: Logger(label: "test"))
        throw error
    }
    await store.close()
    await location.discard(logger: Logger(label: "test"))
}

func tenant(_ id: String, quota: Int? = nil) throws -> Tenant {
    Tenant(id: try TenantID(id), name: "\(id) Inc.", limits: TenantLimits(sessionRate: 5, bulkShare: 0.4, backlogQuota: quota))
}

func session(_ id: String, of tenant: String, primary: Bool = false) throws -> Session {
    Session(id: try SessionID(id), tenant: try TenantID(tenant), provider: .wasender,
            phoneNumber: try PhoneNumber("+14155550123"), isPrimary: primary)
}

@Suite("The registry store on a real SQLite file")
struct SQLiteStoreTests {
    @Test func tenantsRoundTripAndSurviveReopening() async throws {
        let temporary = try TemporaryStore()
        defer { temporary.remove() }
        let acme = try tenant("acme", quota: 5000)
        do {
            let store = try temporary.open()
            try await store.createTenant(acme)
            try await store.createTenant(try tenant("globex"))
            await #expect(throws: StoreError.conflict("tenant acme")) { try await store.createTenant(acme) }
        }
        let reopened = try temporary.open()
        let loaded = try #require(try await reopened.tenant(acme.id))
        #expect(loaded.name == acme.name)
        #expect(loaded.limits == acme.limits)
        #expect(abs(loaded.createdAt.timeIntervalSince(acme.createdAt)) < 0.01)
        #expect(try await reopened.tenants().map(\.id.rawValue) == ["acme", "globex"])

        var changed = loaded
        changed.limits.backlogQuota = nil
        changed.name = "Acme Corp"
        try await reopened.updateTenant(changed)
        #expect(try await reopened.tenant(acme.id)?.limits.backlogQuota == nil)
        #expect(try await reopened.tenant(acme.id)?.name == "Acme Corp")
        #expect(await reopened.isReachable())
    }

    @Test func limitsAreValidated() async throws {
        let temporary = try TemporaryStore()
        defer { temporary.remove() }
        let store = try temporary.open()
        var bad = try tenant("acme")
        bad.limits.bulkShare = 1.5
        await #expect(throws: StoreError.self) { try await store.createTenant(bad) }
        bad.limits = TenantLimits(sessionRate: 0)
        await #expect(throws: StoreError.self) { try await store.createTenant(bad) }
        #expect(try await store.tenants().isEmpty)
    }

    @Test func theFirstSessionIsPrimaryAndANewPrimaryReplacesIt() async throws {
        let temporary = try TemporaryStore()
        defer { temporary.remove() }
        let store = try temporary.open()
        try await store.createTenant(try tenant("acme"))
        let secrets = SessionSecrets(credentials: ["api_key": "k1"], webhookSecret: "w1")
        try await store.addSession(try session("acme-main", of: "acme"), secrets: secrets)
        try await store.addSession(try session("acme-promo", of: "acme"), secrets: secrets)
        #expect(try await store.primarySession(of: try TenantID("acme"))?.id.rawValue == "acme-main")
        try await store.addSession(try session("acme-otp", of: "acme", primary: true), secrets: secrets)
        let sessions = try await store.sessions(of: try TenantID("acme"))
        #expect(sessions.filter(\.isPrimary).map(\.id.rawValue) == ["acme-otp"])
        await #expect(throws: StoreError.conflict("session acme-main")) {
            try await store.addSession(try session("acme-main", of: "acme"), secrets: secrets)
        }
        await #expect(throws: StoreError.notFound("tenant ghost")) {
            try await store.addSession(try session("ghost-main", of: "ghost"), secrets: secrets)
        }
        try await store.setStatus(.connected, of: try SessionID("acme-main"))
        #expect(try await store.session(try SessionID("acme-main"))?.status == .connected)
    }

    @Test func credentialsAreSealedAtRestAndOpenWithTheMasterKeyOnly() async throws {
        let temporary = try TemporaryStore()
        defer { temporary.remove() }
        let token = "wasender-token-\(UUID().uuidString)"
        let webhookSecret = "hook-secret-\(UUID().uuidString)"
        do {
            let store = try temporary.open()
            try await store.createTenant(try tenant("acme"))
            try await store.addSession(try session("acme-main", of: "acme"),
                                       secrets: SessionSecrets(credentials: ["api_key": token], webhookSecret: webhookSecret))
            #expect(try await store.secrets(of: try SessionID("acme-main")).credentials["api_key"] == token)
        }
        // Nothing in the database files (main, WAL, shared memory) holds the plaintext.
        for file in try FileManager.default.contentsOfDirectory(atPath: temporary.directory.path) {
            let bytes = try Data(contentsOf: temporary.directory.appendingPathComponent(file))
            #expect(bytes.range(of: Data(token.utf8)) == nil, "\(file) holds the token")
            #expect(bytes.range(of: Data(webhookSecret.utf8)) == nil, "\(file) holds the webhook secret")
        }
        let output = try runStrings(on: temporary.path)
        #expect(!output.contains(token))
        // Another master key cannot open them.
        let intruder = try temporary.open(key: SymmetricKey(size: .bits256))
        await #expect(throws: StoreError.self) { try await intruder.secrets(of: try SessionID("acme-main")) }
    }

    @Test func apiKeysAreShownOnceStoredHashedAndScoped() async throws {
        let temporary = try TemporaryStore()
        defer { temporary.remove() }
        let store = try temporary.open()
        try await store.createTenant(try tenant("acme"))
        let admin = try await store.createKey(scope: .admin, label: "ops")
        let acmeKey = try await store.createKey(scope: .tenant(try TenantID("acme")), label: "billing")
        #expect(admin.token.hasPrefix("sb_"))
        #expect(try await store.authenticate(admin.token)?.scope == .admin)
        #expect(try await store.authenticate(acmeKey.token)?.scope == .tenant(try TenantID("acme")))
        // A wrong secret, a malformed token, an unknown id.
        let forged = String(acmeKey.token.dropLast()) + (acmeKey.token.hasSuffix("A") ? "B" : "A")
        #expect(try await store.authenticate(forged) == nil)
        #expect(try await store.authenticate("Bearer nonsense") == nil)
        #expect(try await store.authenticate("sb_zzzzzzzzzzzz_" + String(repeating: "A", count: 43)) == nil)
        #expect(try await store.keys(of: try TenantID("acme")).map(\.id) == [acmeKey.key.id])
        await #expect(throws: StoreError.notFound("tenant ghost")) {
            _ = try await store.createKey(scope: .tenant(try TenantID("ghost")), label: nil)
        }
        // The secret is not in the file.
        let secret = String(acmeKey.token.split(separator: "_").last!)
        #expect(!(try runStrings(on: temporary.path)).contains(secret))
        try await store.revokeKey(acmeKey.key.id)
        #expect(try await store.authenticate(acmeKey.token) == nil)
    }

    @Test func deletingATenantDeletesItsSessionsAndKeys() async throws {
        let temporary = try TemporaryStore()
        defer { temporary.remove() }
        let store = try temporary.open()
        try await store.createTenant(try tenant("acme"))
        try await store.createTenant(try tenant("globex"))
        let secrets = SessionSecrets(credentials: [:], webhookSecret: "w")
        try await store.addSession(try session("acme-main", of: "acme"), secrets: secrets)
        try await store.addSession(try session("globex-main", of: "globex"), secrets: secrets)
        let acmeKey = try await store.createKey(scope: .tenant(try TenantID("acme")), label: nil)
        try await store.deleteTenant(try TenantID("acme"))
        #expect(try await store.session(try SessionID("acme-main")) == nil)
        #expect(try await store.authenticate(acmeKey.token) == nil)
        #expect(try await store.session(try SessionID("globex-main")) != nil)
        await #expect(throws: StoreError.notFound("tenant acme")) { try await store.deleteTenant(try TenantID("acme")) }
    }

    @Test func theDatabaseIsInWALMode() async throws {
        let temporary = try TemporaryStore()
        defer { temporary.remove() }
        _ = try temporary.open()
        let output = try runProgram("/usr/bin/sqlite3", [temporary.path, "PRAGMA journal_mode;"])
        #expect(output.trimmingCharacters(in: .whitespacesAndNewlines) == "wal")
    }
}

@Suite("The master key")
struct MasterKeyTests {
    @Test func comesFromTheEnvironmentOrADevelopmentFile() throws {
        let encoded = Data((0..<32).map { UInt8($0) }).base64EncodedString()
        let fromEnvironment = try MasterKey.resolve(settings: Settings(environment: ["SWITCHBOARD_MASTER_KEY": encoded]))
        #expect(fromEnvironment.withUnsafeBytes { Data($0) } == Data((0..<32).map { UInt8($0) }))
        #expect(throws: StoreError.self) {
            try MasterKey.resolve(settings: Settings(environment: ["SWITCHBOARD_MASTER_KEY": "c2hvcnQ="]))
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("sbkey-\(UUID().uuidString)/master.key").path
        defer { try? FileManager.default.removeItem(atPath: (file as NSString).deletingLastPathComponent) }
        let created = try MasterKey.resolve(settings: Settings(environment: [:]), developmentFile: file)
        let again = try MasterKey.resolve(settings: Settings(environment: [:]), developmentFile: file)
        #expect(created.withUnsafeBytes { Data($0) } == again.withUnsafeBytes { Data($0) })
        let attributes = try FileManager.default.attributesOfItem(atPath: file)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
    }
}

@Suite("Registry values")
struct RegistryValueTests {
    @Test(arguments: ["+14155550123", "+447911123456", "+5511987654321"])
    func validPhoneNumbers(_ text: String) throws {
        #expect(try PhoneNumber(text).e164 == text)
    }

    @Test(arguments: ["14155550123", "+0415555012", "+1415", "+1415555012345678", "+1 415 555", "+1415abc0123", ""])
    func invalidPhoneNumbers(_ text: String) {
        #expect(throws: RegistryError.self) { try PhoneNumber(text) }
    }

    @Test func providerStatusesInEitherCase() {
        #expect(SessionStatus(providerValue: "NEED_SCAN") == .needScan)
        #expect(SessionStatus(providerValue: "connected") == .connected)
        #expect(SessionStatus(providerValue: "sleeping") == nil)
    }

    @Test func secretsDoNotPrint() {
        let secrets = SessionSecrets(credentials: ["api_key": "hunter2"], webhookSecret: "w-secret")
        #expect(!"\(secrets)".contains("hunter2"))
        #expect(!"\(secrets)".contains("w-secret"))
    }
}

func runStrings(on path: String) throws -> String {
    try runProgram("/usr/bin/strings", ["-a", path])
}

/// Runs a short command and returns its output (test helper; these tests are synchronous).
func runProgram(_ executable: String, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}
