import OspreyCore
import OspreyDaemon
import OspreyModel

/// `osprey model inspect`: a version file's metadata, for a person.
enum ModelInspectCommand: Command {
    static let spec = CommandSpec(
        name: "model inspect",
        abstract: "Prints the metadata of a model version's file.",
        discussion: """
            The file's safetensors header is printed one key a line, with the feature schema's \
            names and the normalisation summarised; then the tensors' count and size, whether \
            the data matches its checksum, and whether this version serves. A file that fails \
            its checksum is still described, and the command exits 1.
            """,
        arguments: ["VERSION"],
        options: ModelVersionSupport.directoryOptions)

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let version = try ModelVersionSupport.version(arguments)
        let (state, _) = try ModelVersionSupport.directory(arguments)
        let versions = ModelVersions(stateDirectory: state)
        let path = versions.catalog.path(of: version)
        let bytes: [UInt8]
        do {
            bytes = try readWholeFile(path)
        } catch {
            throw ModelVersionError.noSuchVersion(
                version: version, directory: versions.catalog.directory)
        }
        let file = try SafeTensors.decode(bytes, path: path)
        var lines: [(String, String)] = [("file", path), ("bytes", String(bytes.count))]
        for key in file.metadata.keys.sorted() {
            lines.append((key, summary(key, file.metadata[key]!, tensors: file.tensors)))
        }
        let values = file.tensors.reduce(0) { $0 + $1.values.count }
        lines.append(("tensors", "\(file.tensors.count) holding \(values) values"))
        var status = ExitCode.success
        do {
            _ = try Model.decode(bytes, path: path, expecting: nil)
            lines.append(("status", "usable: the data matches its checksum"))
        } catch {
            lines.append(("status", "\(error)"))
            status = ExitCode.failure
        }
        let serving = try versions.servingVersion()
        lines.append(("serving", serving == version ? "yes" : "no"))
        let width = lines.map(\.0.count).max()! + 2
        for (key, value) in lines {
            print(key + String(repeating: " ", count: width - key.count) + value)
        }
        return status
    }

    /// The value to print for `key`: long arrays are summarised.
    static func summary(_ key: String, _ value: String, tensors: [SafeTensors.Tensor]) -> String {
        func count(_ name: String) -> (set: Int, all: Int)? {
            guard let tensor = tensors.first(where: { $0.name == name }) else { return nil }
            return (tensor.values.filter { $0 != 0 }.count, tensor.values.count)
        }
        switch key {
        case "feature_schema_names":
            let names = value == "[]" ? 0 : value.split(separator: ",").count
            return "\(names) names"
        case "normalisation":
            guard let log1p = count("normalisation.log1p"), let used = count("normalisation.used")
            else { return "missing tensors" }
            return "\(used.all) features: \(log1p.set) compressed with log1p, \(used.set) used"
        default:
            return value
        }
    }
}
