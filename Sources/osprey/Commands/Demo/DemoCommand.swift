import Foundation
import OspreyCore
import OspreyDaemon
import OspreyKafka
import OspreySimulator

#if canImport(Glibc)
    import Glibc
#endif

/// `osprey demo`: the whole system on one machine in one command. The embedded broker, a
/// model trained on the spot from simulated history, the daemon serving it, live simulated
/// traffic, and a view of what the daemon sees and alerts on.
struct DemoCommand: Command {
    static let spec = CommandSpec(
        name: "demo",
        abstract: "Runs the daemon on live simulated traffic and shows its alerts as they come.",
        discussion: """
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
            """,
        options: [
            OptionSpec(
                "duration", value: "DURATION",
                help: "Stops after this much real-time traffic, for example 30s or 5m. By "
                    + "default the demo runs until it is interrupted."),
            OptionSpec(
                "rate", value: "N",
                help: "Simulates about N events per second. The default is 100."),
            OptionSpec(
                "users", value: "N", help: "Simulates N regular users. The default is 2000."),
            OptionSpec(
                "seed", value: "N",
                help: "Seeds the history, the training and the live traffic. The default is 1."),
        ])

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let options = try DemoOptions(arguments)
        SignalPipe.install([SIGINT, SIGTERM])
        // The view owns the terminal: only warnings and errors of this process go to stderr.
        LogSink.shared.minimumLevel = .warning
        let directory = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let startup = DemoStartup(terminal: isatty(1) != 0)

        // The simulated world began half an hour ago: its history trains the model, and the
        // daemon catches up with it before the traffic goes on in real time.
        let startMs = wallClockMilliseconds() - DemoOptions.historySpan.totalMilliseconds
        let broker = try EmbeddedBroker(logger: Logger(label: "broker"))
        // Eight partitions keep the history's backlog well under the broker's 5 MiB each.
        for topic in ["events", "labels", "alerts", "events.dlq"] {
            try broker.createTopic(topic, partitions: 8)
        }
        startup.done(
            "broker   \(broker.bootstrapServers): librdkafka's mock cluster, in memory only "
                + "(at most 5 MiB per partition)")

        let trained = try DemoModel.train(
            history: options.history(startMs: startMs),
            path: directory + "/history.jsonl", status: startup.show)
        let state = directory + "/state"
        try ModelCatalog(stateDirectory: state).install(trained.model, as: 1)
        startup.done(
            "model    v1 trained on \(trained.rows) simulated events, "
                + startup.elapsed + " after start; held out: "
                + DemoModel.quality(trained.heldOut))

        let daemon = try DemoDaemon(
            config: try writeConfiguration(directory: directory, broker: broker),
            logPath: directory + "/daemon.log")
        defer { _ = daemon.stop(timeout: .seconds(20)) }
        let metricsURL = try waitUntilReady(daemon)
        startup.done("daemon   ready " + startup.elapsed + " after start; metrics at " + metricsURL)

        let live = DemoLive(
            traffic: options.traffic(startMs: startMs), options: options, broker: broker,
            daemon: daemon, metricsURL: metricsURL, terminal: isatty(1) != 0)
        return try live.run()
    }

    /// A fresh directory under the temporary directory for the history, model and state.
    private static func makeScratchDirectory() throws -> String {
        var base = NSTemporaryDirectory()
        while base.hasSuffix("/") { base.removeLast() }
        var template = Array((base + "/osprey-demo-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw DemoError("cannot create a directory: \(String(cString: strerror(errno)))")
        }
        return String(cString: made)
    }

    /// The daemon's configuration: the demo's broker, state in the scratch directory, metrics
    /// on a free port, everything else at its default.
    private static func writeConfiguration(directory: String, broker: EmbeddedBroker) throws
        -> String
    {
        let path = directory + "/osprey.conf"
        let text = """
            # Written by osprey demo for its daemon; removed when the demo ends.
            kafka.bootstrap.servers = \(broker.bootstrapServers)
            kafka.group.id = osprey-demo
            state.dir = \(directory)/state
            metrics.listen = 127.0.0.1:0
            instance.name = demo
            log.summary.interval = 10s

            """
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Waits for the daemon's metrics address and its readiness; returns the metrics URL.
    ///
    /// - Throws: ``DemoError`` with the end of the daemon's log when it fails to get there.
    private static func waitUntilReady(_ daemon: DemoDaemon) throws -> String {
        let listening = daemon.waitForLog("msg=\"metrics listening\"", timeout: .seconds(30))
        let address = listening?.split(separator: " ").first { $0.hasPrefix("listen=") }
        guard let address, daemon.waitForLog("msg=ready", timeout: .seconds(60)) != nil else {
            let tail = daemon.logLines().suffix(10).joined(separator: "\n")
            throw DemoError("the daemon did not become ready; the end of its log:\n" + tail)
        }
        return "http://" + address.dropFirst("listen=".count) + "/metrics"
    }
}

/// The demo's options, checked.
struct DemoOptions {
    var duration: Duration?
    var rate: Double
    var users: Int
    var seed: UInt64

    init(_ arguments: ParsedArguments) throws(UsageError) {
        if arguments.value("duration") != nil {
            let duration = try arguments.duration("duration", default: .zero)
            guard duration > .zero else { throw UsageError("option '--duration' must be positive") }
            self.duration = duration
        }
        rate = try arguments.value("rate", default: 100, as: "a positive number") {
            Double($0).flatMap { $0 > 0 && $0 <= 100_000 && $0.isFinite ? $0 : nil }
        }
        users = try arguments.int("users", default: 2000)
        guard users > 0 else { throw UsageError("option '--users' must be at least 1") }
        seed = try arguments.value("seed", default: 1, as: "a whole number") { UInt64($0) }
    }

    /// What the simulator produces: the options, labels a minute after their events, fraud
    /// five times as common as by default.
    func simulation(startMs: Int64, duration: Duration) -> SimulationSettings {
        var settings = SimulationSettings()
        settings.users = users
        settings.rate = rate
        settings.seed = seed
        settings.startMs = startMs
        settings.duration = duration
        settings.labelDelay = .seconds(60)
        settings.mix.accountTakeover *= 5
        settings.mix.cardTesting *= 5
        settings.mix.promotionAbuse *= 5
        return settings
    }

    /// How much history the model is trained on, and the daemon catches up with first.
    static let historySpan = Duration.seconds(30 * 60)

    /// The history: the first ``historySpan`` of the traffic that starts at `startMs`.
    func history(startMs: Int64) -> SimulationSettings {
        simulation(startMs: startMs, duration: Self.historySpan)
    }

    /// The whole traffic from `startMs`, for as long as the demo may run. Its first
    /// ``historySpan`` is the history, record for record: what the simulator writes up to a
    /// moment does not depend on when its simulated time ends.
    func traffic(startMs: Int64) -> SimulationSettings {
        let span = Self.historySpan + (duration ?? .seconds(86_400 * 365)) + .seconds(3600)
        return simulation(startMs: startMs, duration: span)
    }
}

/// The start-up's progress: one status line redrawn in place on a terminal, a line per step
/// otherwise.
///
/// Thread: the demo's main thread.
final class DemoStartup {
    let terminal: Bool
    let started = ContinuousClock.now

    init(terminal: Bool) { self.terminal = terminal }

    /// Seconds since the demo started, as `12.3s`.
    var elapsed: String { StatsView.fixed((ContinuousClock.now - started).totalSeconds, 1) + "s" }

    /// Shows a passing step.
    func show(_ text: String) {
        if terminal {
            print("\r\u{1B}[K" + text, terminator: "")
        } else {
            print(text)
        }
        fflush(nil)
    }

    /// Replaces the status line with a finished step's line.
    func done(_ text: String) {
        print((terminal ? "\r\u{1B}[K" : "") + text)
        fflush(nil)
    }
}
