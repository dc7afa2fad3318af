import OspreyCore
import Testing

@Suite struct DurationTextTests {
    @Test func parsesEveryUnit() {
        #expect(DurationText.parse("250ms") == .milliseconds(250))
        #expect(DurationText.parse("10s") == .seconds(10))
        #expect(DurationText.parse("5m") == .seconds(300))
        #expect(DurationText.parse("2h") == .seconds(7200))
        #expect(DurationText.parse("7d") == .seconds(604_800))
        #expect(DurationText.parse("1h30m") == .seconds(5400))
        #expect(DurationText.parse("1.5s") == .milliseconds(1500))
    }

    @Test func refusesMalformedText() {
        for text in ["", "10", "s", "10x", "-5s", "ten seconds", "5 m"] {
            #expect(DurationText.parse(text) == nil, "accepted '\(text)'")
        }
    }

    @Test func formatsInTheLargestExactUnit() {
        #expect(DurationText.format(.seconds(604_800)) == "7d")
        #expect(DurationText.format(.seconds(90)) == "90s")
        #expect(DurationText.format(.milliseconds(250)) == "250ms")
        #expect(DurationText.format(.zero) == "0s")
    }
}
