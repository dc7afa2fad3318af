import Foundation
import OspreyFeatures
import OspreyTestSupport
import Testing

/// ``FeatureFileReader`` and `osprey features` on small files written by the tests.
@Suite(.timeLimit(.minutes(2))) struct FeatureFileTests {
    static let lines = [
        #"{"type":"order","event_id":"o1","user_id":"alice","ts":"2026-01-01T00:00:00Z","#
            + #""amount":10,"merchant_id":"shop","device_id":"d1"}"#,
        #"{"type":"click","event_id":"c1","user_id":"alice","ts":"2026-01-01T00:00:30Z","#
            + #""device_id":"d2","category":"books"}"#,
        #"not json"#,
        "",
        #"{"type":"label","event_id":"o1","user_id":"alice","ts":"2026-01-02T00:00:00Z","#
            + #""label":"fraud"}"#,
        #"{"type":"order","event_id":"o2","user_id":"bob","ts":"2026-01-09T00:00:00Z","#
            + #""amount":30,"merchant_id":"shop"}"#,
        #"{"type":"order","event_id":"o3","user_id":"bob","ts":"2026-01-09T00:01:00Z"}"#,
    ]

    private func write(_ lines: [String], gzip: Bool) throws -> URL {
        let directory = try TestEnvironment.temporaryDirectory("feature-file")
        let plain = directory.appendingPathComponent("events.jsonl")
        try (lines.joined(separator: "\n") + "\n").write(
            to: plain, atomically: true, encoding: .utf8)
        guard gzip else { return plain }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["gzip", "-k", plain.path]
        try process.run()
        process.waitUntilExit()
        return directory.appendingPathComponent("events.jsonl.gz")
    }

    private func read(_ url: URL) throws -> (FeatureFileReader, [(String, [Double])]) {
        var reader = try FeatureFileReader(path: url.path, format: .events)
        let width = reader.schema.count
        var rows: [(String, [Double])] = []
        try reader.forEach { row in
            #expect(row.values.count == width)
            #expect(zip(row.values, row.exactValues).allSatisfy { $0 == Float($1) })
            rows.append((row.eventID, Array(row.exactValues)))
        }
        return (reader, rows)
    }

    @Test func readsEventsAppliesLabelsAndCountsRefusedLines() throws {
        for gzip in [false, true] {
            let url = try write(Self.lines, gzip: gzip)
            defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
            let (reader, rows) = try read(url)
            #expect(rows.map(\.0) == ["o1", "c1", "o2"])
            #expect(reader.rejected == [.invalidJSON: 1, .missingField: 1])
            #expect(reader.firstRejections.map(\.line) == [3, 7])
            #expect(reader.store.statistics.futureEvents == 0)
            #expect(reader.store.statistics.labelsApplied == 1)

            let schema = reader.schema
            let rate = schema.index(of: "merchant_fraud_rate_7d")!
            let count = schema.index(of: "merchant_delayed_tx_count_7d")!
            let devices = schema.index(of: "user_distinct_devices_1h")!
            // o2 comes 8 days after o1, whose fraud label is known by then.
            #expect(rows[2].1[count] == 1)
            #expect(rows[2].1[rate] == 1)
            #expect(rows[0].1[count] == 0)
            #expect(rows[1].1[devices] == 2)
        }
    }

    @Test func oversizeLinesAreRefusedAndReadingGoesOn() throws {
        let huge =
            #"{"type":"click","event_id":"big","user_id":"u","ts":1796320336123,"pad":""#
            + String(repeating: "x", count: 200_000) + #""}"#
        let url = try write([huge, Self.lines[1]], gzip: false)
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        let (reader, rows) = try read(url)
        #expect(rows.map(\.0) == ["c1"])
        #expect(reader.rejected == [.tooLarge: 1])
        #expect(reader.firstRejections.first?.line == 1)
    }

    @Test func helpTextReadsAsDocumented() throws {
        let process = Process()
        process.executableURL = TestEnvironment.ospreyBinary
        process.arguments = ["features", "--help"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(
            decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let expected = """
            USAGE: osprey features [--input FILE] [--format FORMAT] [--out FILE] [--label-delay \
            DURATION] [--risk-delay DURATION] [--lateness DURATION] [--limit N] [--quiet]

            Writes the feature vector of every event in a file as CSV.

            Every click and order of the input is decoded and recorded in a feature store in \
            file order, with the same code as the daemon, and its vector is written as one CSV \
            row: the event id, then the features in schema order. Lines that do not decode are \
            skipped, counted by reason and reported on stderr. Plain .jsonl and gzip-compressed \
            .jsonl.gz files are both read.

            With --format handbook, each transaction's fraud label becomes known --label-delay \
            after it, and the book's 15 baseline inputs (TX_AMOUNT, ...) are added under their \
            own names. With --format yoochoose, views are clicks, purchases are orders of price \
            times quantity, and the session is the user.

            OPTIONS:
              --input FILE            The JSON Lines file to read.
              --format FORMAT         The input's format: events, handbook or yoochoose. The \
            default is events.
              --out FILE              The CSV file to write; - writes to standard output.
              --label-delay DURATION  How long after a handbook transaction its label is known. \
            The default is 7d.
              --risk-delay DURATION   How long before each event the merchant fraud-rate windows \
            end. The default is 7d.
              --lateness DURATION     How late an event may arrive and still be placed exactly. \
            The default is 1h.
              --limit N               Stops after writing N rows. The default is no limit.
              --quiet                 Prints no progress on stderr.
              --help                  Shows this help and exits.
              --version               Shows the version and exits.

            """
        #expect(text == expected)
    }

    @Test func missingFileIsAClearError() {
        #expect(throws: FeatureFileError.self) {
            _ = try FeatureFileReader(path: "/nonexistent/osprey.jsonl", format: .events)
        }
    }

    @Test func commandWritesTheCSVAndRefusesBadUsage() throws {
        let binary = TestEnvironment.ospreyBinary
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            Issue.record("osprey is not built at \(binary.path)")
            return
        }
        let url = try write(Self.lines, gzip: false)
        let directory = url.deletingLastPathComponent()
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("features.csv")

        func run(_ arguments: [String]) throws -> (Int32, String) {
            let process = Process()
            process.executableURL = binary
            process.arguments = arguments
            let errors = Pipe()
            process.standardError = errors
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let text = String(
                decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return (process.terminationStatus, text)
        }

        let (status, errors) = try run([
            "features", "--input", url.path, "--out", output.path, "--quiet",
        ])
        #expect(status == 0)
        #expect(errors.contains("2 lines refused"))
        #expect(errors.contains("line 3: invalid_json"))
        let csv = try String(contentsOf: output, encoding: .utf8).split(separator: "\n")
        #expect(csv.count == 4)
        #expect(csv[0].hasPrefix("event_id,event_is_order,"))
        #expect(csv[1].hasPrefix("o1,1,10,"))
        #expect(
            try run(["features", "--input", url.path, "--out", output.path, "--format", "xml"]).0
                == 64)
        #expect(try run(["features", "--out", output.path]).0 == 64)
        #expect(try run(["features", "--input", "/nonexistent", "--out", output.path]).0 == 1)
    }
}
