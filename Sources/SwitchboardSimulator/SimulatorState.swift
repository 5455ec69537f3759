public import Foundation
import Synchronization

/// Everything the simulator knows: sessions, behaviour, the record of accepted
/// messages and the counters. One lock guards it all, so a send's checks (outage,
/// validity, rate) and its acceptance are one atomic step. Tests and benchmarks may
/// use it directly, alongside the HTTP endpoints.
public final class SimulatorState: Sendable {
    private let storage: Mutex<Storage>

    public init(defaults: SimulatorBehaviour = SimulatorBehaviour()) {
        storage = Mutex(Storage(defaults: defaults))
    }

    // MARK: Sessions

    /// Adds a session, or replaces the one with the same id (its counters and status
    /// stay). Throws when its API key or phone number id belongs to another session.
    public func register(_ session: SimulatedSession) throws(SimulatorError) {
        try Self.validate(session)
        try storage.withLock { (storage: inout Storage) throws(SimulatorError) in
            for other in storage.sessions.values where other.id != session.id {
                if !session.apiKey.isEmpty, other.apiKey == session.apiKey {
                    throw .conflict("session '\(other.id)' already uses this api_key")
                }
                if let number = session.phoneNumberID, other.phoneNumberID == number {
                    throw .conflict("session '\(other.id)' already uses phone_number_id \(number)")
                }
            }
            storage.sessions[session.id] = session
            if storage.statuses[session.id] == nil { storage.statuses[session.id] = "connected" }
        }
    }

    /// Removes a session; false when there was none. Its counters stay until `reset()`.
    @discardableResult
    public func remove(session id: String) -> Bool {
        storage.withLock { storage in
            storage.statuses[id] = nil
            return storage.sessions.removeValue(forKey: id) != nil
        }
    }

    /// Every session, by id.
    public func sessions() -> [SimulatedSession] {
        storage.withLock { $0.sessions.values.sorted { $0.id < $1.id } }
    }

    public func session(_ id: String) -> SimulatedSession? {
        storage.withLock { $0.sessions[id] }
    }

    /// The connection state `GET /api/status` reports (`connected` until set).
    public func status(session id: String) -> String? {
        storage.withLock { $0.statuses[id] }
    }

    /// WasenderAPI's connect: a session not connected now waits for a scan of a fresh QR
    /// code (returned); a connected one stays connected (no code).
    public func connect(session id: String) throws(SimulatorError) -> (status: String, qrCode: String?) {
        if status(session: id) == "connected" { return ("connected", nil) }
        let code = "2@sim-\(UUID().uuidString.lowercased())"
        storage.withLock { $0.qrCodes[id] = code }
        try setStatus("need_scan", session: id)
        return ("need_scan", code)
    }

    /// Counts one status poll in its second.
    func countStatusPoll(at date: Date = Date()) {
        storage.withLock { $0.statusPolls[Int(date.timeIntervalSince1970), default: 0] += 1 }
    }

    /// Status polls by Unix second since the simulator started.
    public func statusPollsPerSecond() -> [Int: Int] {
        storage.withLock { $0.statusPolls }
    }

    /// The QR code a session waiting for a scan shows; nil otherwise.
    public func qrCode(session id: String) -> String? {
        guard status(session: id) == "need_scan" else { return nil }
        return storage.withLock { $0.qrCodes[id] }
    }

    /// The phone scanned the code: connected (`/_sim/sessions/{id}/scan`).
    public func scan(session id: String) throws(SimulatorError) {
        guard qrCode(session: id) != nil else { throw .invalid("session '\(id)' is not waiting for a scan") }
        storage.withLock { _ = $0.qrCodes.removeValue(forKey: id) }
        try setStatus("connected", session: id)
    }

    /// Sets a session's status: a session not `connected` refuses sends; a change goes to
    /// the session's webhook URL as WasenderAPI's `session.status` (not for Meta sessions,
    /// which have no such webhook).
    public func setStatus(_ status: String, session id: String) throws(SimulatorError) {
        guard !status.isEmpty else { throw .invalid("status: must not be empty") }
        let (job, sink) = try storage.withLock {
            (storage: inout Storage) throws(SimulatorError) -> (WebhookJob?, WebhookSink?) in
            guard let session = storage.sessions[id] else { throw .unknownSession(id) }
            let changed = storage.statuses[id] != status
            storage.statuses[id] = status
            guard changed, session.webhookURL != nil, session.flavor != .meta else { return (nil, nil) }
            return (WebhookJob(session: session, steps: [WebhookStep(at: .now, event: .sessionStatus(status))]),
                    storage.webhookSink)
        }
        if let job, let sink { sink.continuation.yield(job) }
    }

    // MARK: Behaviour

    /// The behaviour of sessions without their own.
    public var defaults: SimulatorBehaviour {
        storage.withLock { $0.defaults }
    }

    /// Sets the behaviour of every session without its own.
    public func configure(_ defaults: SimulatorBehaviour) throws(SimulatorError) {
        try Self.validate(defaults)
        storage.withLock { $0.defaults = defaults }
    }

    /// Sets (or, with nil, clears) one session's own behaviour.
    public func configure(_ behaviour: SimulatorBehaviour?, session id: String) throws(SimulatorError) {
        if let behaviour { try Self.validate(behaviour) }
        try storage.withLock { (storage: inout Storage) throws(SimulatorError) in
            guard storage.sessions[id] != nil else { throw .unknownSession(id) }
            storage.sessions[id]?.behaviour = behaviour
        }
    }

    // MARK: The record

    /// Accepted messages in order of acceptance, of one session or all, accepted at or
    /// after `since`.
    public func messages(session: String? = nil, since: Date? = nil) -> [SimulatedMessage] {
        storage.withLock { storage in
            storage.messages.filter { message in
                (session == nil || message.session == session) && (since.map { message.acceptedAt >= $0 } ?? true)
            }
        }
    }

    /// The counters of every session (registered ones at zero when nothing happened).
    public func stats() -> SimulatorStats {
        storage.withLock { storage in
            var sessions = storage.counters.mapValues(\.stats)
            for id in storage.sessions.keys where sessions[id] == nil { sessions[id] = SessionStats() }
            return SimulatorStats(sessions: sessions, unauthorized: storage.unauthorized)
        }
    }

    public func stats(session id: String) -> SessionStats {
        storage.withLock { $0.counters[id]?.stats ?? SessionStats() }
    }

    /// Forgets accepted messages and every counter; sessions and behaviour stay.
    public func reset() {
        storage.withLock { storage in
            storage.messages.removeAll()
            storage.counters.removeAll()
            storage.unauthorized = 0
        }
    }

    // MARK: Inbound messages

    /// Sends an inbound-message webhook from `from` to the session, in its flavor's
    /// shape, and returns the provider id it carries. Needs a running server (its
    /// webhook sender) and a session with a webhook URL.
    public func inbound(session id: String, from: String, text: String, name: String? = nil)
        throws(SimulatorError) -> String
    {
        guard let digits = recipientDigits(from) else {
            throw .invalid("from: '\(from)' is not a phone number in E.164 form")
        }
        let (job, sink, messageID) = try storage.withLock {
            (storage: inout Storage) throws(SimulatorError) -> (WebhookJob, WebhookSink?, String) in
            guard let session = storage.sessions[id] else { throw .unknownSession(id) }
            guard session.webhookURL != nil else { throw .invalid("session '\(id)' has no webhook_url") }
            storage.nextNumber += 1
            let messageID = session.flavor == .meta
                ? Self.metaMessageID(storage.nextNumber) : Self.wasenderInboundID(storage.nextNumber)
            let event = WebhookEvent.inbound(messageID: messageID, fromDigits: digits, text: text, name: name)
            let job = WebhookJob(session: session, steps: [WebhookStep(at: .now, event: event)])
            return (job, storage.webhookSink, messageID)
        }
        guard let sink else { throw .invalid("no webhook sender is running (start the server)") }
        sink.continuation.yield(job)
        return messageID
    }

    // MARK: For the endpoints

    /// The session whose API key this is, with the behaviour that applies to it; nil
    /// (and one more unauthorized call counted) when there is none.
    func authenticate(apiKey: String) -> (SimulatedSession, SimulatorBehaviour)? {
        storage.withLock { storage in
            guard !apiKey.isEmpty, let session = storage.sessions.values.first(where: { $0.apiKey == apiKey }) else {
                storage.unauthorized += 1
                return nil
            }
            return (session, session.behaviour ?? storage.defaults)
        }
    }

    /// The session with this Meta phone number id and access token, as `authenticate(apiKey:)`.
    func authenticate(phoneNumberID: String, accessToken: String) -> (SimulatedSession, SimulatorBehaviour)? {
        storage.withLock { storage in
            guard !accessToken.isEmpty,
                  let session = storage.sessions.values.first(where: {
                      $0.phoneNumberID == phoneNumberID && $0.accessToken == accessToken
                  })
            else {
                storage.unauthorized += 1
                return nil
            }
            return (session, session.behaviour ?? storage.defaults)
        }
    }

    /// Decides a send in one step under the lock (outage, request problems, invalid
    /// prefix, random failure, rate limit, acceptance), counts it, records it if
    /// accepted, and hands its status webhooks to the sender.
    func admit(_ attempt: SendAttempt, session id: String) -> SendOutcome {
        let (outcome, job, sink) = storage.withLock { storage -> (SendOutcome, WebhookJob?, WebhookSink?) in
            guard let session = storage.sessions[id] else {
                storage.unauthorized += 1
                return (.unknownSession, nil, nil)
            }
            let behaviour = session.behaviour ?? storage.defaults
            let date = Date()
            let now = ContinuousClock.now
            // Moved out, not copied: the window's buffer stays uniquely referenced, so
            // appending to it does not copy a second's worth of instants per send.
            var counters = storage.counters.removeValue(forKey: id) ?? Counters()
            defer { storage.counters[id] = counters }

            if behaviour.isOutage(at: date) {
                counters.stats.errors += 1
                return (.outage, nil, nil)
            }
            if let status = storage.statuses[id], status != "connected" {
                counters.stats.errors += 1
                return (.notConnected(status), nil, nil)
            }
            if let problem = attempt.problem {
                counters.stats.invalid += 1
                return (.invalid(problem), nil, nil)
            }
            if let digits = attempt.recipientDigits, behaviour.isInvalid(recipientDigits: digits) {
                counters.stats.invalid += 1
                return (.invalid(RequestProblem(
                    field: "to", message: "The number \(attempt.to) is not on WhatsApp.", isRecipient: true)), nil, nil)
            }
            if behaviour.errorRate > 0, Double.random(in: 0..<1) < behaviour.errorRate {
                counters.stats.errors += 1
                return (.serverError, nil, nil)
            }

            let limit = session.ratePerSecond.map(RateLimit.init(ratePerSecond:))
            counters.window.prune(through: now - max(.seconds(1), limit?.window ?? .zero))
            var rate: RateLimitInfo?
            if let limit {
                let inWindow = counters.window.count(after: now - limit.window)
                let oldest = counters.window.first(after: now - limit.window) ?? now
                let reset = date.addingTimeInterval((oldest + limit.window - now).seconds)
                if inWindow >= limit.count {
                    counters.stats.rateLimited += 1
                    return (.rateLimited(RateLimitInfo(
                        limit: limit.count, remaining: 0, resetAt: reset,
                        retryAfterSeconds: behaviour.rateLimitRetryAfterSeconds)), nil, nil)
                }
                rate = RateLimitInfo(limit: limit.count, remaining: limit.count - inWindow - 1, resetAt: reset,
                                     retryAfterSeconds: behaviour.rateLimitRetryAfterSeconds)
            }

            counters.window.append(now)
            counters.stats.accepted += 1
            counters.stats.maxPerSecond = max(counters.stats.maxPerSecond, counters.window.count(after: now - .seconds(1)))
            if counters.stats.firstAcceptedAt == nil { counters.stats.firstAcceptedAt = date }
            counters.stats.lastAcceptedAt = date
            storage.nextNumber += 1
            let number = storage.nextNumber
            let message = SimulatedMessage(
                id: attempt.endpoint == .meta ? Self.metaMessageID(number) : String(number),
                session: session.id, flavor: session.flavor, to: attempt.to, type: attempt.type, text: attempt.text,
                mediaURL: attempt.mediaURL, template: attempt.template, acceptedAt: date)
            storage.messages.append(message)

            var job: WebhookJob?
            let schedule = behaviour.statusDelaysMs.schedule
            if session.webhookURL != nil, storage.webhookSink != nil, !schedule.isEmpty {
                let recipient = attempt.recipientDigits ?? attempt.to
                job = WebhookJob(session: session, steps: schedule.map { status, delay in
                    WebhookStep(at: now + .milliseconds(delay),
                                event: .status(messageID: message.id, recipient: attempt.to,
                                               recipientDigits: recipient, status: status))
                })
            }
            return (.accepted(message, number: number, rate: rate), job, storage.webhookSink)
        }
        // Yielding outside the lock keeps the critical section to bookkeeping only.
        if let job, let sink { sink.continuation.yield(job) }
        return outcome
    }

    /// Counts one webhook's fate for its session.
    func recordWebhook(session id: String, delivered: Bool) {
        storage.withLock { storage in
            if delivered {
                storage.counters[id, default: Counters()].stats.webhooksDelivered += 1
            } else {
                storage.counters[id, default: Counters()].stats.webhooksFailed += 1
            }
        }
    }

    /// Connects the webhook sender of a running server; jobs go to the last one attached.
    func attach(_ continuation: AsyncStream<WebhookJob>.Continuation) -> UInt64 {
        storage.withLock { storage in
            storage.nextSinkID += 1
            storage.webhookSink = WebhookSink(id: storage.nextSinkID, continuation: continuation)
            return storage.nextSinkID
        }
    }

    /// Disconnects a sender that stopped, unless another took its place meanwhile.
    func detach(_ id: UInt64) {
        storage.withLock { storage in
            if storage.webhookSink?.id == id { storage.webhookSink = nil }
        }
    }

    // MARK: Ids and validation

    /// A Meta-looking message id: `wamid.` and base64 text, unique per simulator.
    static func metaMessageID(_ number: Int) -> String {
        let random = UInt32.random(in: 0...UInt32.max)
        let text = "HBgLSIM\(number).\(String(random, radix: 16, uppercase: true))"
        return "wamid." + Data(text.utf8).base64EncodedString().replacingOccurrences(of: "=", with: "")
    }

    /// A WhatsApp-Web-looking id (`3EB0…`), as Wasender's inbound messages carry.
    static func wasenderInboundID(_ number: Int) -> String {
        let random = UInt64.random(in: 0...UInt64.max)
        return "3EB0" + String(number, radix: 16, uppercase: true) + String(random, radix: 16, uppercase: true)
    }

    private static func validate(_ session: SimulatedSession) throws(SimulatorError) {
        guard !session.id.isEmpty, session.id.utf8.count <= 128, !session.id.contains("/") else {
            throw .invalid("id: 1–128 characters without '/'")
        }
        if let rate = session.ratePerSecond, !(rate.isFinite && rate >= 0) {
            throw .invalid("rate_per_second: must be a number at or above 0")
        }
        if let url = session.webhookURL {
            guard let parsed = URL(string: url), parsed.scheme == "http" || parsed.scheme == "https",
                  parsed.host != nil
            else { throw .invalid("webhook_url: '\(url)' is not an http(s) URL") }
        }
        if session.flavor == .meta, session.phoneNumberID == nil || session.accessToken == nil {
            throw .invalid("a meta session needs phone_number_id and access_token")
        }
        if session.flavor != .meta, session.apiKey.isEmpty {
            throw .invalid("a \(session.flavor.rawValue) session needs an api_key")
        }
        if let behaviour = session.behaviour { try validate(behaviour) }
    }

    private static func validate(_ behaviour: SimulatorBehaviour) throws(SimulatorError) {
        guard behaviour.latencyMs >= 0, behaviour.jitterMs >= 0 else {
            throw .invalid("latency_ms and jitter_ms: must be at or above 0")
        }
        guard behaviour.errorRate.isFinite, (0...1).contains(behaviour.errorRate) else {
            throw .invalid("error_rate: must be between 0 and 1")
        }
        guard behaviour.rateLimitRetryAfterSeconds >= 0 else {
            throw .invalid("rate_limit_retry_after_seconds: must be at or above 0")
        }
        guard behaviour.outages.allSatisfy({ $0.from <= $0.until }) else {
            throw .invalid("outages: from must not be after until")
        }
    }
}

/// The recipient's digits when `text` is a phone number (`+` optional, 7–15 digits,
/// no leading zero); nil otherwise.
func recipientDigits(_ text: String) -> String? {
    let digits = text.hasPrefix("+") ? text.dropFirst() : Substring(text)
    guard (7...15).contains(digits.utf8.count), digits.utf8.first != UInt8(ascii: "0"),
          digits.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
    else { return nil }
    return String(digits)
}

// MARK: The locked state

private struct Storage {
    var defaults: SimulatorBehaviour
    var sessions: [String: SimulatedSession] = [:]
    var statuses: [String: String] = [:]
    var messages: [SimulatedMessage] = []
    var counters: [String: Counters] = [:]
    var unauthorized = 0
    /// Message numbers: Wasender's `msgId`s, and what makes other ids unique. They start
    /// at the Unix time in milliseconds, so a restarted simulator never hands out an id
    /// again (the gateway joins provider statuses to messages by it).
    var nextNumber = Int(Date().timeIntervalSince1970 * 1000)
    var webhookSink: WebhookSink?
    /// The QR code of each session waiting for a scan.
    var qrCodes: [String: String] = [:]
    /// `GET /api/status` calls by Unix second (benchmarks read how polls spread).
    var statusPolls: [Int: Int] = [:]
    var nextSinkID: UInt64 = 0

    init(defaults: SimulatorBehaviour) { self.defaults = defaults }
}

private struct Counters {
    var stats = SessionStats()
    /// Acceptance instants of the last second (longer for a rate below 1/s): the rate
    /// limit and `max_per_second` both read it.
    var window = SlidingWindow()
}

struct WebhookSink: Sendable {
    let id: UInt64
    let continuation: AsyncStream<WebhookJob>.Continuation
}

/// A session's limit as a count per window: `rate` per second for a rate of 1 or more;
/// below that, one send per `1 / rate` seconds (e.g. 0.2: one per 5 s), so slow limits
/// like Wasender's account protection can be simulated too.
struct RateLimit {
    let count: Int
    let window: Duration

    init(ratePerSecond rate: Double) {
        if rate >= 1 {
            count = Int(rate.rounded(.down))
            window = .seconds(1)
        } else if rate > 0 {
            count = 1
            window = .milliseconds(Int((1000 / rate).rounded(.up)))
        } else {
            count = 0
            window = .seconds(1)
        }
    }
}

/// Ascending instants with removal from the front; amortised O(1) per send, so a
/// benchmark at thousands of sends per second does not pay for the window's size.
struct SlidingWindow {
    private var instants: [ContinuousClock.Instant] = []
    private var head = 0

    mutating func append(_ instant: ContinuousClock.Instant) { instants.append(instant) }

    /// Drops instants at or before `cutoff`.
    mutating func prune(through cutoff: ContinuousClock.Instant) {
        while head < instants.count, instants[head] <= cutoff { head += 1 }
        if head > 1024, head * 2 > instants.count {
            instants.removeFirst(head)
            head = 0
        }
    }

    /// How many instants are after `cutoff`.
    func count(after cutoff: ContinuousClock.Instant) -> Int {
        instants.count - firstIndex(after: cutoff)
    }

    func first(after cutoff: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        let index = firstIndex(after: cutoff)
        return index < instants.count ? instants[index] : nil
    }

    private func firstIndex(after cutoff: ContinuousClock.Instant) -> Int {
        var low = head, high = instants.count
        while low < high {
            let middle = (low + high) / 2
            if instants[middle] <= cutoff { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
