import Foundation
import OspreyFeatures
import OspreyTestSupport
import Testing

/// The handbook's 15 baseline features, computed by the store through ``FeatureFileReader``,
/// against `oracle/handbook_features.py`, an independent pandas computation written from the
/// data README's definitions.
@Suite(.timeLimit(.minutes(5))) struct HandbookOracleTests {
    static let days = 35
    static let names = [
        "TX_AMOUNT", "TX_DURING_WEEKEND", "TX_DURING_NIGHT",
        "CUSTOMER_ID_NB_TX_1DAY_WINDOW", "CUSTOMER_ID_AVG_AMOUNT_1DAY_WINDOW",
        "CUSTOMER_ID_NB_TX_7DAY_WINDOW", "CUSTOMER_ID_AVG_AMOUNT_7DAY_WINDOW",
        "CUSTOMER_ID_NB_TX_30DAY_WINDOW", "CUSTOMER_ID_AVG_AMOUNT_30DAY_WINDOW",
        "TERMINAL_ID_NB_TX_1DAY_WINDOW", "TERMINAL_ID_RISK_1DAY_WINDOW",
        "TERMINAL_ID_NB_TX_7DAY_WINDOW", "TERMINAL_ID_RISK_7DAY_WINDOW",
        "TERMINAL_ID_NB_TX_30DAY_WINDOW", "TERMINAL_ID_RISK_30DAY_WINDOW",
    ]

    @Test func bookFeaturesMatchAnIndependentPandasComputation() throws {
        guard let data = try TestEnvironment.dataFile("handbook/transactions-dev.jsonl.gz")
        else { return }
        // The oracle runs in its own process while the store computes the same rows.
        let oracle = try Oracle(data: data.path)
        defer { oracle.cleanUp() }
        let ours = try storeRows(data.path)
        let theirs = try oracle.rows()
        #expect(ours.count > 300_000)
        #expect(ours.count == theirs.count)

        var mismatches = 0
        for (row, (mine, reference)) in zip(ours, theirs).enumerated() {
            guard mine.id == reference.id else {
                Issue.record("row \(row): event \(mine.id) where the oracle has \(reference.id)")
                return
            }
            for (column, name) in Self.names.enumerated() {
                let a = mine.values[column]
                let b = reference.values[column]
                let exact = name.contains("_NB_TX_") || name.contains("_DURING_")
                let agrees = exact ? a == b : abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1e-300)
                if !agrees {
                    mismatches += 1
                    if mismatches <= 10 {
                        Issue.record("tx \(mine.id) \(name): store \(a), oracle \(b)")
                    }
                }
            }
        }
        #expect(mismatches == 0)
        // The comparison must have covered rows with history and with known fraud.
        let risky = ours.filter { $0.values[14] > 0 }.count
        #expect(risky > 1000)
    }

    struct Row {
        var id: String
        var values: [Double]
    }

    /// The first `days` days through the library, stopping the read early.
    private func storeRows(_ path: String) throws -> [Row] {
        var reader = try FeatureFileReader(path: path, format: .handbook)
        let columns = Self.names.map { reader.schema.index(of: $0) }
        #expect(!columns.contains(nil))
        var rows: [Row] = []
        var end: Int64?
        struct Done: Error {}
        do {
            try reader.forEach { row in
                let stop = end ?? (row.timestampMs / 86_400_000 + Int64(Self.days)) * 86_400_000
                end = stop
                if row.timestampMs >= stop { throw Done() }
                rows.append(Row(id: row.eventID, values: columns.map { row.exactValues[$0!] }))
            }
        } catch is Done {}
        #expect(reader.rejected.isEmpty)
        return rows
    }

    /// `oracle/handbook_features.py` on the same days, running in a child process.
    final class Oracle {
        let directory: URL
        let output: URL
        let process = Process()

        init(data: String) throws {
            directory = try TestEnvironment.temporaryDirectory("handbook-oracle")
            output = directory.appendingPathComponent("oracle.csv")
            let script = TestEnvironment.repositoryRoot
                .appendingPathComponent("Tests/OspreyFeaturesTests/oracle/handbook_features.py")
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", script.path, data, String(days), output.path]
            try process.run()
        }

        func cleanUp() {
            if process.isRunning { process.terminate() }
            try? FileManager.default.removeItem(at: directory)
        }

        /// Waits for the script and reads its CSV.
        func rows() throws -> [Row] {
            process.waitUntilExit()
            try #require(process.terminationStatus == 0, "the oracle script failed")
            let text = try String(contentsOf: output, encoding: .utf8)
            var lines = text.split(separator: "\n")
            let header = lines.removeFirst().split(separator: ",").map(String.init)
            #expect(header == ["tx_id"] + names)
            return lines.map { line in
                let fields = line.split(separator: ",", omittingEmptySubsequences: false)
                return Row(
                    id: String(fields[0]), values: fields.dropFirst().map { Double($0) ?? .nan })
            }
        }
    }
}
