import Foundation
public import Logging
public import SwitchboardCore
import Synchronization

/// Every session with the secret its webhooks are checked with, in memory: the
/// webhook receiver and the normalizer look sessions up on every webhook. A session
/// named by a control event, or asked for and not known, is read again alone; every
/// session is read again in one query every `refreshInterval` (the safety net), its
/// secrets opened only when their sealed bytes changed. So a change costs the same with
/// ten or ten thousand sessions.
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

        init(_ session: Session, secrets: SessionSecrets) {
            self.session = session
            webhookSecret = secrets.webhookSecret
            phoneNumberID = secrets.credentials["phone_number_id"]
            verifyToken = secrets.credentials["verify_token"]
        }
    }

    private struct Snapshot {
        var bySession: [SessionID: Entry] = [:]
        var byPhoneNumberID: [String: Entry] = [:]
        /// The sealed secrets each entry was opened from, to open only what changed.
        var sealed: [SessionID: Data] = [:]
        var lastLoad: ContinuousClock.Instant?
        /// Sessions read alone since the running full reload began: newer than what it read.
        var touched: Set<SessionID> = []

        mutating func put(_ entry: Entry) {
            remove(entry.session.id)
            bySession[entry.session.id] = entry
            if let phoneNumberID = entry.phoneNumberID { byPhoneNumberID[phoneNumberID] = entry }
        }

        mutating func remove(_ id: SessionID) {
            sealed[id] = nil
            guard let old = bySession.removeValue(forKey: id) else { return }
            if let phoneNumberID = old.phoneNumberID, byPhoneNumberID[phoneNumberID]?.session.id == id {
                byPhoneNumberID[phoneNumberID] = nil
            }
        }
    }

    private let store: any SessionStore
    private let snapshot = Mutex(Snapshot())
    private let logger: Logger
    /// The shortest time between two full loads caused by Meta `phone_number_id` lookups
    /// that missed (a session id that misses is read alone).
    private let missReloadInterval: Duration

    public init(store: any SessionStore, missReloadInterval: Duration = .seconds(1), logger: Logger) {
        self.store = store
        self.missReloadInterval = missReloadInterval
        self.logger = logger
    }

    /// The session `id`, or nil when the store has no such session.
    public func entry(for id: SessionID) async -> Entry? {
        if let entry = snapshot.withLock({ $0.bySession[id] }) { return entry }
        // Added a moment ago, before its control event arrived: one indexed read.
        await reload(id)
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

    /// Reads every session again in one query; opens the secrets whose sealed bytes
    /// changed (or are new) and keeps the rest as they were.
    public func reload() async throws(StoreError) {
        snapshot.withLock { $0.touched = [] }
        let sessions = try await store.sealedSessions()
        let (known, sealed) = snapshot.withLock { ($0.bySession, $0.sealed) }
        var fresh = Snapshot(lastLoad: .now)
        fresh.bySession.reserveCapacity(sessions.count)
        for stored in sessions {
            let id = stored.session.id
            var entry: Entry
            if let old = known[id], sealed[id] == stored.sealedSecrets {
                entry = old
                entry.session = stored.session
            } else {
                do { entry = Entry(stored.session, secrets: try store.open(stored)) } catch {
                    // One unreadable session must not hide the others.
                    logger.error("cannot open a session's secrets", metadata: [
                        LogKey.tenant: "\(stored.session.tenant)", LogKey.session: "\(id)", LogKey.error: "\(error)",
                    ])
                    continue
                }
            }
            fresh.put(entry)
            fresh.sealed[id] = stored.sealedSecrets
        }
        snapshot.withLock { current in
            for id in current.touched {
                if let entry = current.bySession[id] { fresh.put(entry) } else { fresh.remove(id) }
            }
            current = fresh
        }
    }

    /// Reads one session again (a control event named it, or it was asked for and not
    /// known); forgets it when the store no longer has it.
    public func reload(_ id: SessionID) async {
        do {
            guard let session = try await store.session(id) else {
                snapshot.withLock { snapshot in
                    snapshot.remove(id)
                    snapshot.touched.insert(id)
                }
                return
            }
            let entry = Entry(session, secrets: try await store.secrets(of: id))
            snapshot.withLock { snapshot in
                snapshot.put(entry)
                snapshot.touched.insert(id)
            }
        } catch {
            logger.warning("cannot read a session; the periodic reload will", metadata: [
                LogKey.session: "\(id)", LogKey.error: "\(error)",
            ])
        }
    }

    /// Follows a control event: a changed session is read again, a deleted tenant's
    /// sessions are forgotten.
    public func apply(_ event: ControlEvent) async {
        switch event.type {
        case .sessionChanged:
            if let session = event.session { await reload(session) }
        case .tenantDeleted:
            snapshot.withLock { snapshot in
                for (id, entry) in snapshot.bySession where entry.session.tenant == event.tenant {
                    snapshot.remove(id)
                    snapshot.touched.insert(id)
                }
            }
        case .tenantCreated, .tenantUpdated, .contactChanged:
            break
        }
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
