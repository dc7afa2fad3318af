import Foundation
import OspreyTestSupport
import Testing

/// `osprey demo` through the built binary, as `make demo` runs it (standard output is a pipe
/// here, so the view comes as plain lines).
@Suite(.serialized, .timeLimit(.minutes(4)))
struct DemoCommandTests {
    /// Runs the whole demo for 30 s of live traffic: it exits 0, its summary counts alerts,
    /// and alerts come with their reasons.
    @Test func thirtySecondsOfLiveTrafficGiveAlertsWithReasons() throws {
        let run = try runProgram(
            TestEnvironment.ospreyBinary.path, ["demo", "--duration", "30s"],
            timeout: .seconds(180))
        let output = String(decoding: run.output, as: UTF8.self)
        #expect(run.status == 0, "demo failed: \(run.errors)\n\(output.suffix(3000))")

        let lines = output.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("broker ") && $0.contains("in memory only") })
        #expect(lines.contains { $0.hasPrefix("model    v1 trained on") })
        #expect(lines.contains { $0.hasPrefix("daemon   ready ") })
        let summary = try #require(lines.firstIndex(of: "demo summary"), "\(output.suffix(2000))")
        let alertsLine = try #require(
            lines[summary...].first { $0.hasPrefix("  alerts ") }, "\(lines[summary...])")
        let count = try #require(
            Int(alertsLine.split(separator: " ").dropFirst().first ?? ""), "\(alertsLine)")
        #expect(count > 0, "\(lines[summary...].joined(separator: "\n"))")
        // Alerts also on the real-time traffic, which the model was not trained on.
        let realTimeLine = try #require(lines[summary...].first { $0.hasPrefix("  in real time ") })
        let realTime = try #require(
            Int(realTimeLine.split(separator: " ").dropFirst(3).first ?? ""), "\(realTimeLine)")
        #expect(realTime > 0, "\(realTimeLine)")
        #expect(lines[summary...].contains("  daemon        stopped cleanly"))

        // Each alert line names the heads that fired and the top reasons behind them.
        let alerts = lines.filter { $0.hasPrefix("alert ") }
        #expect(!alerts.isEmpty)
        #expect(alerts.allSatisfy { $0.contains(" because ") }, "\(alerts.prefix(3))")
    }

    @Test func helpIsWrittenInFullSentences() throws {
        let run = try runProgram(TestEnvironment.ospreyBinary.path, ["demo", "--help"])
        #expect(run.status == 0)
        let expected = """
            USAGE: osprey demo [--duration DURATION] [--rate N] [--users N] [--seed N]

            Runs the daemon on live simulated traffic and shows its alerts as they come.

            Starts the embedded development broker (librdkafka's mock cluster: in memory
            only, at most 5 MiB per partition, gone when the demo ends), simulates the last 30
            minutes of a shop's traffic and trains a model on them, and starts 'osprey serve'
            with that model. The daemon first catches up with those 30 minutes, then scores
            the traffic that goes on in real time, with labels a minute after their events.
            Fraud is five times as common as in 'osprey simulate', so that there is something
            to see. On a terminal the view is redrawn in place every second: events per
            second, lag, alerts per head, the latest alerts with their top reasons, and the
            model version; otherwise a line is printed every five seconds and one for each
            user's first alert. It runs until Ctrl-C, SIGTERM or the end of --duration, then
            stops the daemon cleanly and prints a summary. It exits with 0 when the daemon
            stopped cleanly.

            OPTIONS:
              --duration DURATION  Stops after this much real-time traffic, for example 30s or \
            5m. By default the demo runs until it is interrupted.
              --rate N             Simulates about N events per second. The default is 100.
              --users N            Simulates N regular users. The default is 2000.
              --seed N             Seeds the history, the training and the live traffic. The \
            default is 1.
              --help               Shows this help and exits.
              --version            Shows the version and exits.

            """
        #expect(String(decoding: run.output, as: UTF8.self) == expected)
        let bad = try runProgram(TestEnvironment.ospreyBinary.path, ["demo", "--rate", "0"])
        #expect(bad.status == 64)
    }
}
