import OspreyCore

/// One subcommand of `osprey`.
protocol Command: Sendable {
    /// The command's name, abstract and options; `--help` prints its ``CommandSpec/helpText``.
    static var spec: CommandSpec { get }

    /// Runs the command with its parsed arguments and returns the process's exit code.
    ///
    /// - Throws: ``UsageError`` for a mistake in the invocation (exit 64); any other error is
    ///   printed as one line and exits with 1.
    static func run(_ arguments: ParsedArguments) throws -> Int32
}
