import Foundation
import Logging
import Synchronization
import SwitchboardTelemetry
import Testing

/// `SWITCHBOARD_LOG_FORMAT=json`: every line one JSON object a log shipper parses, whatever
/// the message and metadata hold.
struct JSONLogHandlerTests {
    @Test func eachLineIsOneJSONObjectWithTheMetadataAndNothingEscapesIt() throws {
        let lines = Mutex<[[UInt8]]>([])
        var handler = JSONLogHandler(label: "switchboard") { line in lines.withLock { $0.append(line) } }
        handler.logLevel = .debug
        handler[metadataKey: "service"] = "dispatcher"
        let logger = Logger(label: "switchboard") { _ in handler }
        logger.notice("sent \"quoted\"\nsecond line\t\u{1}", metadata: [
            "tenant": "acme", "message_id": "01M7ZQ", "note": "naïve ✓ \\ end",
            "tiers": .array(["5s", "30s"]), "limits": .dictionary(["rate": "20"]),
        ])
        logger.trace("not at this level")

        let written = lines.withLock { $0 }
        #expect(written.count == 1)
        let line = try #require(written.first)
        #expect(line.last == UInt8(ascii: "\n"))
        #expect(line.dropLast().contains(UInt8(ascii: "\n")) == false)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
        #expect(object["level"] as? String == "notice")
        #expect(object["label"] as? String == "switchboard")
        #expect(object["message"] as? String == "sent \"quoted\"\nsecond line\t\u{1}")
        #expect(object["service"] as? String == "dispatcher")
        #expect(object["tenant"] as? String == "acme")
        #expect(object["note"] as? String == "naïve ✓ \\ end")
        #expect(object["tiers"] as? [String] == ["5s", "30s"])
        #expect((object["limits"] as? [String: String]) == ["rate": "20"])
        let time = try #require(object["time"] as? String)
        #expect(ISO8601DateFormatter.withFractionalSeconds.date(from: time) != nil, "\(time)")
    }
}

extension ISO8601DateFormatter {
    static var withFractionalSeconds: ISO8601DateFormatter {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }
}
