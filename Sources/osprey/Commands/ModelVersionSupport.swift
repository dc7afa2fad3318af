import OspreyCore
import OspreyDaemon

/// What `model list`, `inspect`, `promote` and `rollback` share: where the state directory is,
/// how many versions to keep, and how a version is named on the command line.
enum ModelVersionSupport {
    static let directoryOptions: [OptionSpec] = [
        OptionSpec(
            "state-dir", value: "DIR",
            help: "The daemon's state directory, whose models/ folder holds the versions. The "
                + "default is state.dir from --config, or /var/lib/osprey."),
        OptionSpec(
            "config", value: "FILE",
            help: "A daemon configuration file to take state.dir and model.keep_versions from."),
    ]

    static let reasonOption = OptionSpec(
        "reason", value: "TEXT", help: "Why, in a few words, for the history that list shows.")

    /// The state directory and the number of versions to keep, from the options.
    ///
    /// - Throws: ``ConfigurationError`` for an unreadable file or a bad `model.keep_versions`.
    static func directory(_ arguments: ParsedArguments) throws -> (state: String, keep: Int) {
        var state = "/var/lib/osprey"
        var keep = 10
        if let path = arguments.value("config") {
            var file = try ConfigurationFile.load(path: path)
            file.applyEnvironment(
                ConfigurationFile.processEnvironment, knownKeys: DaemonSettings.keys.map(\.key))
            if let value = file["state.dir"], !value.isEmpty { state = value }
            if let entry = file.entry("model.keep_versions") {
                guard let number = Int(entry.value), number >= 1 else {
                    throw ConfigurationError(
                        key: entry.key, origin: entry.origin,
                        reason: "expected a whole number of at least 1, found '\(entry.value)'")
                }
                keep = number
            }
        }
        if let value = arguments.value("state-dir") { state = value }
        return (state, keep)
    }

    /// The positional VERSION as a number.
    static func version(_ arguments: ParsedArguments) throws(UsageError) -> Int {
        let text = arguments.positionals.first ?? ""
        guard let version = Int(text), version > 0 else {
            throw UsageError("VERSION must be a model version number such as 3, not '\(text)'")
        }
        return version
    }
}
