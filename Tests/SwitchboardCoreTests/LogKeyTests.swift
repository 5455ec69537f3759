import SwitchboardCore
import Testing

@Suite("Log metadata keys")
struct LogKeyTests {
    /// Operators' log queries name these keys: their spellings do not change.
    @Test func identityKeysKeepTheirDocumentedSpellings() {
        #expect(LogKey.tenant == "tenant")
        #expect(LogKey.session == "session")
        #expect(LogKey.messageID == "message_id")
        #expect(LogKey.providerMessageID == "provider_message_id")
        #expect(LogKey.eventID == "event_id")
        #expect(LogKey.contact == "contact")
    }
}
