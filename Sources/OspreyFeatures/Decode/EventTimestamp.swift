/// Event times as the contract writes them: RFC 3339 text or epoch milliseconds.
public enum EventTimestamp {
    /// 2000-01-01T00:00:00Z in epoch milliseconds: the earliest time an event may carry.
    public static let earliestMs: Int64 = 946_684_800_000
    /// 2100-01-01T00:00:00Z in epoch milliseconds: every event time lies before it.
    public static let latestMs: Int64 = 4_102_444_800_000

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` into epoch milliseconds.
    ///
    /// The separator may be `T`, `t` or a space and `Z` may be lower case; fractions beyond
    /// milliseconds are truncated. Returns nil for anything else, for impossible dates
    /// (February 30th), and for times outside ``earliestMs``..<``latestMs``.
    public static func parse(_ text: UnsafeRawBufferPointer) -> Int64? {
        let count = text.count
        guard count >= 20 else { return nil }
        func digit(_ index: Int) -> Int? {
            let byte = text[index]
            return byte >= 48 && byte <= 57 ? Int(byte - 48) : nil
        }
        func number(_ start: Int, _ length: Int) -> Int? {
            var value = 0
            for index in start..<(start + length) {
                guard let next = digit(index) else { return nil }
                value = value * 10 + next
            }
            return value
        }
        guard let year = number(0, 4), text[4] == 45, let month = number(5, 2), text[7] == 45,
            let day = number(8, 2), text[10] == 84 || text[10] == 116 || text[10] == 32,
            let hour = number(11, 2), text[13] == 58, let minute = number(14, 2),
            text[16] == 58, let second = number(17, 2)
        else { return nil }
        guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year),
            hour <= 23, minute <= 59, second <= 59
        else { return nil }

        var index = 19
        var millis = 0
        if text[index] == 46 {
            index += 1
            var digits = 0
            while index < count, let next = digit(index) {
                if digits < 3 { millis = millis * 10 + next }
                digits += 1
                index += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<3 where digits < 3 { millis *= 10 }
        }
        guard index < count else { return nil }
        var offsetMinutes = 0
        switch text[index] {
        case 90, 122:
            index += 1
        case 43, 45:
            guard index + 6 == count, let offsetHours = number(index + 1, 2), text[index + 3] == 58,
                let offsetMins = number(index + 4, 2), offsetHours <= 23, offsetMins <= 59
            else { return nil }
            offsetMinutes = (offsetHours * 60 + offsetMins) * (text[index] == 45 ? -1 : 1)
            index += 6
        default:
            return nil
        }
        guard index == count else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds =
            Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second)
            - Int64(offsetMinutes * 60)
        let result = seconds * 1000 + Int64(millis)
        return isPlausible(result) ? result : nil
    }

    /// Whether epoch milliseconds lie in ``earliestMs``..<``latestMs``.
    public static func isPlausible(_ millis: Int64) -> Bool {
        millis >= earliestMs && millis < latestMs
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2:
            let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
            return leap ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// The hour of day (0–23, UTC) and weekday (0 = Monday … 6 = Sunday) of epoch milliseconds.
    public static func hourAndWeekday(_ millis: Int64) -> (hour: Int, weekday: Int) {
        let days = millis >= 0 ? millis / 86_400_000 : (millis - 86_399_999) / 86_400_000
        let hour = Int((millis - days * 86_400_000) / 3_600_000)
        // 1970-01-01 was a Thursday (weekday 3).
        let weekday = Int(((days % 7) + 7 + 3) % 7)
        return (hour, weekday)
    }
}
