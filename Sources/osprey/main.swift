import OspreyCore

#if canImport(Glibc)
    import Glibc
#endif

/// The front end: finds the subcommand, handles `--help` and `--version`, maps errors to exit
/// codes (64 for usage errors, 1 for failures).
func runMain(_ words: [String]) -> Int32 {
    if words.isEmpty || words == ["--help"] || words == ["help"] {
        print(topLevelHelp(), terminator: "")
        return words.isEmpty ? ExitCode.usage : ExitCode.success
    }
    if words == ["--version"] {
        print("osprey " + OspreyVersion.string)
        return ExitCode.success
    }
    // Commands may have two words (`model list`): prefer the longest name that matches.
    let match =
        commandTable
        .filter { command in
            let name = command.spec.name.split(separator: " ").map(String.init)
            return words.count >= name.count && Array(words.prefix(name.count)) == name
        }
        .max { $0.spec.name.count < $1.spec.name.count }
    guard let command = match else {
        printError("unknown command '\(words[0])'; run 'osprey --help' for the list")
        return ExitCode.usage
    }
    let spec = command.spec
    let rest = Array(words.dropFirst(spec.name.split(separator: " ").count))
    do {
        let arguments = try spec.parse(rest)
        if arguments.flag("help") {
            print(spec.helpText, terminator: "")
            return ExitCode.success
        }
        if arguments.flag("version") {
            print("osprey " + OspreyVersion.string)
            return ExitCode.success
        }
        return try command.run(arguments)
    } catch let error as UsageError {
        printError(error.message + "\nrun 'osprey \(spec.name) --help' for usage")
        return ExitCode.usage
    } catch {
        printError(String(describing: error))
        return ExitCode.failure
    }
}

func topLevelHelp() -> String {
    var text = "USAGE: osprey COMMAND [OPTIONS]\n\n"
    text += "Osprey scores click and order events from Kafka with one multi-task model and\n"
    text += "writes alerts for fraud, bots and behaviour.\n\nCOMMANDS:\n"
    let width = (commandTable.map { $0.spec.name.count }.max() ?? 0) + 2
    for command in commandTable {
        let name = command.spec.name
        text += "  " + name + String(repeating: " ", count: width - name.count)
        text += command.spec.abstract + "\n"
    }
    text += "\nRun 'osprey COMMAND --help' for a command's options.\n"
    return text
}

/// Prints `osprey: MESSAGE` on stderr.
func printError(_ message: String) {
    var line = "osprey: " + message + "\n"
    line.withUTF8 { buffer in _ = write(2, buffer.baseAddress, buffer.count) }
}

exit(runMain(Array(CommandLine.arguments.dropFirst())))
