#if canImport(Glibc)
    import Glibc
#endif

/// Where a configuration value came from, so an error can point at it.
public enum ConfigurationOrigin: Sendable, Equatable, CustomStringConvertible {
    /// Line `line` (from 1) of the file at `path`.
    case file(path: String, line: Int)
    /// The environment variable `name`.
    case environment(name: String)
    /// Set by the program itself (a command-line option, a test).
    case program

    public var description: String {
        switch self {
        case .file(let path, let line): return "\(path):\(line)"
        case .environment(let name): return "environment variable \(name)"
        case .program: return "the command line"
        }
    }
}

/// One `key = value` setting and where it came from.
public struct ConfigurationEntry: Sendable, Equatable {
    public let key: String
    public let value: String
    public let origin: ConfigurationOrigin

    public init(key: String, value: String, origin: ConfigurationOrigin) {
        self.key = key
        self.value = value
        self.origin = origin
    }

    /// The value as it may be printed or logged: secrets are replaced by `[redacted]`.
    public var printableValue: String {
        ConfigurationFile.isSecret(key) ? "[redacted]" : value
    }
}

/// A mistake in the configuration: which key, where it was set, and what is wrong.
public struct ConfigurationError: Error, Equatable, CustomStringConvertible {
    /// The key concerned, or nil for a line that holds no key at all.
    public let key: String?
    public let origin: ConfigurationOrigin?
    public let reason: String

    public init(key: String?, origin: ConfigurationOrigin?, reason: String) {
        self.key = key
        self.origin = origin
        self.reason = reason
    }

    public var description: String {
        var text = "configuration error"
        if let origin { text += " at \(origin)" }
        if let key { text += ": '\(key)'" }
        return text + ": " + reason
    }
}

/// A configuration in the `.properties` style that Kafka operators know: one `key = value` per
/// line, `#` or `!` starting a comment line, blank lines ignored.
///
/// The value is everything after the first `=`, without the spaces around it; a `#` inside a
/// value is part of the value (a password may hold one), so comments take a line of their own.
/// A key given twice is an error rather than a silent override. Environment variables override
/// the file: the key upper-cased, dots as underscores, prefixed `OSPREY_`
/// (`OSPREY_KAFKA_BOOTSTRAP_SERVERS` for `kafka.bootstrap.servers`).
///
/// This type knows only the syntax. Which keys exist and what their values mean is the business
/// of the program that reads it (the daemon's settings, librdkafka for `kafka.*`).
///
/// Thread: any; a value type.
public struct ConfigurationFile: Sendable, Equatable {
    /// The settings in the order they were given; overrides replace an entry in place.
    public private(set) var entries: [ConfigurationEntry]

    public init(entries: [ConfigurationEntry] = []) {
        self.entries = entries
    }

    /// Parses configuration text; `path` is only used to name lines in errors.
    ///
    /// - Throws: ``ConfigurationError`` for a line without `=`, an empty key, a key with spaces
    ///   or other characters outside `[A-Za-z0-9._-]`, or a key given twice.
    public static func parse(_ text: String, path: String) throws(ConfigurationError)
        -> ConfigurationFile
    {
        var file = ConfigurationFile()
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = rawLine.trimmingWhitespace()
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix("!") { continue }
            let origin = ConfigurationOrigin.file(path: path, line: lineNumber)
            guard let equals = line.firstIndex(of: "=") else {
                throw ConfigurationError(
                    key: nil, origin: origin, reason: "expected 'key = value', found '\(line)'")
            }
            let key = line[..<equals].trimmingWhitespace()
            let value = line[line.index(after: equals)...].trimmingWhitespace()
            guard !key.isEmpty else {
                throw ConfigurationError(key: nil, origin: origin, reason: "the key is empty")
            }
            guard key.allSatisfy(isKeyCharacter) else {
                throw ConfigurationError(
                    key: key, origin: origin,
                    reason: "keys hold only letters, digits, '.', '_' and '-'")
            }
            if let earlier = file.entry(key) {
                throw ConfigurationError(
                    key: key, origin: origin, reason: "already set at \(earlier.origin)")
            }
            file.entries.append(ConfigurationEntry(key: key, value: value, origin: origin))
        }
        return file
    }

    /// Reads and parses the file at `path`.
    ///
    /// - Throws: ``ConfigurationError`` when the file cannot be read (with the system's reason)
    ///   or does not parse.
    public static func load(path: String) throws(ConfigurationError) -> ConfigurationFile {
        guard let text = readTextFile(path) else {
            let reason = String(cString: strerror(errno))
            throw ConfigurationError(
                key: nil, origin: nil, reason: "cannot read \(path): \(reason)")
        }
        return try parse(text, path: path)
    }

    /// The entry for `key`, or nil when it is not set.
    public func entry(_ key: String) -> ConfigurationEntry? {
        entries.first { $0.key == key }
    }

    /// The value of `key`, or nil when it is not set.
    public subscript(key: String) -> String? { entry(key)?.value }

    /// Sets `key` to `value`, replacing an earlier setting in place.
    public mutating func set(_ key: String, _ value: String, origin: ConfigurationOrigin) {
        let entry = ConfigurationEntry(key: key, value: value, origin: origin)
        if let index = entries.firstIndex(where: { $0.key == key }) {
            entries[index] = entry
        } else {
            entries.append(entry)
        }
    }

    /// The environment variable that overrides `key`: `OSPREY_` + the key upper-cased, with
    /// dots and dashes as underscores.
    public static func environmentName(for key: String) -> String {
        let mapped = key.uppercased().map { $0 == "." || $0 == "-" ? "_" : $0 }
        return "OSPREY_" + String(mapped)
    }

    /// Applies `OSPREY_*` overrides from `environment`.
    ///
    /// The name of a variable does not say where the dots were, so it is matched against
    /// `knownKeys` and the keys already set. A variable that matches none and starts with
    /// `OSPREY_KAFKA_` is taken as a librdkafka property with every underscore read as a dot
    /// (librdkafka's properties are dotted: `OSPREY_KAFKA_SASL_PASSWORD` sets
    /// `kafka.sasl.password`). Any other unmatched `OSPREY_` variable is returned, so the caller
    /// can refuse it as it refuses an unknown key.
    ///
    /// - Returns: the names of the `OSPREY_` variables that matched no key.
    @discardableResult
    public mutating func applyEnvironment(
        _ environment: [String: String], knownKeys: some Sequence<String>
    ) -> [String] {
        var byName: [String: String] = [:]
        for key in knownKeys { byName[Self.environmentName(for: key)] = key }
        for entry in entries { byName[Self.environmentName(for: entry.key)] = entry.key }
        var unmatched: [String] = []
        for (name, value) in environment.sorted(by: { $0.key < $1.key })
        where name.hasPrefix("OSPREY_") {
            let origin = ConfigurationOrigin.environment(name: name)
            if let key = byName[name] {
                set(key, value.trimmingWhitespace(), origin: origin)
            } else if name.hasPrefix("OSPREY_KAFKA_"), name.count > "OSPREY_KAFKA_".count {
                let property = name.dropFirst("OSPREY_".count).lowercased()
                    .map { $0 == "_" ? "." : $0 }
                set(String(property), value.trimmingWhitespace(), origin: origin)
            } else {
                unmatched.append(name)
            }
        }
        return unmatched
    }

    /// The process's environment as a dictionary.
    public static var processEnvironment: [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return result
    }

    /// Whether the value of `key` is a secret that must never be printed or logged: passwords,
    /// secrets, private keys and SASL/OAuth configuration strings.
    public static func isSecret(_ key: String) -> Bool {
        let lowered = key.lowercased()
        let markers = ["password", "secret", "private", "sasl.oauthbearer.config", "ssl.key.pem"]
        return markers.contains { lowered.contains($0) }
    }

    /// The whole configuration as `key = value` lines with secrets redacted, for printing.
    public var redactedText: String {
        entries.map { "\($0.key) = \($0.printableValue)\n" }.joined()
    }
}

private func isKeyCharacter(_ character: Character) -> Bool {
    guard character.isASCII else { return false }
    return character.isLetter || character.isNumber || character == "." || character == "_"
        || character == "-"
}

/// The contents of a text file, or nil with `errno` set when it cannot be read.
func readTextFile(_ path: String) -> String? {
    guard let stream = fopen(path, "rb") else { return nil }
    defer { fclose(stream) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
        let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, stream) }
        if count > 0 { bytes += chunk[0..<count] }
        if count < chunk.count {
            if ferror(stream) != 0 { return nil }
            break
        }
    }
    return String(decoding: bytes, as: UTF8.self)
}
