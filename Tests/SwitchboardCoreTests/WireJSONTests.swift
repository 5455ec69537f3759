import Foundation
import SwitchboardCore
import Testing

@Suite("JSON conventions of the contracts")
struct WireJSONTests {
    @Test func readsRFC3339WithOrWithoutFractionsAndOffsets() throws {
        let base = Date(timeIntervalSince1970: 1_795_276_800)  // 2026-11-21T16:00:00Z
        #expect(WireJSON.parseDate("2026-11-21T16:00:00Z") == base)
        #expect(WireJSON.parseDate("2026-11-21T16:00:00.250Z") == base.addingTimeInterval(0.25))
        #expect(WireJSON.parseDate("2026-11-21T18:00:00+02:00") == base)
        for bad in ["tomorrow", "2026-11-21", "2026-11-21 16:00:00", "", "16:00:00Z"] {
            #expect(WireJSON.parseDate(bad) == nil, "\(bad)")
        }
    }

    @Test func writesMillisecondsInUTCAndReadsThemBack() throws {
        let date = Date(timeIntervalSince1970: 1_795_276_800.125)
        #expect(WireJSON.format(date) == "2026-11-21T16:00:00.125Z")
        struct Stamp: Codable { var at: Date }
        let data = try WireJSON.encoder().encode(Stamp(at: date))
        #expect(String(decoding: data, as: UTF8.self) == #"{"at":"2026-11-21T16:00:00.125Z"}"#)
        let back = try WireJSON.decoder().decode(Stamp.self, from: data)
        #expect(abs(back.at.timeIntervalSince(date)) < 0.001)
        #expect(throws: DecodingError.self) { try WireJSON.decoder().decode(Stamp.self, from: Data(#"{"at":"soon"}"#.utf8)) }
    }
}
