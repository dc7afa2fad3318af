import Foundation
import OspreyCore
import OspreyFeatures
import OspreyModel
import OspreyTestSupport
import Testing

@Suite struct ModelFileTests {
    static let schema = FeatureSchema(names: ["amount", "count_1d", "night", "risk_7d"])

    static func model(_ architecture: Architecture, uncertainty: Bool = false) -> Model {
        let heads = [
            HeadSpec(name: "fraud", kind: .sigmoid),
            HeadSpec(name: "fraud_type", kind: .softmax(classes: ["none", "a", "b"])),
        ]
        let network = makeNetwork(
            architecture, inputs: schema.count, heads: heads,
            shape: NetworkShape(hidden: [8, 6], tower: [4], experts: 3), seed: 11, as: Float.self)
        let model = Model(
            network: network, shape: NetworkShape(hidden: [8, 6], tower: [4], experts: 3),
            schema: schema,
            normalisation: Normalisation(
                mean: [10.5, 2, 0.25, 0.01], scale: [3.3, 1.7, 0.43, 0.1],
                compressed: [true, false, false, true]),
            version: "7", parentVersion: "6", createdAt: "2026-12-04T05:00:00Z")
        model.calibration = [
            "fraud": .platt(a: 1.2345678901234, b: -0.1), "fraud_type": .temperature(1.7),
        ]
        model.thresholds = ["fraud": 0.9]
        model.metrics = ["fraud": ["auc_roc": 0.88, "average_precision": 0.7]]
        if uncertainty {
            model.taskWeighting = "uncertainty"
            model.logVariance = [0.25, -0.5]
        }
        return model
    }

    static func features(rows: Int) -> [Float] {
        var random = SeededRandom(seed: 5)
        return (0..<(rows * schema.count)).map { _ in Float(random.unit() * 20 - 5) }
    }

    static func bits(_ model: Model, rows: Int) -> [[UInt32]] {
        Scorer(model: model).scoreAll(features(rows: rows), rows: rows).map { $0.map(\.bitPattern) }
    }

    @Test(arguments: Architecture.allCases)
    func roundTripGivesBitIdenticalScores(_ architecture: Architecture) throws {
        let directory = try TestEnvironment.temporaryDirectory("model-file")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("model.safetensors").path
        let original = Self.model(architecture, uncertainty: architecture == .mmoe)
        try original.save(to: path)
        let loaded = try Model.load(path: path, expecting: Self.schema)
        #expect(Self.bits(loaded, rows: 300) == Self.bits(original, rows: 300))
        #expect(loaded.version == "7" && loaded.parentVersion == "6")
        #expect(loaded.calibration == original.calibration)
        #expect(loaded.thresholds == ["fraud": 0.9])
        #expect(loaded.metrics["fraud"]?["auc_roc"] == 0.88)
        #expect(loaded.heads == original.heads)
        #expect(loaded.logVariance == original.logVariance)
        #expect(loaded.normalisation == original.normalisation)
        // Saving the loaded model again gives the same bytes.
        #expect(loaded.encoded() == original.encoded())
    }

    @Test func fileIsStandardSafetensors() throws {
        let bytes = Self.model(.sharedBottom).encoded()
        var length = 0
        for index in 0..<8 { length |= Int(bytes[index]) << (8 * index) }
        #expect(length % 8 == 0)
        let header = try #require(
            try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + length)])) as? [String: Any])
        let metadata = try #require(header["__metadata__"] as? [String: String])
        #expect(metadata["architecture"] == "shared_bottom")
        #expect(metadata["feature_schema_hash"] == Self.schema.hash)
        let weight = try #require(header["bottom.0.weight"] as? [String: Any])
        #expect(weight["dtype"] as? String == "F32")
        #expect((weight["shape"] as? [NSNumber])?.map(\.intValue) == [4, 8])
        let total = header.filter { $0.key != "__metadata__" }.values.compactMap { entry in
            ((entry as? [String: Any])?["data_offsets"] as? [NSNumber])?.last?.intValue
        }.max()
        #expect(total == bytes.count - 8 - length)
    }

    @Test func schemaMismatchIsRefused() throws {
        let bytes = Self.model(.mmoe).encoded()
        let other = FeatureSchema(names: ["amount", "count_1d", "night", "risk_30d"])
        #expect(throws: ModelError.self) {
            _ = try Model.decode(bytes, path: "m", expecting: other)
        }
        do {
            _ = try Model.decode(bytes, path: "m", expecting: other)
        } catch let error {
            guard case .schemaMismatch = error else {
                Issue.record("expected a schema mismatch, got \(error)")
                return
            }
            #expect(String(describing: error).contains(other.hash))
        }
    }

    static func expectCorrupt(_ bytes: [UInt8], _ comment: Comment) {
        do {
            _ = try Model.decode(bytes, path: "m.safetensors", expecting: schema)
            Issue.record("accepted a damaged file: \(comment)")
        } catch let error {
            guard case .corruptFile = error else {
                Issue.record("expected corruptFile, got \(error)")
                return
            }
        }
    }

    @Test func truncatedAndDamagedFilesAreRefused() {
        let bytes = Self.model(.mmoe).encoded()
        var length = 0
        for index in 0..<8 { length |= Int(bytes[index]) << (8 * index) }
        // Truncated anywhere: inside the length, the header, the data, one byte short.
        for cut in [0, 5, 8, 8 + length / 2, 8 + length, bytes.count - 100, bytes.count - 1] {
            Self.expectCorrupt(Array(bytes.prefix(cut)), "truncated to \(cut) bytes")
        }
        // One flipped bit in the data region is caught by the checksum.
        var flipped = bytes
        flipped[bytes.count - 17] ^= 0x10
        Self.expectCorrupt(flipped, "a flipped data bit")
        // A header length beyond the file, and garbage instead of JSON.
        var huge = bytes
        huge[6] = 0x7f
        Self.expectCorrupt(huge, "a huge header length")
        var garbage = bytes
        for index in 8..<40 { garbage[index] = 0x41 }
        Self.expectCorrupt(garbage, "garbage header")
        // Trailing bytes after the data are a hole the tensors do not cover.
        Self.expectCorrupt(bytes + [0, 0, 0, 0], "trailing bytes")
        Self.expectCorrupt(Array("not a model at all".utf8), "text")
    }

    @Test func missingFileIsAClearError() {
        #expect(throws: ModelError.self) {
            _ = try Model.load(path: "/nonexistent/osprey/model.safetensors")
        }
    }
}

@Suite struct CategoryInputTests {
    @Test func categoryOneHotRoundTripsAndChangesScores() throws {
        let schema = FeatureSchema(names: ["a", "b"])
        let heads = [
            HeadSpec(name: "purchase", kind: .sigmoid),
            HeadSpec(name: "interest", kind: .softmax(classes: ["1", "2", "other"])),
        ]
        let shape = NetworkShape(hidden: [6], tower: [], experts: 2)
        let network = makeNetwork(
            .mmoe, inputs: 4, heads: heads, shape: shape, seed: 4, as: Float.self)
        let model = Model(
            network: network, shape: shape, schema: schema, normalisation: .identity(width: 2),
            categoryInputs: ["1", "2"], createdAt: "2026-12-04T00:00:00Z")
        let loaded = try Model.decode(model.encoded(), path: "m", expecting: schema)
        #expect(loaded.categoryInputs == ["1", "2"])
        let features: [Float] = [0.5, -1, 0.5, -1, 0.5, -1]
        let categories: [String?] = ["1", "2", nil]
        let original = Scorer(model: model).scoreAll(features, rows: 3, categories: categories)
        let reloaded = Scorer(model: loaded).scoreAll(features, rows: 3, categories: categories)
        #expect(original.map { $0.map(\.bitPattern) } == reloaded.map { $0.map(\.bitPattern) })
        // Same features, different categories: the interest distribution differs.
        #expect(original[1][0..<3] != original[1][3..<6])
        #expect(original[1][3..<6] != original[1][6..<9])
    }
}
