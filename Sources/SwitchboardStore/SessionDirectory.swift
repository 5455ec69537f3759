import Foundation
public import Logging
public import SwitchboardCore
import Synchronization

/// Every session with the secret its webhooks are checked with, in memory: the
/// webhook receiver and the normalizer look sessions up on every webhook, so they read
/// the store (and open sealed secrets) only on a refresh: every `refreshInterval`, and
/// at once (at most once a second) when asked for a session it does not know, so a
/// session added a moment ago is found.
public final class SessionDirectory: Sendable {
    /// A session and what proves its webhooks.
    public struct Entry: Sendable, Hashable {
        public var session: Session
        /// The WasenderAPI webhook secret, the Meta app secret, or the Standard Webhooks
        /// secret of a simulator session.
        public var webhookSecret: String
        /// Meta's `phone_number_id` of the session's number, when it has one.
        public var phoneNumberID: String?
        /// A Meta `hub.verify_token` the session's credentials name, if any.
        public var verifyToken: String?

        public var route: SessionRoute { SessionRoute(tenant: session.tenant, session: session.id) }
    }

    private struct Snapshot {
        var bySession: [SessionID: Entry] = [:]
        var byPhoneNumberID: [String: Entry] = [:]
        var lastLoad: ContinuousClock.Instant?
    }

    private let store: any SessionStore
    private let snapshot = Mutex(Snapshot())
    private let logger: Logger
    /// The shortest time between two loads caused by lookups that missed.
    private let missReloadInterval: Duration

    public init(store: any SessionStore, missReloadInterval: Duration = .seconds(1), logger: Logger) {
        self.store = store
        self.missReloadInterval = missReloadInterval
        self.logger = logger
    }

    /// The session `id`, or nil when the store has no such session.
    public func entry(for id: SessionID) async -> Entry? {
        if let entry = snapshot.withLock({ $0.bySession[id] }) { return entry }
        await reloadIfDue()
        return snapshot.withLock { $0.bySession[id] }
    }

    /// The session whose Meta number has `phoneNumberID`.
    public func entry(forPhoneNumberID phoneNumberID: String) async -> Entry? {
        if let entry = snapshot.withLock({ $0.byPhoneNumberID[phoneNumberID] }) { return entry }
        await reloadIfDue()
        return snapshot.withLock { $0.byPhoneNumberID[phoneNumberID] }
    }

    /// The route of a Meta `phone_number_id` as known now (no reload): for code that
    /// cannot wait, after an `entry(forPhoneNumberID:)` warmed the directory.
    public func knownRoute(forPhoneNumberID phoneNumberID: String) -> SessionRoute? {
        snapshot.withLock { $0.byPhoneNumberID[phoneNumberID]?.route }
    }

    /// Every session of provider `provider`.
    public func entries(of provider: ProviderKind) -> [Entry] {
        snapshot.withLock { $0.bySession.values.filter { $0.session.provider == provider } }
    }

    /// Reads every session and its secrets again.
    public func reload() async throws(StoreError) {
        let sessions = try await store.allSessions()
        var fresh = Snapshot(lastLoad: .now)
        for session in sessions {
            let secrets: SessionSecrets
            do { secrets = try await store.secrets(of: session.id) } catch {
                // One unreadable session must not hide the others.
                logger.error("cannot open a session's secrets", metadata: [
                    LogKey.tenant: "\(session.tenant)", LogKey.session: "\(session.id)", LogKey.error: "\(error)",
                ])
                continue
            }
            let entry = Entry(session: session, webhookSecret: secrets.webhookSecret,
                              phoneNumberID: secrets.credentials["phone_number_id"],
                              verifyToken: secrets.credentials["verify_token"])
            fresh.bySession[session.id] = entry
            if let phoneNumberID = entry.phoneNumberID { fresh.byPhoneNumberID[phoneNumberID] = entry }
        }
        snapshot.withLock { $0 = fresh }
    }

    /// Reloads every `interval` until the task is cancelled; a failed load keeps the
    /// last picture.
    public func refresh(every interval: Duration) async {
        repeat {
            do { try await reload() } catch {
                logger.warning("cannot refresh the session directory", metadata: [LogKey.error: "\(error)"])
            }
        } while (try? await Task.sleep(for: interval)) != nil
    }

    /// Reads the store again unless that happened less than `missReloadInterval` ago:
    /// for lookups that found nothing, so a session added a moment ago is found.
    public func reloadIfDue() async {
        let due = snapshot.withLock { state -> Bool in
            if let last = state.lastLoad, last.duration(to: .now) < missReloadInterval { return false }
            state.lastLoad = .now
            return true
        }
        guard due else { return }
        do { try await reload() } catch {
            logger.warning("cannot refresh the session directory", metadata: [LogKey.error: "\(error)"])
        }
    }
}
