import OspreyCore
import OspreyDaemon

/// `osprey model promote`: makes a version the serving one.
enum ModelPromoteCommand: Command {
    static let spec = CommandSpec(
        name: "model promote",
        abstract: "Makes a model version the one that serves.",
        discussion: """
            The version's file is read in full and its checksum verified first, and a version \
            trained on another feature schema than the serving one is refused. The choice is \
            written atomically to models/serving in the state directory, with the reason and \
            the version's metrics in models/history.tsv. A running daemon swaps to it between \
            two micro-batches within a few seconds; a stopped one starts with it. Versions \
            beyond model.keep_versions are then deleted, oldest first, except the serving one, \
            its parent and the version a rollback returns to.
            """,
        arguments: ["VERSION"],
        options: ModelVersionSupport.directoryOptions + [ModelVersionSupport.reasonOption])

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let version = try ModelVersionSupport.version(arguments)
        let (state, keep) = try ModelVersionSupport.directory(arguments)
        let change = try ModelVersions(stateDirectory: state).promote(
            version, reason: arguments.value("reason") ?? "promoted by hand", keep: keep)
        report(change, verb: "serves now")
        return ExitCode.success
    }

    static func report(_ change: ModelVersions.Change, verb: String) {
        if change.from == change.to {
            print("version \(change.to) already serves; nothing changed")
            return
        }
        let was = change.from.map { " (was \($0))" } ?? ""
        print("version \(change.to) \(verb)\(was)")
        if !change.removed.isEmpty {
            print(
                "removed old versions: " + change.removed.map(String.init).joined(separator: ", "))
        }
    }
}

/// `osprey model rollback`: returns to the version that served before.
enum ModelRollbackCommand: Command {
    static let spec = CommandSpec(
        name: "model rollback",
        abstract: "Returns to the model version that served before the current one.",
        discussion: """
            Each rollback steps back once through the versions that served, so two rollbacks \
            after two promotions return to the first version. The version is checked as for a \
            promotion, and the change is recorded in models/history.tsv. A running daemon \
            swaps to it between two micro-batches within a few seconds.
            """,
        options: ModelVersionSupport.directoryOptions + [ModelVersionSupport.reasonOption])

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let (state, keep) = try ModelVersionSupport.directory(arguments)
        let change = try ModelVersions(stateDirectory: state).rollback(
            reason: arguments.value("reason") ?? "rolled back by hand", keep: keep)
        ModelPromoteCommand.report(change, verb: "serves again")
        return ExitCode.success
    }
}
