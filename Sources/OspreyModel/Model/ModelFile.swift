import Foundation
import OspreyFeatures

#if canImport(Glibc)
    import Glibc
#endif

/// Saving and loading models as safetensors files with Osprey's metadata.
///
/// Tensors: every network parameter under its own name (`bottom.0.weight`, `expert.2.1.bias`,
/// `gate.fraud.weight`, `head.fraud.1.weight`, `fraud.bottom.0.weight` in single-task
/// models), `normalisation.mean`, `normalisation.scale` and `normalisation.log1p` (1 where a
/// feature is compressed with `log1p` before standardising), `normalisation.used` (0 for a
/// feature the model leaves out), and `task.log_variance` under
/// uncertainty weighting. Metadata (all strings; JSON where structured):
///
/// | key | value |
/// | --- | --- |
/// | `format` | `osprey-model` |
/// | `format_version` | `1` |
/// | `version`, `parent_version` | the model's version and the one it was derived from |
/// | `created_at` | RFC 3339 |
/// | `architecture` | `mmoe`, `shared_bottom` or `single_task` |
/// | `heads` | `[{"name": "fraud", "kind": "sigmoid"}, {..., "kind": "softmax", "classes": []}]` |
/// | `shape` | `{"hidden": [...], "tower": [...], "experts": n}` |
/// | `feature_schema_hash`, `feature_schema_names`, `feature_schema_revision` | the schema |
/// | `normalisation` | `mean`, `scale`, `log1p`, `used` arrays (the tensors are authoritative) |
/// | `calibration` | per head `{"method": "platt", "a": .., "b": ..}` or `temperature`/`identity` |
/// | `thresholds` | per sigmoid head |
/// | `metrics` | per head, the metrics it was promoted with |
/// | `task_weighting` | `fixed` or `uncertainty` |
/// | `category_inputs` | the categories given to the network as a one-hot after the features |
/// | `data_checksum` | FNV-1a 64 of the tensor bytes, so damage inside the data is caught |
/// | `note.*` | provenance: training data, period, settings |
extension Model {
    static let formatName = "osprey-model"
    static let formatVersion = "1"

    /// The file's bytes.
    public func encoded() -> [UInt8] {
        var tensors = network.parameters.map {
            SafeTensors.Tensor(name: $0.name, shape: $0.shape, values: $0.array)
        }
        let width = schema.count
        tensors.append(
            .init(name: "normalisation.mean", shape: [width], values: normalisation.mean))
        tensors.append(
            .init(name: "normalisation.scale", shape: [width], values: normalisation.scale))
        tensors.append(
            .init(
                name: "normalisation.log1p", shape: [width],
                values: normalisation.compressed.map { $0 ? 1 : 0 }))
        tensors.append(
            .init(
                name: "normalisation.used", shape: [width],
                values: normalisation.used.map { $0 ? 1 : 0 }))
        if let logVariance {
            tensors.append(
                .init(name: "task.log_variance", shape: [logVariance.count], values: logVariance))
        }
        var metadata = self.metadata()
        // The checksum covers the data region, which does not depend on the metadata.
        let data = SafeTensors.encode(tensors: tensors, metadata: [:])
        let headerEnd = 8 + data.prefix(8).enumerated().reduce(0) { $0 | Int($1.1) << (8 * $1.0) }
        metadata["data_checksum"] = fnv1a(data[headerEnd...])
        return SafeTensors.encode(tensors: tensors, metadata: metadata)
    }

    func metadata() -> [String: String] {
        let headList = heads.map { head -> String in
            var pairs = [("name", JSONText.quoted(head.name))]
            if head.kind.isSigmoid {
                pairs.append(("kind", JSONText.quoted("sigmoid")))
            } else {
                pairs.append(("kind", JSONText.quoted("softmax")))
                pairs.append(("classes", JSONText.array(head.kind.classes.map(JSONText.quoted))))
            }
            return JSONText.object(pairs)
        }
        func numbers(_ values: [Float]) -> String { JSONText.array(values.map { "\($0)" }) }
        let calibrationText = JSONText.object(
            calibration.keys.sorted().map { name in
                let pairs: [(String, String)]
                switch calibration[name]! {
                case .identity: pairs = [("method", "\"identity\"")]
                case .platt(let a, let b):
                    pairs = [
                        ("method", "\"platt\""), ("a", JSONText.number(a)),
                        ("b", JSONText.number(b)),
                    ]
                case .temperature(let t):
                    pairs = [("method", "\"temperature\""), ("temperature", JSONText.number(t))]
                }
                return (name, JSONText.object(pairs))
            })
        let metricsText = JSONText.object(
            metrics.keys.sorted().map { head in
                let values = metrics[head]!
                return (
                    head,
                    JSONText.object(values.keys.sorted().map { ($0, JSONText.number(values[$0]!)) })
                )
            })
        var metadata: [String: String] = [
            "format": Self.formatName,
            "format_version": Self.formatVersion,
            "version": version,
            "parent_version": parentVersion,
            "created_at": createdAt,
            "architecture": architecture.rawValue,
            "heads": JSONText.array(headList),
            "shape": JSONText.object([
                ("hidden", JSONText.array(shape.hidden.map(String.init))),
                ("tower", JSONText.array(shape.tower.map(String.init))),
                ("experts", String(shape.experts)),
            ]),
            "feature_schema_hash": schema.hash,
            "feature_schema_names": JSONText.array(schema.names.map(JSONText.quoted)),
            "feature_schema_revision": String(schema.revision),
            "normalisation": JSONText.object([
                ("mean", numbers(normalisation.mean)), ("scale", numbers(normalisation.scale)),
                ("log1p", JSONText.array(normalisation.compressed.map { $0 ? "true" : "false" })),
                ("used", JSONText.array(normalisation.used.map { $0 ? "true" : "false" })),
            ]),
            "calibration": calibrationText,
            "thresholds": JSONText.object(
                thresholds.keys.sorted().map { ($0, JSONText.number(thresholds[$0]!)) }),
            "metrics": metricsText,
            "task_weighting": taskWeighting,
            "category_inputs": JSONText.array(categoryInputs.map(JSONText.quoted)),
        ]
        for (key, value) in notes { metadata["note." + key] = value }
        return metadata
    }

    /// Writes the model to `path` atomically (a temporary file in the same directory, then a
    /// rename), so a reader never sees half a file.
    ///
    /// - Throws: ``ModelError/io(path:reason:)``.
    public func save(to path: String) throws(ModelError) {
        let url = URL(fileURLWithPath: path)
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(
                ".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)")
        do {
            try Data(encoded()).write(to: temporary)
            // rename(2) replaces an existing file atomically.
            guard rename(temporary.path, url.path) == 0 else {
                throw ModelError.io(path: path, reason: String(cString: strerror(errno)))
            }
        } catch let error as ModelError {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw .io(path: path, reason: "\(error)")
        }
    }

    /// Reads a model file.
    ///
    /// - Parameter schema: the running feature schema; when given, a file trained on another
    ///   schema is refused.
    /// - Throws: ``ModelError/corruptFile(path:reason:)`` for an unreadable, truncated or
    ///   damaged file, ``ModelError/schemaMismatch(path:expected:found:)`` for another schema.
    public static func load(path: String, expecting schema: FeatureSchema? = nil) throws(ModelError)
        -> Model
    {
        let bytes: [UInt8]
        do {
            bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw .corruptFile(path: path, reason: "cannot read it (\(error.localizedDescription))")
        }
        return try decode(bytes, path: path, expecting: schema)
    }

    /// Decodes a model from a file's bytes; see ``load(path:expecting:)``.
    public static func decode(_ bytes: [UInt8], path: String, expecting expected: FeatureSchema?)
        throws(ModelError) -> Model
    {
        func corrupt(_ reason: String) -> ModelError { .corruptFile(path: path, reason: reason) }
        let file = try SafeTensors.decode(bytes, path: path)
        let meta = file.metadata
        guard meta["format"] == formatName else {
            throw corrupt(
                "it is a safetensors file but not an Osprey model (no format=osprey-model)")
        }
        guard meta["format_version"] == formatVersion else {
            throw corrupt("format version \(meta["format_version"] ?? "?") is not supported")
        }
        guard let checksum = meta["data_checksum"], checksum == fnv1a(bytes[file.dataRange]) else {
            throw corrupt("the tensor data does not match its checksum (damaged file)")
        }
        guard let names = JSONText.parse(meta["feature_schema_names"] ?? "") as? [String],
            let revision = Int(meta["feature_schema_revision"] ?? "")
        else { throw corrupt("the feature schema is missing") }
        let schema = FeatureSchema(names: names, revision: revision)
        guard schema.hash == meta["feature_schema_hash"] else {
            throw corrupt("the feature schema's names do not match its hash")
        }
        if let expected, expected.hash != schema.hash {
            throw .schemaMismatch(
                path: path, expected: "\(expected.hash) (\(expected.count) features)",
                found: "\(schema.hash) (\(schema.count) features)")
        }
        guard let architecture = Architecture(rawValue: meta["architecture"] ?? "") else {
            throw corrupt("unknown architecture '\(meta["architecture"] ?? "")'")
        }
        let heads = try decodeHeads(meta["heads"], corrupt)
        guard let shapeObject = JSONText.parse(meta["shape"] ?? "") as? [String: Any],
            let hidden = shapeObject["hidden"] as? [Int],
            let tower = shapeObject["tower"] as? [Int],
            let experts = shapeObject["experts"] as? Int, !hidden.isEmpty, experts >= 1
        else { throw corrupt("the network shape is missing") }
        let shape = NetworkShape(hidden: hidden, tower: tower, experts: experts)
        guard let categoryInputs = JSONText.parse(meta["category_inputs"] ?? "[]") as? [String]
        else { throw corrupt("the category inputs are not readable") }
        let network = makeNetwork(
            architecture, inputs: schema.count + categoryInputs.count, heads: heads, shape: shape,
            seed: 0, as: Float.self)

        var tensors = Dictionary(uniqueKeysWithValues: file.tensors.map { ($0.name, $0) })
        for parameter in network.parameters {
            guard let tensor = tensors.removeValue(forKey: parameter.name) else {
                throw corrupt("tensor '\(parameter.name)' is missing")
            }
            guard tensor.shape == parameter.shape else {
                throw corrupt(
                    "tensor '\(parameter.name)' has shape \(tensor.shape), expected "
                        + "\(parameter.shape)"
                )
            }
            parameter.assign(tensor.values)
        }
        func vector(_ name: String, _ count: Int) throws(ModelError) -> [Float] {
            guard let tensor = tensors.removeValue(forKey: name), tensor.shape == [count] else {
                throw corrupt("tensor '\(name)' is missing or has the wrong shape")
            }
            return tensor.values
        }
        let normalisation = Normalisation(
            mean: try vector("normalisation.mean", schema.count),
            scale: try vector("normalisation.scale", schema.count),
            compressed: try vector("normalisation.log1p", schema.count).map { $0 != 0 },
            used: try vector("normalisation.used", schema.count).map { $0 != 0 })
        let model = Model(
            network: network, shape: shape, schema: schema, normalisation: normalisation,
            categoryInputs: categoryInputs, version: meta["version"] ?? "",
            parentVersion: meta["parent_version"] ?? "",
            createdAt: meta["created_at"] ?? "")
        model.taskWeighting = meta["task_weighting"] ?? "fixed"
        if tensors["task.log_variance"] != nil {
            model.logVariance = try vector("task.log_variance", heads.count)
        }
        if let extra = tensors.keys.sorted().first { throw corrupt("unexpected tensor '\(extra)'") }
        model.calibration = try decodeCalibration(meta["calibration"], corrupt)
        model.thresholds = (JSONText.parse(meta["thresholds"] ?? "{}") as? [String: Double]) ?? [:]
        if let metrics = JSONText.parse(meta["metrics"] ?? "{}") as? [String: [String: Double]] {
            model.metrics = metrics
        }
        for (key, value) in meta where key.hasPrefix("note.") {
            model.notes[String(key.dropFirst(5))] = value
        }
        return model
    }

    private static func decodeHeads(_ text: String?, _ corrupt: (String) -> ModelError)
        throws(ModelError) -> [HeadSpec]
    {
        guard let list = JSONText.parse(text ?? "") as? [[String: Any]], !list.isEmpty else {
            throw corrupt("the heads are missing")
        }
        var heads: [HeadSpec] = []
        for entry in list {
            guard let name = entry["name"] as? String, let kind = entry["kind"] as? String else {
                throw corrupt("a head has no name or kind")
            }
            if kind == "sigmoid" {
                heads.append(HeadSpec(name: name, kind: .sigmoid))
            } else if kind == "softmax", let classes = entry["classes"] as? [String],
                classes.count >= 2
            {
                heads.append(HeadSpec(name: name, kind: .softmax(classes: classes)))
            } else {
                throw corrupt("head '\(name)' has an unknown kind or no classes")
            }
        }
        return heads
    }

    private static func decodeCalibration(_ text: String?, _ corrupt: (String) -> ModelError)
        throws(ModelError) -> [String: HeadCalibration]
    {
        guard let object = JSONText.parse(text ?? "{}") as? [String: [String: Any]] else {
            throw corrupt("the calibration is not readable")
        }
        var result: [String: HeadCalibration] = [:]
        for (head, entry) in object {
            switch entry["method"] as? String {
            case "identity": result[head] = .identity
            case "platt":
                guard let a = (entry["a"] as? NSNumber)?.doubleValue,
                    let b = (entry["b"] as? NSNumber)?.doubleValue
                else { throw corrupt("head '\(head)': Platt calibration without a and b") }
                result[head] = .platt(a: a, b: b)
            case "temperature":
                guard let t = (entry["temperature"] as? NSNumber)?.doubleValue, t > 0 else {
                    throw corrupt("head '\(head)': temperature calibration without a temperature")
                }
                result[head] = .temperature(t)
            default: throw corrupt("head '\(head)': unknown calibration method")
            }
        }
        return result
    }
}
