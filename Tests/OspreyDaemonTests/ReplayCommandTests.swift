import Foundation
import OspreyTestSupport
import Testing

@Suite(.timeLimit(.minutes(3)))
struct ReplayCommandTests {
    /// The first `count` handbook transactions as a plain file, or nil when the data is absent.
    static func handbookSlice(_ count: Int) throws -> String? {
        guard let data = try TestEnvironment.dataFile("handbook/transactions-dev.jsonl.gz") else {
            return nil
        }
        let path = try TestEnvironment.temporaryDirectory("replay").appendingPathComponent(
            "hb.jsonl.gz"
        ).path
        let result = try runProgram(
            "/bin/sh", ["-c", "zcat '\(data.path)' | head -n \(count) | gzip > '\(path)'"])
        #expect(result.status == 0)
        return path
    }

    @Test func handbookLabelsFollowTheirTransactionsAfterTheDelay() throws {
        guard let input = try Self.handbookSlice(20_000) else { return }
        let out = input + ".replayed"
        let result = try runProgram(
            TestEnvironment.ospreyBinary.path,
            [
                "replay", "--input", input, "--format", "handbook", "--out", out, "--label-delay",
                "6h", "--quiet",
            ])
        #expect(result.status == 0, "\(result.errors)")
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 40_000)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let plain = ISO8601DateFormatter()
        var eventTimes: [String: Date] = [:]
        var latest = Date.distantPast
        var frauds = 0
        for line in lines {
            let object = try #require(
                try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let id = try #require(object["event_id"] as? String)
            let text = try #require(object["ts"] as? String)
            let time = try #require(formatter.date(from: text) ?? plain.date(from: text))
            if object["type"] as? String == "order" {
                #expect(object["merchant_id"] is String && object["amount"] is Double)
                // Events stay in time order, and no label due before this event is still held.
                #expect(time >= latest)
                latest = time
                eventTimes[id] = time
            } else {
                let event = try #require(eventTimes[id], "label before its transaction")
                #expect(time.timeIntervalSince(event) == 6 * 3600)
                // Published once the stream reached its time (or at the end of the file).
                #expect(latest <= time)
                if object["label"] as? String == "fraud" {
                    frauds += 1
                    #expect(
                        ["high_amount", "compromised_terminal", "compromised_card"].contains(
                            object["fraud_type"] as? String ?? ""))
                }
            }
        }
        #expect(eventTimes.count == 20_000)
        #expect(frauds > 0)
    }

    @Test func replaysIntoKafkaForAnIndependentConsumer() throws {
        guard let input = try Self.handbookSlice(3_000) else { return }
        let broker = try ChildProcess.osprey(["broker", "--topic", "tx:3", "--topic", "truth:3"])
        defer { broker.stop() }
        let servers = try #require(broker.waitForLine { $0.hasPrefix("127.0.0.1:") })
        let result = try runProgram(
            TestEnvironment.ospreyBinary.path,
            [
                "replay", "--input", input, "--format", "handbook", "--bootstrap", servers,
                "--topic", "tx", "--labels-topic", "truth", "--quiet",
            ])
        #expect(result.status == 0, "\(result.errors)")
        for topic in ["tx", "truth"] {
            let read = try runProgram(
                "/usr/bin/kcat", ["-C", "-b", servers, "-t", topic, "-e", "-q", "-f", "%k\n"])
            let keys = String(decoding: read.output, as: UTF8.self).split(separator: "\n")
            #expect(keys.count == 3_000, "\(topic): \(read.errors)")
        }
    }
}
