import Foundation
import OspreyCore
import OspreyDaemon
import OspreyFeatures
import OspreyModel
import OspreyTestSupport
import Testing

/// `osprey model list`, `inspect`, `promote` and `rollback` as an operator runs them: the built
/// binary on a real state directory whose versions the project's own code wrote.
@Suite(.timeLimit(.minutes(3))) struct ModelVersionCommandTests {
    static func osprey(_ arguments: [String]) throws -> OspreyRun { try runOsprey(arguments) }

    static let schema = FeatureSchema(names: (0..<6).map { "feature_\($0)" })

    /// Installs a fresh model of `schema` as `version`; seeds make their weights differ.
    static func install(
        _ version: Int, in state: String, schema: FeatureSchema = schema, parent: String = "",
        metrics: [String: [String: Double]] = [:]
    ) throws {
        let model = ModelCatalog.freshModel(schema: schema, seed: UInt64(version))
        model.parentVersion = parent
        model.metrics = metrics
        model.createdAt = "2026-12-0\(version)T00:00:00.000Z"
        try ModelCatalog(stateDirectory: state).install(model, as: version)
    }

    static func serving(_ state: String) throws -> String {
        try String(contentsOfFile: state + "/models/serving", encoding: .utf8)
    }

    @Test func promoteAndRollbackMoveTheServingChoiceAndListShowsWhy() throws {
        let directory = try TestEnvironment.temporaryDirectory("model-versions")
        defer { try? FileManager.default.removeItem(at: directory) }
        let state = directory.path
        try Self.install(1, in: state)
        try Self.install(2, in: state, parent: "1", metrics: ["fraud": ["auc_roc": 0.91]])

        // Nothing promoted yet: the newest serves.
        var list = try Self.osprey(["model", "list", "--state-dir", state])
        #expect(list.status == 0, "\(list.error)")
        #expect(list.output.contains("version 2 serves: the newest, as none was promoted"))
        let rows = list.output.split(separator: "\n").filter { $0.first?.isNumber == true }
        #expect(rows.count == 2)
        #expect(rows.first?.hasPrefix("1") == true && rows.first?.contains("*") == false)
        #expect(
            rows.last.map {
                $0.contains("2026-12-02T00:00:00.000Z") && $0.contains("mmoe")
                    && $0.contains("fraud,fraud_type,bot,purchase") && $0.contains(" * ")
                    && $0.hasSuffix("fraud.auc_roc=0.91")
            } == true, "\(list.output)")

        let promoted = try Self.osprey([
            "model", "promote", "1", "--state-dir", state, "--reason", "back to basics",
        ])
        #expect(promoted.status == 0, "\(promoted.error)")
        #expect(promoted.output == "version 1 serves now (was 2)\n")
        #expect(try Self.serving(state).hasPrefix("version 1\nprevious 2\nchanged_at "))
        list = try Self.osprey(["model", "list", "--state-dir", state])
        #expect(list.output.contains("version 1 serves, chosen at "))
        #expect(list.output.contains("a rollback returns to version 2"))
        #expect(list.output.contains("  promote   2 -> 1  back to basics"), "\(list.output)")

        // Another schema is refused, and nothing changes.
        try Self.install(3, in: state, schema: FeatureSchema(names: ["a", "b"]))
        let refused = try Self.osprey(["model", "promote", "3", "--state-dir", state])
        #expect(refused.status == 1)
        #expect(
            refused.error.contains("model version 3 was trained on feature schema")
                && refused.error.contains("the serving version 1 uses"), "\(refused.error)")
        #expect(try Self.serving(state).hasPrefix("version 1\n"))

        // Rollbacks step back through what served.
        #expect(try Self.osprey(["model", "promote", "2", "--state-dir", state]).status == 0)
        #expect(
            try Self.osprey(["model", "promote", "2", "--state-dir", state]).output
                == "version 2 already serves; nothing changed\n")
        var back = try Self.osprey(["model", "rollback", "--state-dir", state])
        #expect(back.output == "version 1 serves again (was 2)\n", "\(back.error)")
        back = try Self.osprey(["model", "rollback", "--state-dir", state, "--reason", "oops"])
        #expect(back.output == "version 2 serves again (was 1)\n", "\(back.error)")
        back = try Self.osprey(["model", "rollback", "--state-dir", state])
        #expect(back.status == 1)
        #expect(back.error.contains("nothing to roll back to: no version served before version 2"))
        let history = ModelHistory(directory: state + "/models").entries()
        #expect(history.map(\.action) == ["promote", "promote", "rollback", "rollback"])
        #expect(history.map(\.to) == [1, 2, 1, 2])
        #expect(history.last?.reason == "oops")
        #expect(history[1].metrics == "fraud.auc_roc=0.91")

        // A damaged choice is reported, and a promotion replaces it.
        try "version two\n".write(
            toFile: state + "/models/serving", atomically: true, encoding: .utf8)
        let damaged = try Self.osprey(["model", "list", "--state-dir", state])
        #expect(damaged.status == 1)
        #expect(damaged.error.contains("models/serving is damaged: 'version two' names no version"))
        #expect(try Self.osprey(["model", "promote", "1", "--state-dir", state]).status == 0)
        #expect(try Self.serving(state).hasPrefix("version 1\nprevious\n"))
    }

    @Test func inspectPrintsTheHeaderAndADamagedVersionIsRefused() throws {
        let directory = try TestEnvironment.temporaryDirectory("model-inspect")
        defer { try? FileManager.default.removeItem(at: directory) }
        let state = directory.path
        try Self.install(1, in: state)
        try Self.install(2, in: state, parent: "1")

        let inspect = try Self.osprey(["model", "inspect", "2", "--state-dir", state])
        #expect(inspect.status == 0, "\(inspect.error)")
        let fields = Dictionary(
            inspect.output.split(separator: "\n").map { line in
                let key = line.prefix { $0 != " " }
                return (String(key), line.dropFirst(key.count).trimmingWhitespace())
            }, uniquingKeysWith: { first, _ in first })
        #expect(fields["format"] == "osprey-model")
        #expect(fields["version"] == "2")
        #expect(fields["parent_version"] == "1")
        #expect(fields["feature_schema_hash"] == Self.schema.hash)
        #expect(fields["feature_schema_names"] == "6 names")
        #expect(fields["normalisation"] == "6 features: 6 compressed with log1p, 6 used")
        #expect(fields["architecture"] == "mmoe")
        #expect(fields["status"] == "usable: the data matches its checksum")
        #expect(fields["serving"] == "yes")
        for key in ["calibration", "thresholds", "metrics", "heads", "data_checksum", "tensors"] {
            #expect(fields[key] != nil, "no \(key) in \(inspect.output)")
        }

        // Flip a byte of the tensor data: inspect still describes it, but it cannot serve.
        let path = ModelCatalog(stateDirectory: state).path(of: 1)
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[bytes.count - 3] ^= 0x5a
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let damaged = try Self.osprey(["model", "inspect", "1", "--state-dir", state])
        #expect(damaged.status == 1)
        #expect(damaged.output.contains("does not match its checksum"), "\(damaged.output)")
        #expect(damaged.output.contains("serving") && damaged.output.contains("no"))
        let refused = try Self.osprey(["model", "promote", "1", "--state-dir", state])
        #expect(refused.status == 1)
        #expect(refused.error.contains("model version 1 cannot serve"), "\(refused.error)")
        let list = try Self.osprey(["model", "list", "--state-dir", state])
        #expect(list.output.contains("unusable: model version 1 cannot serve"), "\(list.output)")
        #expect(try Self.osprey(["model", "inspect", "9", "--state-dir", state]).status == 1)
        #expect(try Self.osprey(["model", "inspect", "v9", "--state-dir", state]).status == 64)
    }

    @Test func promotionKeepsTheConfiguredNumberOfVersions() throws {
        let directory = try TestEnvironment.temporaryDirectory("model-keep")
        defer { try? FileManager.default.removeItem(at: directory) }
        let state = directory.appendingPathComponent("state").path
        let config = directory.appendingPathComponent("osprey.conf").path
        try "kafka.bootstrap.servers = embedded\nstate.dir = \(state)\nmodel.keep_versions = 1\n"
            .write(toFile: config, atomically: true, encoding: .utf8)
        for version in 1...5 { try Self.install(version, in: state, parent: "2") }
        // The default keeps 10: nothing is removed.
        let first = try Self.osprey(["model", "promote", "3", "--state-dir", state])
        #expect(first.output == "version 3 serves now (was 5)\n")
        let run = try Self.osprey(["model", "promote", "4", "--config", config])
        #expect(run.status == 0, "\(run.error)")
        // Kept: the newest (5), the serving one (4), its parent (2), the rollback target (3).
        #expect(run.output == "version 4 serves now (was 3)\nremoved old versions: 1\n")
        #expect(ModelCatalog(stateDirectory: state).versions() == [2, 3, 4, 5])
    }

    @Test func helpTextsReadAsDocumented() throws {
        let options = """
            OPTIONS:
              --state-dir DIR  The daemon's state directory, whose models/ folder holds the \
            versions. The default is state.dir from --config, or /var/lib/osprey.
              --config FILE    A daemon configuration file to take state.dir and \
            model.keep_versions from.

            """
        let reason = "  --reason TEXT    Why, in a few words, for the history that list shows.\n"
        let standard = """
              --help           Shows this help and exits.
              --version        Shows the version and exits.

            """
        let expected: [(String, String)] = [
            (
                "list",
                """
                USAGE: osprey model list [--state-dir DIR] [--config FILE]

                Lists the model versions in a state directory and shows which one serves.

                Each version's file is read in full: the table shows its creation time, the \
                version it was derived from, its architecture and heads, and the metrics it was \
                promoted with; a star marks the serving version, and a damaged file says why it \
                cannot serve. The history below it lists every promotion and rollback with its \
                reason, oldest first.


                """ + options + standard
            ),
            (
                "inspect",
                """
                USAGE: osprey model inspect [--state-dir DIR] [--config FILE] VERSION

                Prints the metadata of a model version's file.

                The file's safetensors header is printed one key a line, with the feature \
                schema's names and the normalisation summarised; then the tensors' count and \
                size, whether the data matches its checksum, and whether this version serves. \
                A file that fails its checksum is still described, and the command exits 1.


                """ + options + standard
            ),
            (
                "promote",
                """
                USAGE: osprey model promote [--state-dir DIR] [--config FILE] [--reason TEXT] \
                VERSION

                Makes a model version the one that serves.

                The version's file is read in full and its checksum verified first, and a \
                version trained on another feature schema than the serving one is refused. The \
                choice is written atomically to models/serving in the state directory, with the \
                reason and the version's metrics in models/history.tsv. A running daemon swaps \
                to it between two micro-batches within a few seconds; a stopped one starts with \
                it. Versions beyond model.keep_versions are then deleted, oldest first, except \
                the serving one, its parent and the version a rollback returns to.


                """ + options + reason + standard
            ),
            (
                "rollback",
                """
                USAGE: osprey model rollback [--state-dir DIR] [--config FILE] [--reason TEXT]

                Returns to the model version that served before the current one.

                Each rollback steps back once through the versions that served, so two \
                rollbacks after two promotions return to the first version. The version is \
                checked as for a promotion, and the change is recorded in models/history.tsv. \
                A running daemon swaps to it between two micro-batches within a few seconds.


                """ + options + reason + standard
            ),
        ]
        for (command, text) in expected {
            let run = try Self.osprey(["model", command, "--help"])
            #expect(run.status == 0)
            #expect(run.output == text)
        }
    }
}
