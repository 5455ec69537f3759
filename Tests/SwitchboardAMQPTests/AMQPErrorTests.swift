import Testing
@testable import SwitchboardAMQP

@Suite("Typed errors")
struct AMQPErrorTests {
    @Test(arguments: [
        (UInt16(404), AMQPError.Code.notFound), (406, .preconditionFailed), (405, .resourceLocked),
        (403, .accessRefused), (530, .accessRefused), (320, .connectionLost), (541, .channelClosed),
    ])
    func brokerReplyCodesMapToCodes(_ reply: UInt16, _ code: AMQPError.Code) {
        let error = AMQPError.brokerClose(replyCode: reply, text: "x")
        #expect(error.code == code)
        #expect(error.replyCode == reply)
    }

    @Test func loginRefusalIsAnAuthenticationFailure() {
        #expect(AMQPError.brokerClose(replyCode: 403, text: "ACCESS_REFUSED", duringLogin: true).code
            == .authenticationFailed)
    }

    @Test func onlyTransientFailuresAreRetryable() {
        #expect(AMQPError(.connectionLost, "").isRetryable)
        #expect(AMQPError(.notConnected, "").isRetryable)
        #expect(AMQPError(.publishNacked, "").isRetryable)
        #expect(!AMQPError(.preconditionFailed, "").isRetryable)
        #expect(!AMQPError(.authenticationFailed, "").isRetryable)
        #expect(!AMQPError(.publishReturned, "").isRetryable)
    }
}
