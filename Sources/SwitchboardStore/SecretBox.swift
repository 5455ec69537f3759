public import Crypto
public import Foundation
public import SwitchboardCore

/// Seals and opens provider credentials with AES-256-GCM under the master key. Each
/// sealed value is bound to its owner (its session id is the authenticated data), so
/// a ciphertext copied to another row does not open.
public struct SecretBox: Sendable {
    // swift-crypto 3's SymmetricKey is not Sendable; its bytes are kept and a key is
    // made per operation.
    private let keyBytes: Data
    private var key: SymmetricKey { SymmetricKey(data: keyBytes) }

    public init(masterKey: SymmetricKey) throws(StoreError) {
        guard masterKey.bitCount == 256 else { throw .secrets("the master key must be 32 bytes (AES-256)") }
        keyBytes = masterKey.withUnsafeBytes { Data($0) }
    }

    public func seal(_ plaintext: Data, owner: String) throws(StoreError) -> Data {
        do {
            guard let combined = try AES.GCM.seal(plaintext, using: key, authenticating: Data(owner.utf8)).combined
            else { throw StoreError.secrets("AES-GCM produced no combined box") }
            return combined
        } catch let error as StoreError {
            throw error
        } catch {
            throw .secrets("cannot seal: \(error)")
        }
    }

    public func open(_ sealed: Data, owner: String) throws(StoreError) -> Data {
        do {
            return try AES.GCM.open(AES.GCM.SealedBox(combined: sealed), using: key, authenticating: Data(owner.utf8))
        } catch {
            throw .secrets("cannot open the secrets of \(owner): wrong master key or tampered data")
        }
    }
}

/// Where the master key comes from: `SWITCHBOARD_MASTER_KEY` (base64 of 32 bytes), else
/// the file `SWITCHBOARD_MASTER_KEY_FILE`, else — for development only — a key file
/// under `.local/` that is created on first use.
public enum MasterKey {
    public static let environmentKey = "SWITCHBOARD_MASTER_KEY"
    public static let fileEnvironmentKey = "SWITCHBOARD_MASTER_KEY_FILE"

    public static func resolve(settings: Settings = Settings(), developmentFile: String = ".local/master.key")
        throws(StoreError) -> SymmetricKey
    {
        if let encoded = settings.environment[environmentKey], !encoded.isEmpty {
            return try decode(encoded, source: environmentKey)
        }
        let path = settings.environment[fileEnvironmentKey].flatMap { $0.isEmpty ? nil : $0 } ?? developmentFile
        if let contents = try? String(contentsOfFile: path, encoding: .utf8) {
            return try decode(contents.trimmingCharacters(in: .whitespacesAndNewlines), source: path)
        }
        guard path == developmentFile else { throw .secrets("cannot read the master key file \(path)") }
        let key = SymmetricKey(size: .bits256)
        let encoded = key.withUnsafeBytes { Data($0).base64EncodedString() }
        do {
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            guard FileManager.default.createFile(atPath: path, contents: Data((encoded + "\n").utf8),
                                                 attributes: [.posixPermissions: 0o600])
            else { throw StoreError.secrets("cannot create \(path)") }
        } catch {
            throw .secrets("cannot create the development master key \(path): \(error)")
        }
        return key
    }

    static func decode(_ encoded: String, source: String) throws(StoreError) -> SymmetricKey {
        guard let data = Data(base64Encoded: encoded), data.count == 32 else {
            throw .secrets("\(source) must hold 32 bytes in base64 (openssl rand -base64 32)")
        }
        return SymmetricKey(data: data)
    }
}

extension SecretBox {
    /// A session's secrets sealed for its row (bound to its id).
    func sealSecrets(_ secrets: SessionSecrets, of session: SessionID) throws(StoreError) -> Data {
        do {
            return try seal(try JSONEncoder().encode(secrets), owner: "session:\(session)")
        } catch let error as StoreError {
            throw error
        } catch {
            throw .secrets("cannot encode: \(error)")
        }
    }

    func openSecrets(_ sealed: Data, of session: SessionID) throws(StoreError) -> SessionSecrets {
        let plaintext = try open(sealed, owner: "session:\(session)")
        do {
            return try JSONDecoder().decode(SessionSecrets.self, from: plaintext)
        } catch {
            throw .secrets("the secrets of session \(session) are not readable")
        }
    }
}

extension SecretBox {
    /// A tenant's bot settings sealed for its row (they hold the forward secret).
    func sealBotSettings(_ settings: BotSettings, of tenant: TenantID) throws(StoreError) -> Data {
        do {
            return try seal(try JSONEncoder().encode(settings), owner: "bot:\(tenant)")
        } catch let error as StoreError {
            throw error
        } catch {
            throw .secrets("cannot encode: \(error)")
        }
    }

    func openBotSettings(_ sealed: Data, of tenant: TenantID) throws(StoreError) -> BotSettings {
        let plaintext = try open(sealed, owner: "bot:\(tenant)")
        do {
            return try JSONDecoder().decode(BotSettings.self, from: plaintext)
        } catch {
            throw .secrets("the bot settings of tenant \(tenant) are not readable")
        }
    }
}
