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

    /// Saves `model` as `version` with ``writeFileAtomically(_:to:)`` (a temporary file,
    /// fsynced, renamed into place), so that a daemon loading it sees the whole file or none,
    /// and a crash never leaves a version half-written.
    ///
    /// - Throws: ``ModelError`` when the directory or the file cannot be written.
    public func install(_ model: Model, as version: Int) throws(ModelError) {
        let code = makeDirectories(directory)
        guard code == 0 else {
            throw .io(path: directory, reason: String(cString: strerror(code)))
        }
        model.version = String(version)
        let path = path(of: version)
        do {
            try writeFileAtomically(model.encoded(), to: path)
        } catch {
            throw .io(path: path, reason: "\(error)")
        }
    }
}

/// Where the serving model came from, for the log.
public enum ModelOrigin: Sendable, Equatable {
    /// The serving choice (`STATE/models/serving`) names it.
    case chosen(path: String)
    case configured(path: String)
    case newestInCatalog(path: String)
    case fresh
}

extension ModelCatalog {
    /// The file the daemon starts with and why: the version the serving choice names, else
    /// `model.path` when set, else the newest version; nil when there is none of them.
    ///
    /// - Throws: ``ModelVersionError`` when the serving choice exists but is damaged.
    public func startingPath(configuredPath: String?) throws(ModelVersionError)
        -> (path: String, origin: ModelOrigin)?
    {
        if let chosen = try ModelVersions(catalog: self).choice() {
            let path = path(of: chosen.version)
            return (path, .chosen(path: path))
        }
        if let configuredPath { return (configuredPath, .configured(path: configuredPath)) }
        if let newest = self.versions().last {
            let path = path(of: newest)
            return (path, .newestInCatalog(path: path))
        }
        return nil
    }

    /// The model the daemon starts with (see ``startingPath(configuredPath:)``), else a freshly
    /// initialised model for `schema`, saved as version 1. A model from the catalog takes its
    /// version from its file name; a `model.path` outside the catalog is copied into it as
    /// its recorded version, or the one after the newest on disk when that is higher.
    ///
    /// - Throws: ``ModelError`` when a file exists but cannot be loaded, or was trained on
    ///   another feature schema: a daemon never silently falls back to a blank model;
    ///   ``ModelVersionError`` when the serving choice is damaged.
    public func startingModel(configuredPath: String?, schema: FeatureSchema) throws
        -> (Model, ModelOrigin)
    {
        guard let (path, origin) = try startingPath(configuredPath: configuredPath) else {
            let model = ModelCatalog.freshModel(schema: schema)
            try install(model, as: 1)
            return (model, .fresh)
        }
        let model = try Model.load(path: path, expecting: schema)
        if let number = version(ofPath: path), path == self.path(of: number) {
            model.version = String(number)
        } else if case .configured = origin {
            // A model.path outside the catalog becomes a version of it: fine-tuning needs its
            // parent among the versions, and a rollback needs a version to return to.
            try install(model, as: max(Int(model.version) ?? 1, (versions().last ?? 0) + 1))
        }
        return (model, origin)
    }

    /// The version number in a catalog file's name, or nil for another name.
    public func version(ofPath path: String) -> Int? {
        let name = path.split(separator: "/").last ?? ""
        guard name.hasPrefix("model-"), name.hasSuffix(".safetensors") else { return nil }
        return Int(name.dropFirst("model-".count).dropLast(".safetensors".count))
    }

    /// An untrained multi-task model with every head DESIGN.md names but `interest` (whose
    /// classes come from the data): its scores mean nothing until it is trained.
    /// `seed` draws the initial weights; models of different seeds score differently.
    public static func freshModel(schema: FeatureSchema, seed: UInt64 = 1) -> Model {
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
            .mmoe, inputs: schema.count, heads: heads, shape: shape, seed: seed, as: Float.self)
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
