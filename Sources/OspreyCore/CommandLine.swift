/// A command-line option: `--name VALUE` when it takes a value, `--name` when it is a flag.
public struct OptionSpec: Sendable {
    /// The long name without its dashes, in kebab case (`label-delay`).
    public let name: String
    /// The placeholder for the value in help (`DURATION`), or nil for a flag.
    public let valueName: String?
    /// One or more full sentences for the help text.
    public let help: String
    /// Whether the option may be given more than once.
    public let repeatable: Bool

    public init(
        _ name: String, value valueName: String? = nil, repeatable: Bool = false,
        help: String
    ) {
        self.name = name
        self.valueName = valueName
        self.help = help
        self.repeatable = repeatable
    }

    /// `--help` and `--version`, which every command accepts.
    public static let standard: [OptionSpec] = [
        OptionSpec("help", help: "Shows this help and exits."),
        OptionSpec("version", help: "Shows the version and exits."),
    ]
}

/// What a subcommand accepts, and the text that `--help` prints for it.
public struct CommandSpec: Sendable {
    /// The words after `osprey` that name the command (`broker`, `model list`).
    public let name: String
    /// One sentence for the command list.
    public let abstract: String
    /// Further paragraphs for `--help`, or empty.
    public let discussion: String
    public let options: [OptionSpec]
    /// The placeholders for positional arguments, in order (`VERSION`); empty when none.
    public let arguments: [String]

    public init(
        name: String, abstract: String, discussion: String = "",
        arguments: [String] = [], options: [OptionSpec]
    ) {
        self.name = name
        self.abstract = abstract
        self.discussion = discussion
        self.options = options
        self.arguments = arguments
    }

    var allOptions: [OptionSpec] { options + OptionSpec.standard }

    /// The full help text, ending with a newline.
    public var helpText: String {
        var usage = "USAGE: osprey " + name
        for option in options {
            var part = "--" + option.name
            if let value = option.valueName { part += " " + value }
            if option.repeatable { part += " ..." }
            usage += " [" + part + "]"
        }
        for argument in arguments { usage += " " + argument }
        var text = usage + "\n\n" + abstract + "\n"
        if !discussion.isEmpty { text += "\n" + discussion + "\n" }
        text += "\nOPTIONS:\n"
        let labels = allOptions.map { option in
            "--" + option.name + (option.valueName.map { " " + $0 } ?? "")
        }
        let width = min(28, (labels.map(\.count).max() ?? 0) + 2)
        for (label, option) in zip(labels, allOptions) {
            let padding =
                label.count + 2 <= width
                ? String(repeating: " ", count: width - label.count)
                : "\n  "
                    + String(
                        repeating: " ", count: width)
            let help = option.repeatable ? option.help + " Repeatable." : option.help
            text += "  " + label + padding + help + "\n"
        }
        return text
    }

    /// Parses the arguments after the command's name.
    ///
    /// - Throws: ``UsageError`` for an unknown option, a missing value, a repeated option that
    ///   is not repeatable, or a wrong number of positional arguments.
    public func parse(_ arguments: [String]) throws(UsageError) -> ParsedArguments {
        var parsed = ParsedArguments()
        var index = 0
        while index < arguments.count {
            let word = arguments[index]
            index += 1
            guard word.hasPrefix("--"), word.count > 2 else {
                parsed.positionals.append(word)
                continue
            }
            var name = String(word.dropFirst(2))
            var inlineValue: String?
            if let equals = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            guard let option = allOptions.first(where: { $0.name == name }) else {
                throw UsageError("unknown option '--\(name)' for 'osprey \(self.name)'")
            }
            if option.valueName == nil {
                guard inlineValue == nil else {
                    throw UsageError("option '--\(name)' takes no value")
                }
                parsed.flags.insert(name)
                continue
            }
            let value: String
            if let inlineValue {
                value = inlineValue
            } else {
                guard index < arguments.count else {
                    throw UsageError("option '--\(name)' needs a value (\(option.valueName!))")
                }
                value = arguments[index]
                index += 1
            }
            if !option.repeatable, parsed.values[name] != nil {
                throw UsageError("option '--\(name)' was given more than once")
            }
            parsed.values[name, default: []].append(value)
        }
        if !parsed.flags.contains("help"), !parsed.flags.contains("version"),
            parsed.positionals.count != self.arguments.count
        {
            if self.arguments.isEmpty {
                throw UsageError("unexpected argument '\(parsed.positionals[0])'")
            }
            throw UsageError("expected \(self.arguments.joined(separator: " "))")
        }
        return parsed
    }
}

/// The options and arguments of one command line, as ``CommandSpec/parse(_:)`` found them.
public struct ParsedArguments: Sendable {
    public var values: [String: [String]] = [:]
    public var flags: Set<String> = []
    public var positionals: [String] = []

    public init() {}

    /// Whether the flag `--name` was given.
    public func flag(_ name: String) -> Bool { flags.contains(name) }

    /// The value of `--name`, or nil when it was not given (the last one if repeated).
    public func value(_ name: String) -> String? { values[name]?.last }

    /// Every value of a repeatable option, in the order given.
    public func all(_ name: String) -> [String] { values[name] ?? [] }

    /// The value of `--name`, or a usage error naming it when it is missing.
    public func required(_ name: String) throws(UsageError) -> String {
        guard let value = value(name) else {
            throw UsageError("missing required option '--\(name)'")
        }
        return value
    }

    /// The value of `--name` converted by `convert`, `fallback` when absent, or a usage error
    /// that names the option and the bad value.
    public func value<T>(
        _ name: String, default fallback: T, as what: String, _ convert: (String) -> T?
    ) throws(UsageError) -> T {
        guard let text = value(name) else { return fallback }
        guard let converted = convert(text) else {
            throw UsageError("option '--\(name)' expects \(what), not '\(text)'")
        }
        return converted
    }

    /// An integer option with a default.
    public func int(_ name: String, default fallback: Int) throws(UsageError) -> Int {
        try value(name, default: fallback, as: "a whole number") { Int($0) }
    }

    /// A duration option (`250ms`, `10s`, `7d`) with a default.
    public func duration(_ name: String, default fallback: Duration) throws(UsageError)
        -> Duration
    {
        try value(name, default: fallback, as: "a duration such as 10s or 7d") {
            DurationText.parse($0)
        }
    }
}

/// A mistake in how a command was invoked; the front end prints it and exits with 64.
public struct UsageError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The exit codes that the front end uses, after BSD's sysexits.
public enum ExitCode {
    public static let success: Int32 = 0
    public static let failure: Int32 = 1
    public static let usage: Int32 = 64
    public static let dataError: Int32 = 65
    public static let noInput: Int32 = 66
    public static let software: Int32 = 70
    public static let config: Int32 = 78
}
