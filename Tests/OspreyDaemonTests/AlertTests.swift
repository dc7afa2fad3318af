import Foundation
import OspreyDaemon
import OspreyTestSupport
import Testing

@Suite struct AlertTests {
    static let awkward = [
        "plain", "quo\"te", "back\\slash", "new\nline", "tab\t", "\u{1}ctl", "é中🙂",
    ]

    func alert(_ index: Int) -> Alert {
        let name = AlertTests.awkward[index % AlertTests.awkward.count]
        return Alert(
            eventID: "ev-\(index)-\(name)", eventType: index % 3 == 0 ? "click" : "order",
            userID: "user-\(name)", eventTimeMs: 1_532_476_800_123 + Int64(index) * 977,
            source: SourcePosition(
                topic: "events", partition: Int32(index % 7), offset: Int64(index)),
            scores: [
                ("fraud", .probability(Double(index % 100) / 100)),
                ("fraud_type", .distribution([("high_amount", 0.25), ("compromised_card", 0.75)])),
                ("bot", .probability(1e-7)),
            ],
            fired: [FiredHead(head: "fraud", score: 0.97, threshold: 0.8)],
            topFeatures: [
                FeatureContribution(name: "TX_AMOUNT", value: 251.5, contribution: 1.25),
                FeatureContribution(name: "user_\(name)", value: -3, contribution: 0.5),
            ],
            modelVersion: index % 4, instance: "box-\(name)", emittedAtMs: 1_780_000_000_000)
    }

    @Test func idsAreDeterministicAndDistinct() {
        #expect(alert(1).alertID == alert(1).alertID)
        #expect(alert(1).json() == alert(1).json())
        #expect(Set((0..<500).map { alert($0).alertID }).count == 500)
    }

    @Test func readsBackWithFoundation() throws {
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(alert(3).json())) as? [String: Any])
        let event = try #require(object["event"] as? [String: Any])
        #expect(event["id"] as? String == "ev-3-new\nline")
        #expect(event["ts"] as? String == "2018-07-25T00:00:03.054Z")
        let scores = try #require(object["scores"] as? [String: Any])
        #expect(scores["fraud"] as? Double == 0.03)
        #expect((scores["fraud_type"] as? [String: Double])?["compromised_card"] == 0.75)
        #expect(object["alert_id"] as? String == alert(3).alertID)
        let record = try #require(
            try JSONSerialization.jsonObject(
                with: Data(
                    ScoreRecord(eventID: "e", modelVersion: 2, scores: alert(3).scores).json()))
                as? [String: Any])
        #expect(record["model_version"] as? Int == 2)
    }

    /// Every alert validates against `config/alert.schema.json`, checked by Python's jsonschema.
    @Test func validatesAgainstTheCommittedSchema() throws {
        let root = TestEnvironment.repositoryRoot
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3",
            root.appendingPathComponent("Tests/OspreyDaemonTests/schema/validate.py").path,
            root.appendingPathComponent("config/alert.schema.json").path,
        ]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
        var lines = Data()
        for index in 0..<200 { lines.append(contentsOf: alert(index).json() + [10]) }
        // One broken alert (an unknown schema version) proves that the validator can fail.
        var broken = alert(0).json()
        broken = Array(
            String(decoding: broken, as: UTF8.self)
                .replacingOccurrences(of: "\"schema_version\":1", with: "\"schema_version\":9").utf8
        )
        lines.append(contentsOf: broken + [10])
        input.fileHandleForWriting.write(lines)
        try input.fileHandleForWriting.close()
        let report = String(
            decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 1)
        #expect(report.split(separator: "\n").count == 1, "validator said: \(report)")
        #expect(report.hasPrefix("line 201:"), "validator said: \(report)")
    }
}
