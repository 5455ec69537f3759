import Testing
@testable import SwitchboardAMQP

@Suite("Publisher confirms")
struct PublishConfirmTrackerTests {
    private func tracker(_ count: Int) -> PublishConfirmTracker<Int> {
        var tracker = PublishConfirmTracker<Int>()
        for token in 1...count { tracker.record(token, exchange: "x", routingKey: "k\(token)", messageID: "m\(token)") }
        return tracker
    }

    @Test func numbersPublishesFromOne() {
        var tracker = PublishConfirmTracker<String>()
        let a = tracker.record("a", exchange: "", routingKey: "q", messageID: nil)
        let b = tracker.record("b", exchange: "", routingKey: "q", messageID: nil)
        #expect(a == 1)
        #expect(b == 2)
        #expect(tracker.count == 2)
    }

    @Test func multipleAckSettlesEveryEarlierPublish() {
        var tracker = tracker(5)
        let first = tracker.settle(deliveryTag: 3, multiple: true).map(\.token)
        #expect(first == [1, 2, 3])
        #expect(tracker.count == 2)
        let again = tracker.settle(deliveryTag: 3, multiple: true)
        #expect(again.isEmpty)
        let rest = tracker.settle(deliveryTag: 5, multiple: true).map(\.token)
        #expect(rest == [4, 5])
        #expect(tracker.isEmpty)
    }

    @Test func singleAckSettlesOnlyItsOwnPublishEvenOutOfOrder() {
        var tracker = tracker(4)
        let three = tracker.settle(deliveryTag: 3, multiple: false).map(\.token)
        let one = tracker.settle(deliveryTag: 1, multiple: false).map(\.token)
        let unknown = tracker.settle(deliveryTag: 9, multiple: false)
        let rest = tracker.settle(deliveryTag: 4, multiple: true).map(\.token)
        #expect(three == [3])
        #expect(one == [1])
        #expect(unknown.isEmpty)
        #expect(rest == [2, 4])
    }

    @Test func returnMarksTheOldestMatchingPublish() {
        var tracker = PublishConfirmTracker<Int>()
        tracker.record(1, exchange: "sb.outbound", routingKey: "acme.bulk", messageID: nil)
        tracker.record(2, exchange: "sb.outbound", routingKey: "ghost.bulk", messageID: nil)
        tracker.record(3, exchange: "sb.outbound", routingKey: "ghost.bulk", messageID: nil)
        let matched = tracker.markReturned(exchange: "sb.outbound", routingKey: "ghost.bulk", messageID: nil,
                                           code: 312, text: "NO_ROUTE")
        #expect(matched)
        let settled = tracker.settle(deliveryTag: 3, multiple: true)
        #expect(settled.map(\.token) == [1, 2, 3])
        #expect(settled.map { $0.returned?.code } == [nil, 312, nil])
        let matchedAgain = tracker.markReturned(exchange: "sb.outbound", routingKey: "ghost.bulk", messageID: nil,
                                                code: 312, text: "NO_ROUTE")
        #expect(!matchedAgain)
    }

    @Test func removeAllHandsBackEverythingAndRestartsNumbering() {
        var tracker = tracker(3)
        let all = tracker.removeAll().map(\.token)
        let next = tracker.record(9, exchange: "", routingKey: "", messageID: nil)
        #expect(all == [1, 2, 3])
        #expect(next == 1)
    }
}
