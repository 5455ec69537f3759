import DequeModule

/// The publishes on one confirm-mode channel that the broker has not yet acked or
/// nacked, by sequence number, and which of them came back as returns.
///
/// The broker numbers confirms from 1 per channel; `basic.ack`/`basic.nack` with
/// `multiple` settle every earlier number too. A `basic.return` carries no sequence
/// number: it is matched to the oldest unsettled publish with the same exchange,
/// routing key and message id (routing happens in publish order, so the oldest
/// candidate is the one the broker returned).
struct PublishConfirmTracker<Token> {
    struct Pending {
        let sequence: UInt64
        let token: Token
        let exchange: String
        let routingKey: String
        let messageID: String?
        var returned: (code: UInt16, text: String)?
    }

    private var pending: Deque<Pending> = []
    private(set) var nextSequence: UInt64 = 1

    var count: Int { pending.count }
    var isEmpty: Bool { pending.isEmpty }

    /// Records a publish about to be sent and returns its sequence number.
    @discardableResult
    mutating func record(_ token: Token, exchange: String, routingKey: String, messageID: String?) -> UInt64 {
        let sequence = nextSequence
        nextSequence += 1
        pending.append(Pending(sequence: sequence, token: token, exchange: exchange, routingKey: routingKey,
                               messageID: messageID))
        return sequence
    }

    /// Removes and returns the publishes a `basic.ack` or `basic.nack` settles.
    mutating func settle(deliveryTag: UInt64, multiple: Bool) -> [Pending] {
        if multiple {
            var settled: [Pending] = []
            while let first = pending.first, first.sequence <= deliveryTag {
                settled.append(pending.removeFirst())
            }
            return settled
        }
        if pending.first?.sequence == deliveryTag {
            return [pending.removeFirst()]
        }
        guard let index = pending.firstIndex(where: { $0.sequence == deliveryTag }) else { return [] }
        return [pending.remove(at: index)]
    }

    /// Marks the oldest matching unsettled publish as returned. False when none matches.
    @discardableResult
    mutating func markReturned(exchange: String, routingKey: String, messageID: String?, code: UInt16,
                               text: String) -> Bool {
        guard let index = pending.firstIndex(where: {
            $0.returned == nil && $0.exchange == exchange && $0.routingKey == routingKey && $0.messageID == messageID
        }) else { return false }
        pending[index].returned = (code, text)
        return true
    }

    /// Everything unsettled, for a channel or connection that is gone; numbering restarts.
    mutating func removeAll() -> [Pending] {
        let all = Array(pending)
        pending.removeAll()
        nextSequence = 1
        return all
    }
}
