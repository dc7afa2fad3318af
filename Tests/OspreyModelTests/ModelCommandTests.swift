import Foundation
import OspreyFeatures
import OspreyModel
import OspreyTestSupport
import Testing

/// The model commands as a user runs them: the built `osprey` binary on real files.
@Suite(.timeLimit(.minutes(1))) struct ModelCommandTests {
    static func osprey(_ arguments: [String]) throws -> OspreyRun { try runOsprey(arguments) }

    /// A small events file: three orders of two users on one day.
    static func eventsFile(in directory: URL) throws -> String {
        let orders: [(id: String, user: String, time: String, amount: String)] = [
            ("o1", "u1", "10:00:00", "12.5"), ("o2", "u2", "10:05:00", "700"),
            ("o3", "u1", "11:00:00", "13"),
        ]
        let lines = orders.map { order in
            #"{"type":"order","event_id":"\#(order.id)","user_id":"\#(order.user)","#
                + #""ts":"2026-12-03T\#(order.time)Z","amount":\#(order.amount)}"#
        }
        let path = directory.appendingPathComponent("events.jsonl").path
        try (lines.joined(separator: "\n") + "\n").write(
            toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func model(schema: FeatureSchema) -> Model {
        let heads = [
            HeadSpec(name: "fraud", kind: .sigmoid), HeadSpec(name: "bot", kind: .sigmoid),
        ]
        let shape = NetworkShape(hidden: [8], tower: [], experts: 2)
        let network = makeNetwork(
            .mmoe, inputs: schema.count, heads: heads, shape: shape, seed: 2, as: Float.self)
        return Model(
            network: network, shape: shape, schema: schema,
            normalisation: .identity(width: schema.count), createdAt: "2026-12-04T00:00:00Z")
    }

    @Test func scoreWritesOneRowPerEventAndRefusesBadModels() throws {
        let directory = try TestEnvironment.temporaryDirectory("score-command")
        defer { try? FileManager.default.removeItem(at: directory) }
        let events = try Self.eventsFile(in: directory)
        let schema = try FeatureFileReader(path: events, format: .events).schema

        let good = directory.appendingPathComponent("good.safetensors").path
        try Self.model(schema: schema).save(to: good)
        let csv = directory.appendingPathComponent("scores.csv").path
        let run = try Self.osprey([
            "score", "--model", good, "--input", events, "--format", "events", "--out", csv,
            "--quiet",
        ])
        #expect(run.status == 0, "\(run.error)")
        let rows = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n")
        #expect(rows.first == "event_id,fraud,bot")
        #expect(
            rows.dropFirst().map { $0.split(separator: ",").first ?? "" } == ["o1", "o2", "o3"])
        for row in rows.dropFirst() {
            let values = row.split(separator: ",").dropFirst().compactMap { Double($0) }
            #expect(values.count == 2 && values.allSatisfy { $0 >= 0 && $0 <= 1 })
        }

        let other = directory.appendingPathComponent("other.safetensors").path
        try Self.model(schema: FeatureSchema(names: ["a", "b"])).save(to: other)
        let refused = try Self.osprey([
            "score", "--model", other, "--input", events, "--out", csv, "--quiet",
        ])
        #expect(refused.status == 1)
        #expect(refused.error.contains("feature schema"))

        let broken = directory.appendingPathComponent("broken.safetensors").path
        let bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: broken))
        let corrupt = try Self.osprey([
            "eval", "--model", broken, "--input", events, "--from", "2026-12-03", "--to",
            "2026-12-03",
        ])
        #expect(corrupt.status == 1)
        #expect(corrupt.error.contains("is not usable"))
    }

    @Test func usageErrorsExitWith64() throws {
        let help = try Self.osprey(["train", "--help"])
        #expect(help.status == 0)
        #expect(help.output.hasPrefix("USAGE: osprey train"))
        let noDate = try Self.osprey([
            "train", "--input", "x.jsonl", "--from", "2018-02-31", "--to", "2018-03-01", "--out",
            "m",
        ])
        #expect(noDate.status == 64)
        #expect(noDate.error.contains("--from"))
        let unknownKey = try Self.osprey(["bench", "score", "--architecture", "deep"])
        #expect(unknownKey.status == 64)
        #expect(unknownKey.error.contains("deep"))
        let badFormat = try Self.osprey([
            "eval", "--model", "m", "--input", "x", "--format", "csv", "--from", "2018-01-01",
            "--to", "2018-01-02",
        ])
        #expect(badFormat.status == 64)
    }

    @Test func unknownModelKeyInAConfigFileIsNamed() throws {
        let directory = try TestEnvironment.temporaryDirectory("train-config")
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("osprey.conf").path
        try "# model settings\nmodel.architecture = mmoe\nmodel.expert = 3\n".write(
            toFile: config, atomically: true, encoding: .utf8)
        let run = try Self.osprey([
            "train", "--input", "x.jsonl", "--from", "2018-01-01", "--to", "2018-01-02",
            "--config", config, "--out", "m",
        ])
        #expect(run.status == 64)
        #expect(run.error.contains("model.expert") && run.error.contains("line 3"))
    }

    /// `bench score --config` shapes its fresh model from the file's model.* keys, and names a
    /// bad one with its line.
    @Test func benchScoreTakesTheModelShapeFromAConfigFile() throws {
        let directory = try TestEnvironment.temporaryDirectory("bench-score-config")
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("shape.conf").path
        try "model.hidden = 16\nmodel.experts = 3\ntraining.epochs = 2\n".write(
            toFile: config, atomically: true, encoding: .utf8)
        let run = try Self.osprey([
            "bench", "score", "--config", config, "--features", "10", "--seconds", "0.01",
        ])
        #expect(run.status == 0, "\(run.error)")
        #expect(run.output.contains("model: mmoe, 10 features, hidden [16], tower [16], experts 3"))
        // Experts [10, 16] x 3, gates [10, 3] x 2, towers [16, 16] x 2, heads [16, 1], [16, 4].
        let multiplyAdds: Int = 480 + 60 + 512 + 16 + 64
        #expect(run.output.contains("\(multiplyAdds) multiply-adds per event"))
        #expect(run.output.split(separator: "\n").filter { $0.hasSuffix("%") }.count == 3)

        try "model.hidden = 16\nmodel.experts = many\n".write(
            toFile: config, atomically: true, encoding: .utf8)
        let bad = try Self.osprey(["bench", "score", "--config", config, "--seconds", "0.01"])
        #expect(bad.status == 64)
        #expect(bad.error.contains("model.experts") && bad.error.contains("line 2"))
    }
}
