import OspreyCore
import OspreyFeatures
import OspreyModel

#if canImport(Glibc)
    import Glibc
#endif

/// The model versions in a state directory: `STATE/models/model-000007.safetensors`, one file
/// per version, the highest number the newest.
///
/// Thread: any; it only reads and renames files.
public struct ModelCatalog: Sendable {
    public let directory: String

    public init(stateDirectory: String) {
        directory = stateDirectory + "/models"
    }

    /// The versions on disk, ascending.
    public func versions() -> [Int] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var found: [Int] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard name.hasPrefix("model-"), name.hasSuffix(".safetensors") else { continue }
            let digits = name.dropFirst("model-".count).dropLast(".safetensors".count)
            if let version = Int(digits) { found.append(version) }
        }
        return found.sorted()
    }

    /// The file of `version`.
    public func path(of version: Int) -> String {
        let digits = String(version)
        return directory + "/model-" + String(repeating: "0", count: max(0, 6 - digits.count))
            + digits + ".safetensors"
    }

    /// Saves `model` as `version` (written to a temporary file, then renamed into place).
    ///
    /// - Throws: ``ModelError`` when the directory or the file cannot be written.
    public func install(_ model: Model, as version: Int) throws(ModelError) {
        let code = makeDirectories(directory)
        guard code == 0 else {
            throw .io(path: directory, reason: String(cString: strerror(code)))
        }
        model.version = String(version)
        try model.save(to: path(of: version))
    }
}

/// Where the serving model came from, for the log.
public enum ModelOrigin: Sendable, Equatable {
    case configured(path: String)
    case newestInCatalog(path: String)
    case fresh
}

extension ModelCatalog {
    /// The model the daemon starts with: `model.path` when set, else the newest version in the
    /// catalog, else a freshly initialised model for `schema`, saved as version 1.
    ///
    /// - Throws: ``ModelError`` when a file exists but cannot be loaded, or was trained on
    ///   another feature schema: a daemon never silently falls back to a blank model.
    public func startingModel(configuredPath: String?, schema: FeatureSchema) throws(ModelError)
        -> (Model, ModelOrigin)
    {
        if let configuredPath {
            return (
                try Model.load(path: configuredPath, expecting: schema),
                .configured(path: configuredPath)
            )
        }
        if let newest = versions().last {
            let path = path(of: newest)
            return (try Model.load(path: path, expecting: schema), .newestInCatalog(path: path))
        }
        let model = ModelCatalog.freshModel(schema: schema)
        try install(model, as: 1)
        return (model, .fresh)
    }

    /// An untrained multi-task model with every head DESIGN.md names but `interest` (whose
    /// classes come from the data): its scores mean nothing until it is trained.
    public static func freshModel(schema: FeatureSchema) -> Model {
        let heads = [
            HeadSpec(name: "fraud", kind: .sigmoid),
            HeadSpec(
                name: "fraud_type",
                kind: .softmax(classes: ["account_takeover", "card_testing", "promotion_abuse"])),
            HeadSpec(name: "bot", kind: .sigmoid),
            HeadSpec(name: "purchase", kind: .sigmoid),
        ]
        let shape = NetworkShape()
        let network = makeNetwork(
            .mmoe, inputs: schema.count, heads: heads, shape: shape, seed: 1, as: Float.self)
        // Counts, amounts and ages span many orders of magnitude; log1p keeps an untrained
        // network out of saturation, so its scores at least spread.
        let width = schema.count
        let normalisation = Normalisation(
            mean: [Float](repeating: 0, count: width), scale: [Float](repeating: 1, count: width),
            compressed: [Bool](repeating: true, count: width))
        return Model(
            network: network, shape: shape, schema: schema, normalisation: normalisation,
            createdAt: TimestampText.rfc3339(milliseconds: 0))
    }
}
