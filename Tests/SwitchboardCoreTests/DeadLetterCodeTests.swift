import SwitchboardCore
import Testing

@Suite("The dead-letter code and its sb-error-code wire form")
struct DeadLetterCodeTests {
    @Test func aReasonAloneIsItsName() {
        #expect(DeadLetterCode(.expired).wireValue == "expired")
        #expect(DeadLetterCode(.unknownSession).wireValue == "unknown-session")
        #expect(DeadLetterCode(.bulkNotAllowed).wireValue == "bulk-not-allowed")
        #expect(DeadLetterCode(wireValue: "invalid") == DeadLetterCode(.invalid))
        #expect(DeadLetterCode(wireValue: "malformed").detailCode == nil)
    }

    @Test func theProvidersCodeFollowsTheReasonAfterAColon() {
        let code = DeadLetterCode(.retriesExhausted, detailCode: "http-503")
        #expect(code.wireValue == "retries-exhausted:http-503")
        #expect("\(code)" == "retries-exhausted:http-503")
        let read = DeadLetterCode(wireValue: "retries-exhausted:http-503")
        #expect(read.reason == .retriesExhausted)
        #expect(read.detailCode == "http-503")
        #expect(read == code)
    }

    @Test func wireFormsRoundTrip() {
        for wire in ["expired", "retries-exhausted:meta-131048", "invalid-recipient", "a:b:c", "reason:"] {
            #expect(DeadLetterCode(wireValue: wire).wireValue == wire)
        }
        #expect(DeadLetterCode(wireValue: "a:b:c").reason.rawValue == "a")
        #expect(DeadLetterCode(wireValue: "a:b:c").detailCode == "b:c")
    }

    @Test func aSendThatFailedForGoodIsCodedAsBefore() {
        let transient = SendFailure(.transient, code: "timeout", detail: "no answer")
        #expect(DeadLetterCode(failing: transient).wireValue == "retries-exhausted:timeout")
        #expect(DeadLetterCode(failing: transient).reason == .retriesExhausted)
        let permanent = SendFailure(.permanent, code: "invalid-recipient", detail: "no such number")
        #expect(DeadLetterCode(failing: permanent).wireValue == "invalid-recipient")
        #expect(DeadLetterCode(failing: permanent).reason.rawValue == "invalid-recipient")
        #expect(DeadLetterCode(failing: permanent).detailCode == nil)
    }
}
