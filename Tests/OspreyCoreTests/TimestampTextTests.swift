import Foundation
import OspreyCore
import Testing

@Suite struct TimestampTextTests {
    @Test func knownInstants() {
        #expect(TimestampText.rfc3339(milliseconds: 0) == "1970-01-01T00:00:00.000Z")
        #expect(
            TimestampText.rfc3339(milliseconds: 1_532_476_800_000) == "2018-07-25T00:00:00.000Z")
        #expect(TimestampText.rfc3339(milliseconds: 951_782_400_000) == "2000-02-29T00:00:00.000Z")
        #expect(TimestampText.rfc3339(milliseconds: -1) == "1969-12-31T23:59:59.999Z")
    }

    /// Agrees with Foundation's formatter on random instants from 1900 to 2200.
    @Test func agreesWithFoundation() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let millis = Int64.random(in: -2_208_988_800_000...7_258_118_400_000, using: &generator)
            let expected = formatter.string(
                from: Date(timeIntervalSince1970: Double(millis) / 1000))
            #expect(TimestampText.rfc3339(milliseconds: millis) == expected)
        }
    }
}
