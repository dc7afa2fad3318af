import OspreyCore
import OspreyDaemon
import OspreyModel

/// `osprey model list`: the versions on disk, which one serves, and why it changed.
enum ModelListCommand: Command {
    static let spec = CommandSpec(
        name: "model list",
        abstract: "Lists the model versions in a state directory and shows which one serves.",
        discussion: """
            Each version's file is read in full: the table shows its creation time, the \
            version it was derived from, its architecture and heads, and the metrics it was \
            promoted with; a star marks the serving version, and a damaged file says why it \
            cannot serve. The history below it lists every promotion and rollback with its \
            reason, oldest first.
            """,
        options: ModelVersionSupport.directoryOptions)

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let (state, _) = try ModelVersionSupport.directory(arguments)
        let versions = ModelVersions(stateDirectory: state)
        let numbers = versions.catalog.versions()
        guard !numbers.isEmpty else {
            print("no model versions in \(versions.catalog.directory)")
            return ExitCode.success
        }
        let choice = try versions.choice()
        let serving = choice?.version ?? numbers.last!
        if let choice {
            print("version \(serving) serves, chosen at \(choice.changedAt)")
        } else {
            print("version \(serving) serves: the newest, as none was promoted")
        }
        if let target = choice?.previous.last {
            print("a rollback returns to version \(target)")
        }
        print("")
        var rows = [
            ["VERSION", "CREATED", "PARENT", "ARCHITECTURE", "HEADS", "SERVING", "METRICS"]
        ]
        for number in numbers {
            let mark = number == serving ? "*" : ""
            do {
                let model = try versions.load(number)
                let parent = model.parentVersion.isEmpty ? "-" : model.parentVersion
                let metrics = ModelVersions.metricsText(model.metrics)
                rows.append([
                    String(number), model.createdAt, parent, model.architecture.rawValue,
                    model.heads.map(\.name).joined(separator: ","), mark,
                    metrics.isEmpty ? "-" : metrics,
                ])
            } catch {
                rows.append([String(number), "unusable: \(error)", "", "", "", mark, ""])
            }
        }
        print(table(rows), terminator: "")
        let history = versions.history.entries()
        print("\nhistory, oldest first:")
        if history.isEmpty { print("  none") }
        for entry in history {
            let from = entry.from.map(String.init) ?? "-"
            let reason = entry.reason.isEmpty ? "" : "  " + entry.reason
            let action = ModelCommandSupport.pad(entry.action, 8, left: true)
            print("  \(entry.at)  \(action)  \(from) -> \(entry.to)\(reason)")
        }
        return ExitCode.success
    }

    /// Rows as left-aligned columns two spaces apart; a cell longer than the rest of its
    /// column (a damage report) runs on without widening the column.
    static func table(_ rows: [[String]]) -> String {
        let columns = rows[0].count
        var widths = [Int](repeating: 0, count: columns)
        for row in rows where !row[1].hasPrefix("unusable") {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        var text = ""
        for row in rows {
            var line = ""
            for (index, cell) in row.enumerated() {
                line += cell
                if index < columns - 1 {
                    line += String(repeating: " ", count: max(0, widths[index] - cell.count) + 2)
                }
            }
            while line.hasSuffix(" ") { line.removeLast() }
            text += line + "\n"
        }
        return text
    }
}
