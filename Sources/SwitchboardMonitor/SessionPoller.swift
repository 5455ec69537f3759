import Synchronization
import Foundation
import Logging
import SwitchboardCore
import SwitchboardProviders
import SwitchboardStore

/// Asks every session's provider for its state once per `interval`, spread over it:
/// the sessions (by id) are dealt over the interval's seconds in turn, with a random
/// delay within each second, so 5,000 sessions at 60 s make 83 or 84 polls a second,
/// never more. A poll that fails or times out changes nothing.
struct SessionPoller: Sendable {
    let sessions: any SessionStore
    let providers: ProviderDirectory
    let interval: Duration
    /// Polls on the wire at once, at most.
    let concurrency: Int
    let logger: Logger
    /// Hears what each poll found that differs from what the session had when the
    /// sessions were last read (a poll that finds the same writes nothing).
    let report: @Sendable (Session, SessionStatus, Date) async -> Void
    /// Hears a Meta number's quality rating and limit tier when they differ from the
    /// last ones this poller heard.
    let details: @Sendable (Session, ProviderSessionState) async -> Void

    /// The second of the interval the session at `index` (of `count`) is polled in.
    static func slot(index: Int, count: Int, seconds: Int) -> Int {
        count == 0 ? 0 : index * max(1, seconds) / count
    }

    func run() async {
        let seconds = max(1, Int(interval.seconds.rounded()))
        var known: [Session] = []
        var loadedAt = -Double.infinity
        // Secrets opened once per reading of the sessions, not at every poll.
        let secrets = SecretsCache()
        let lastDetails = DetailsCache()
        let turns = Turns(concurrency)
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                // Wake at the start of the next second.
                let now = Date().timeIntervalSince1970
                guard (try? await Task.sleep(for: .milliseconds(Int64((now.rounded(.down) + 1 - now) * 1000) + 1))) != nil
                else { break }
                let tick = Date().timeIntervalSince1970
                if tick - loadedAt >= Double(seconds) {
                    do {
                        known = try await sessions.allSessions().sorted { $0.id.rawValue < $1.id.rawValue }
                        loadedAt = tick
                        secrets.entries.withLock { $0.removeAll() }
                    } catch {
                        logger.warning("cannot read the sessions to poll", metadata: [LogKey.error: "\(error)"])
                    }
                }
                let second = Int(tick) % seconds
                for (index, session) in known.enumerated()
                    where Self.slot(index: index, count: known.count, seconds: seconds) == second {
                    group.addTask {
                        try? await Task.sleep(for: .milliseconds(Int64.random(in: 0..<900)))
                        guard await turns.take() else { return }
                        defer { turns.give() }
                        await poll(session, secrets: secrets, lastDetails: lastDetails)
                    }
                }
            }
        }
    }

    private func poll(_ session: Session, secrets cache: SecretsCache, lastDetails: DetailsCache) async {
        let metadata: Logger.Metadata = [LogKey.tenant: "\(session.tenant)", LogKey.session: "\(session.id)"]
        guard let client = providers.client(for: session.provider) else { return }
        do {
            let secrets: SessionSecrets
            if let cached = cache.entries.withLock({ $0[session.id] }) {
                secrets = cached
            } else {
                secrets = try await sessions.secrets(of: session.id)
                cache.entries.withLock { $0[session.id] = secrets }
            }
            let state = try await client.sessionState(of: session, secrets: secrets)
            if state.qualityRating != nil || state.messagingLimitTier != nil {
                let known = lastDetails.entries.withLock { $0[session.id] }
                if known != state {
                    lastDetails.entries.withLock { $0[session.id] = state }
                    await details(session, state)
                }
            }
            guard state.status != session.status else { return }
            await report(session, state.status, Date())
        } catch let failure as SendFailure where failure.code == unsupportedProviderCall {
            return
        } catch {
            logger.debug("session poll failed; state left as it is", metadata: metadata.merging([LogKey.error: "\(error)"]) { $1 })
        }
    }
}

/// Sessions' opened secrets, shared by the polls of one reading of the sessions.
final class SecretsCache: Sendable {
    let entries = Mutex<[SessionID: SessionSecrets]>([:])
}

/// The provider details each session was last heard with.
final class DetailsCache: Sendable {
    let entries = Mutex<[SessionID: ProviderSessionState]>([:])
}
