import Foundation
import OspreyFeatures
import OspreyTestSupport
import Testing

/// ``LabelTruth``: the truth an events file's label lines carry, joined by event id.
@Suite struct LabelTruthTests {
    @Test func labelLinesGiveEachJudgedEventItsTruth() throws {
        let lines = [
            #"{"type":"order","event_id":"o1","user_id":"u","ts":"2026-01-01T00:00:00Z","#
                + #""amount":10}"#,
            #"{"type":"click","event_id":"c1","user_id":"u","ts":"2026-01-01T00:00:01Z","#
                + #""category":"labels"}"#,
            #"{"type":"label","event_id":"o1","user_id":"u","ts":"2026-01-01T01:00:00Z","#
                + #""label":"fraud","fraud_type":"card_testing"}"#,
            #"{"type":"label","event_id":"o2","user_id":"u","ts":"2026-01-01T01:00:00Z","#
                + #""label":"legit","fraud_type":"ignored for a legit order"}"#,
            #"{"type":"label","event_id":"c1","user_id":"u","ts":"2026-01-01T01:00:01Z","#
                + #""label":"bot"}"#,
            #"{"type":"label","event_id":"c2","user_id":"u","ts":"2026-01-01T01:00:01Z","#
                + #""label":"human"}"#,
            #"{"type":"label","event_id":"x1","user_id":"u","ts":"2026-01-01T01:00:02Z","#
                + #""label":"maybe"}"#,
            #"{"type":"label","label":"fraud" broken"#,
        ]
        let directory = try TestEnvironment.temporaryDirectory("label-truth")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("events.jsonl").path
        try (lines.joined(separator: "\n") + "\n").write(
            toFile: path, atomically: true, encoding: .utf8)

        let truth = try LabelTruth.read(path: path)
        #expect(truth["o1"] == EventTruth(fraud: true, fraudType: "card_testing"))
        #expect(truth["o2"] == EventTruth(fraud: false))
        #expect(truth["c1"] == EventTruth(bot: true))
        #expect(truth["c2"] == EventTruth(bot: false))
        // An unknown verdict and a broken line judge nothing; events are not labels.
        #expect(truth.count == 4)
    }
}
