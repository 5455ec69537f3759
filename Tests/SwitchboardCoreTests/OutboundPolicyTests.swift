import SwitchboardCore
import Testing

@Suite("Session throttle and retry schedule")
struct OutboundPolicyTests {
    /// The most sends in any window [t, t + 1).
    private func busiestSecond(_ times: [Double]) -> Int {
        var best = 0
        var start = 0
        for end in times.indices {
            while times[end] - times[start] >= 1 { start += 1 }
            best = max(best, end - start + 1)
        }
        return best
    }

    /// Sends as a caller would: take the slot when due, else wait until the earliest
    /// time (plus `lateness`, a wake-up that comes late).
    private func send(_ classes: [MessageClass], through throttle: inout SessionThrottle, lateness: Double = 0)
        -> [Double]
    {
        var now = 0.0
        var times: [Double] = []
        for messageClass in classes {
            while !throttle.take(messageClass, now: now) {
                now = throttle.earliest(messageClass, now: now)! + lateness
            }
            times.append(now)
        }
        return times
    }

    @Test(arguments: [1.0, 5, 50, 80, 1000])
    func noOneSecondWindowHoldsMoreThanTheRate(_ rate: Double) {
        var throttle = SessionThrottle(rate: rate, bulkShare: 0.5)
        let classes = (0..<Int(rate * 5)).map { $0 % 3 == 0 ? MessageClass.bulk : .transactional }
        let times = send(classes, through: &throttle)
        #expect(busiestSecond(times) <= Int(rate))
        // And it does not go much slower than the rate allows (bulk's share and the margin).
        #expect(times.last! < 8)
    }

    @Test func aLateWakeUpDoesNotBunchSends() {
        // Every wake-up comes 300 ms late (a stalled machine): still no second holds more
        // than the rate, because slots are taken when used, not booked ahead.
        var throttle = SessionThrottle(rate: 5, bulkShare: 1)
        let times = send(Array(repeating: .bulk, count: 30), through: &throttle, lateness: 0.3)
        #expect(busiestSecond(times) <= 5)
    }

    @Test func bulkUsesOnlyItsShareWhileTransactionalMayUseEverything() {
        var throttle = SessionThrottle(rate: 10, bulkShare: 0.2)
        let bulk = send(Array(repeating: .bulk, count: 10), through: &throttle)
        #expect(busiestSecond(bulk) <= 2)
        var alone = SessionThrottle(rate: 10, bulkShare: 0.2)
        let transactional = send(Array(repeating: .transactional, count: 10), through: &alone)
        // The whole rate but the margin: 10 slots 0.115 s apart span 1.035 s, 9 fit a second.
        #expect(busiestSecond(transactional) == 9)
        // After a bulk send, a transactional message waits one session interval, not bulk's.
        var mixed = SessionThrottle(rate: 10, bulkShare: 0.2)
        let took = mixed.take(.bulk, now: 0)
        #expect(took)
        #expect(mixed.earliest(.transactional, now: 0)! < 0.12)
        #expect(mixed.earliest(.bulk, now: 0)! > 0.5)
        #expect(SessionThrottle(rate: 10, bulkShare: 0).earliest(.bulk, now: 0) == nil)
    }

    @Test func theMarginAbsorbsArrivalJitter() {
        // Sent a full interval apart, arriving up to 70 ms early or late (150 ms of
        // compression in all at most): still no second holds more than the rate.
        var throttle = SessionThrottle(rate: 50, bulkShare: 1)
        var generator = SystemRandomNumberGenerator()
        let sent = send(Array(repeating: .bulk, count: 500), through: &throttle)
        let arrivals = sent.map { $0 + Double.random(in: -0.07...0.07, using: &generator) }
        #expect(busiestSecond(arrivals.sorted()) <= 50)
    }

    private let tiers = ["1s", "5s", "30s", "2m", "10m", "1h"].map { try! RetryTier($0) }

    @Test func retriesBackOffExponentiallyThroughTheTiersForAboutAnHour() {
        let schedule = RetrySchedule(tiers: tiers)
        var waits: [String] = []
        var attempt = 1
        while case .retry(let tier) = schedule.decision(afterAttempt: attempt) {
            waits.append(tier.name)
            attempt += 1
        }
        #expect(waits == ["5s", "30s", "2m", "10m", "1h"])
        #expect(attempt == 6)  // six attempts in all, then give up
        let total = waits.compactMap { name in tiers.first { $0.name == name }?.milliseconds }.reduce(0, +)
        #expect((3_600_000...5_400_000).contains(total))
    }

    @Test func retryAfterPicksTheFirstTierLongEnough() {
        let schedule = RetrySchedule(tiers: tiers)
        #expect(schedule.decision(afterAttempt: 1, retryAfter: .seconds(3)) == .retry(tiers[1]))
        #expect(schedule.decision(afterAttempt: 1, retryAfter: .seconds(60)) == .retry(tiers[3]))
        #expect(schedule.decision(afterAttempt: 1, retryAfter: .seconds(7200)) == .retry(tiers[5]))
        #expect(schedule.decision(afterAttempt: 6, retryAfter: .seconds(1)) == .giveUp)
        #expect(RetrySchedule(tiers: tiers, maximumAttempts: 1).decision(afterAttempt: 1) == .giveUp)
    }

    @Test func failuresAreClassifiedByStatusAndProviderCode() {
        #expect(SendFailure.http(status: 429, detail: "slow down").isTransient)
        #expect(SendFailure.http(status: 503, detail: "down").isTransient)
        #expect(SendFailure.http(status: 408, detail: "timeout").isTransient)
        #expect(!SendFailure.http(status: 400, detail: "bad").isTransient)
        #expect(!SendFailure.http(status: 404, detail: "gone").isTransient)
        for code in [130429, 131056, 80007] {
            let failure = SendFailure.http(status: 400, providerCode: code, detail: "limit")
            #expect(failure.isTransient)
            #expect(failure.code == "meta-\(code)")
        }
        #expect(!SendFailure.http(status: 400, providerCode: 131026, detail: "not on WhatsApp").isTransient)
    }
}
