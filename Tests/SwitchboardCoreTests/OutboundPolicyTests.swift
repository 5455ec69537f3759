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

    @Test(arguments: [1.0, 5, 50, 80, 1000])
    func noOneSecondWindowHoldsMoreThanTheRate(_ rate: Double) {
        var throttle = SessionThrottle(rate: rate, bulkShare: 0.5)
        var times: [Double] = []
        var now = 0.0
        for index in 0..<Int(rate * 5) {
            let at = throttle.reserve(index % 3 == 0 ? .bulk : .transactional, now: now)!
            times.append(at)
            now = at  // the caller waits until its slot
        }
        #expect(busiestSecond(times) <= Int(rate))
        // And it does not go much slower than the rate either (the 10 % margin).
        #expect(times.last! < 5.6)
    }

    @Test func bulkUsesOnlyItsShareWhileTransactionalMayUseEverything() {
        var throttle = SessionThrottle(rate: 10, bulkShare: 0.2)
        var bulk: [Double] = []
        for _ in 0..<10 { bulk.append(throttle.reserve(.bulk, now: 0)!) }
        #expect(busiestSecond(bulk) <= 2)
        var alone = SessionThrottle(rate: 10, bulkShare: 0.2)
        let transactional = (0..<10).map { _ in alone.reserve(.transactional, now: 0)! }
        #expect(busiestSecond(transactional) == 10)
        // With bulk waiting, a transactional message is not held back by bulk's pace.
        var mixed = SessionThrottle(rate: 10, bulkShare: 0.2)
        _ = mixed.reserve(.bulk, now: 0)
        let next = mixed.reserve(.transactional, now: 0)!
        // One session interval (0.11 s with the margin), not bulk's 0.55 s.
        #expect(next < 0.12)
        #expect(SessionThrottle(rate: 10, bulkShare: 0).earliest(.bulk, now: 0) == nil)
    }

    @Test func theMarginAbsorbsArrivalJitter() {
        // Sent a full interval apart, arriving up to 45 ms early or late: still no
        // second holds more than the rate.
        var throttle = SessionThrottle(rate: 50, bulkShare: 1)
        var generator = SystemRandomNumberGenerator()
        var arrivals: [Double] = []
        var now = 0.0
        for _ in 0..<500 {
            now = throttle.reserve(.bulk, now: now)!
            arrivals.append(now + Double.random(in: -0.045...0.045, using: &generator))
        }
        #expect(busiestSecond(arrivals.sorted()) <= 50)
    }

    @Test func anUnusedSlotIsGivenBack() {
        var throttle = SessionThrottle(rate: 2, bulkShare: 1)
        let first = throttle.reserve(.bulk, now: 0)!
        throttle.release(.bulk, reservedAt: first)
        #expect(throttle.reserve(.bulk, now: 0) == first)
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
