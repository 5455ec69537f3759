public import Foundation

/// A tenant's opening hours in its own time zone: per weekday, intervals like
/// `09:00-17:30`; a day without intervals is closed. Used for the bot's out-of-hours reply.
public struct OfficeHours: Sendable, Hashable, Codable {
    /// An IANA zone name, e.g. `Europe/Berlin`.
    public var timeZone: String
    /// Keys `mon` … `sun`; values like `["09:00-12:00", "13:00-17:00"]`.
    public var days: [String: [String]]

    public static let weekdays = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    public init(timeZone: String, days: [String: [String]]) {
        self.timeZone = timeZone
        self.days = days
    }

    enum CodingKeys: String, CodingKey {
        case timeZone = "time_zone", days
    }

    /// Checks the zone, the day names and every interval; names the field at fault.
    public func validated() throws(RegistryError) -> OfficeHours {
        guard TimeZone(identifier: timeZone) != nil else {
            throw .invalid(field: "office_hours.time_zone", "'\(timeZone)' is not an IANA time zone (e.g. Europe/Berlin)")
        }
        for (day, intervals) in days {
            guard Self.weekdays.contains(day) else {
                throw .invalid(field: "office_hours.days", "'\(day)' is not one of mon tue wed thu fri sat sun")
            }
            for interval in intervals where Self.minutes(of: interval) == nil {
                throw .invalid(field: "office_hours.days.\(day)",
                               "'\(interval)' is not an interval like 09:00-17:30 (start before end, 24:00 allowed as end)")
            }
        }
        return self
    }

    /// True when `date` falls inside an interval of its weekday in the tenant's zone.
    public func isOpen(at date: Date) -> Bool {
        guard let zone = TimeZone(identifier: timeZone) else { return true }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let parts = calendar.dateComponents([.weekday, .hour, .minute], from: date)
        guard let weekday = parts.weekday, let hour = parts.hour, let minute = parts.minute else { return true }
        let now = hour * 60 + minute
        return (days[Self.weekdays[weekday - 1]] ?? []).contains { interval in
            guard let range = Self.minutes(of: interval) else { return false }
            return range.contains(now)
        }
    }

    /// `09:00-17:30` as minutes of the day, end excluded.
    static func minutes(of interval: String) -> Range<Int>? {
        let ends = interval.split(separator: "-", omittingEmptySubsequences: false)
        guard ends.count == 2, let start = minute(of: ends[0]), let end = minute(of: ends[1]), start < end else {
            return nil
        }
        return start..<end
    }

    private static func minute(of text: Substring) -> Int? {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2, let hour = Int(parts[0]),
              let minute = Int(parts[1]), (0...59).contains(minute), (0...24).contains(hour),
              hour < 24 || minute == 0
        else { return nil }
        return hour * 60 + minute
    }
}
