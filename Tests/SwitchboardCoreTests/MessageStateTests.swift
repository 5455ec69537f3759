import SwitchboardCore
import Testing

@Suite("MessageState.advances(to:): statuses move a message forward only")
struct MessageStateTests {
    @Test("Forward along accepting → queued → sent → delivered → read → played", arguments: [
        (MessageState.accepting, MessageState.queued), (.unconfirmed, .queued),
        (.accepting, .sent), (.unconfirmed, .sent), (.queued, .sent),
        (.queued, .delivered), (.sent, .delivered),
        (.queued, .read), (.sent, .read), (.delivered, .read),
        (.sent, .played), (.delivered, .played), (.read, .played),
    ])
    func forwardMovesAdvance(_ from: MessageState, _ to: MessageState) {
        #expect(from.advances(to: to), "\(from) → \(to)")
    }

    @Test("Never backwards, never to where it already is", arguments: [
        (MessageState.read, MessageState.delivered), (.read, .sent), (.read, .queued),
        (.played, .read), (.played, .delivered), (.delivered, .sent), (.delivered, .queued),
        (.sent, .queued), (.queued, .queued), (.sent, .sent), (.delivered, .delivered), (.read, .read),
        (.played, .played),
    ])
    func backwardMovesAreRefused(_ from: MessageState, _ to: MessageState) {
        #expect(!from.advances(to: to), "\(from) → \(to)")
    }

    @Test("failed: only before the provider showed delivery", arguments: [
        (MessageState.accepting, true), (.unconfirmed, true), (.queued, true), (.sent, true),
        (.delivered, false), (.read, false), (.played, false),
        (.failed, false), (.expired, false), (.suppressed, false),
    ])
    func failingIsAllowedUpToSent(_ from: MessageState, _ expected: Bool) {
        #expect(from.advances(to: .failed) == expected, "\(from) → failed")
    }

    @Test("A provider's evidence outranks our own failed", arguments: [
        (MessageState.sent, true), (.delivered, true), (.read, true), (.played, true),
        (.accepting, false), (.unconfirmed, false), (.queued, false), (.failed, false),
        (.expired, false), (.suppressed, false),
    ])
    func failedMovesOnOnlyOnProviderEvidence(_ to: MessageState, _ expected: Bool) {
        #expect(MessageState.failed.advances(to: to) == expected, "failed → \(to)")
    }

    @Test("expired and suppressed stay so", arguments: [MessageState.expired, .suppressed])
    func neverSentStaysTerminal(_ from: MessageState) {
        for next in MessageState.allCases {
            #expect(!from.advances(to: next), "\(from) → \(next)")
        }
    }

    @Test("Only a message not yet sent expires or is suppressed", arguments: [
        (MessageState.accepting, true), (.unconfirmed, true), (.queued, true),
        (.sent, false), (.delivered, false), (.read, false), (.played, false), (.failed, false),
    ])
    func expiringAndSuppressingBeforeTheSendOnly(_ from: MessageState, _ expected: Bool) {
        #expect(from.advances(to: .expired) == expected, "\(from) → expired")
        #expect(from.advances(to: .suppressed) == expected, "\(from) → suppressed")
    }

    @Test("accepting and unconfirmed are never a status's target", arguments: MessageState.allCases)
    func acceptingAndUnconfirmedAreNeverTargets(_ from: MessageState) {
        #expect(!from.advances(to: .accepting), "\(from) → accepting")
        #expect(!from.advances(to: .unconfirmed), "\(from) → unconfirmed")
    }

    /// Every pair, against the table written out by hand.
    @Test func theWholeTransitionTable() {
        let allowed: [MessageState: Set<MessageState>] = [
            .accepting: [.queued, .sent, .delivered, .read, .played, .failed, .expired, .suppressed],
            .unconfirmed: [.queued, .sent, .delivered, .read, .played, .failed, .expired, .suppressed],
            .queued: [.sent, .delivered, .read, .played, .failed, .expired, .suppressed],
            .sent: [.delivered, .read, .played, .failed],
            .delivered: [.read, .played],
            .read: [.played],
            .played: [],
            .failed: [.sent, .delivered, .read, .played],
            .expired: [],
            .suppressed: [],
        ]
        #expect(allowed.count == MessageState.allCases.count)
        for from in MessageState.allCases {
            for to in MessageState.allCases {
                let expected = allowed[from]?.contains(to) ?? false
                #expect(from.advances(to: to) == expected, "\(from) → \(to)")
            }
        }
    }
}
