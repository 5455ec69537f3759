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
        #expect(tracker.record("a", exchange: "", routingKey: "q", messageID: nil) == 1)
        #expect(tracker.record("b", exchange: "", routingKey: "q", messageID: nil) == 2)
        #expect(tracker.count == 2)
    }

    @Test func multipleAckSettlesEveryEarlierPublish() {
        var tracker = tracker(5)
        #expect(tracker.settle(deliveryTag: 3, multiple: true).map(\.token) == [1, 2, 3])
        #expect(tracker.count == 2)
        #expect(tracker.settle(deliveryTag: 3, multiple: true).isEmpty)
        #expect(tracker.settle(deliveryTag: 5, multiple: true).map(\.token) == [4, 5])
        #expect(tracker.isEmpty)
    }

    @Test func singleAckSettlesOnlyItsOwnPublishEvenOutOfOrder() {
        var tracker = tracker(4)
        #expect(tracker.settle(deliveryTag: 3, multiple: false).map(\.token) == [3])
        #expect(tracker.settle(deliveryTag: 1, multiple: false).map(\.token) == [1])
        #expect(tracker.settle(deliveryTag: 9, multiple: false).isEmpty)
        #expect(tracker.settle(deliveryTag: 4, multiple: true).map(\.token) == [2, 4])
    }

    @Test func returnMarksTheOldestMatchingPublish() {
        var tracker = PublishConfirmTracker<Int>()
        tracker.record(1, exchange: "sb.outbound", routingKey: "acme.bulk", messageID: nil)
        tracker.record(2, exchange: "sb.outbound", routingKey: "ghost.bulk", messageID: nil)
        tracker.record(3, exchange: "sb.outbound", routingKey: "ghost.bulk", messageID: nil)
        #expect(tracker.markReturned(exchange: "sb.outbound", routingKey: "ghost.bulk", messageID: nil, code: 312,
                                     text: "NO_ROUTE"))
        let settled = tracker.settle(deliveryTag: 3, multiple: true)
        #expect(settled.map(\.token) == [1, 2, 3])
        #expect(settled.map { $0.returned?.code } == [nil, 312, nil])
        #expect(!tracker.markReturned(exchange: "sb.outbound", routingKey: "ghost.bulk", messageID: nil, code: 312,
                                      text: "NO_ROUTE"))
    }

    @Test func removeAllHandsBackEverythingAndRestartsNumbering() {
        var tracker = tracker(3)
        #expect(tracker.removeAll().map(\.token) == [1, 2, 3])
        #expect(tracker.record(9, exchange: "", routingKey: "", messageID: nil) == 1)
    }
}
