import OspreyCore
import OspreyDaemon
import OspreyKafka

#if canImport(Glibc)
    import Glibc
#endif

/// The demo's live part: traffic into the broker, the alert feed, and the view, until a
/// signal or the end of `--duration`; then the clean stop and the summary.
///
/// Thread: ``run()`` on the demo's main thread, which also takes the signals.
struct DemoLive {
    let options: DemoOptions
    let broker: EmbeddedBroker
    let daemon: DemoDaemon
    let metricsURL: String
    let terminal: Bool

    /// How many alerts the terminal view lists.
    static let alertsShown = 8

    /// Runs the live part; returns the exit code (0 when the daemon stopped cleanly).
    ///
    /// - Throws: ``DemoError`` when the daemon ends on its own, ``KafkaError`` or
    ///   ``SinkError`` when the traffic or the alert feed fails.
    func run() throws -> Int32 {
        let counters = DemoCounters()
        let traffic = options.live(nowMs: wallClockMilliseconds())
        let servers = broker.bootstrapServers
        let producer = DemoThread(name: "demo-traffic") { stop in
            try DemoTraffic.run(
                settings: traffic, bootstrap: servers, counters: counters, stop: stop)
        }
        let feed = DemoAlertFeed(capacity: Self.alertsShown)
        let reader = DemoThread(name: "demo-alerts") { stop in
            try feed.run(bootstrap: servers, stop: stop)
        }
        let header = [
            "osprey demo: \(options.users) users, about \(StatsView.format(options.rate)) "
                + "events/s over a day, labels a minute later; Ctrl-C stops",
            "traffic began " + DurationText.format(DemoOptions.backlog)
                + " ago: that backlog arrives at once, then events come in real time",
            "broker \(servers), in memory only; daemon log \(daemon.logPath)",
        ]

        if !terminal { print(header.joined(separator: "\n")) }
        let started = ContinuousClock.now
        var current: MetricsScrape?
        var previous: MetricsScrape?
        var lastLine = started
        while true {
            let now = ContinuousClock.now
            let left = options.duration.map { $0 - (now - started) }
            if let left, left <= .zero { break }
            if SignalPipe.wait(timeout: min(.seconds(1), left ?? .seconds(1))) != nil { break }
            if let status = daemon.exited() {
                let tail = daemon.logLines().suffix(10).joined(separator: "\n")
                throw DemoError("the daemon stopped (exit \(status)); its log ends:\n" + tail)
            }
            if let error = producer.error ?? reader.error { throw error }
            if let scrape = try? MetricsScrape(text: httpGet(metricsURL)) {
                previous = current
                current = scrape
            }
            if terminal {
                let elapsed = DurationText.format(.seconds(Int((now - started).totalSeconds)))
                var lines = header
                lines[0] += "; live for " + elapsed
                print(
                    "\u{1B}[H\u{1B}[2J"
                        + DemoView.screen(
                            header: lines, current: current, previous: previous,
                            alerts: feed.latest),
                    terminator: "")
            } else {
                // Plain lines: each user's first alert, and the counts every five seconds.
                for alert in feed.takeFirstAlerts() { print("alert " + DemoView.line(alert)) }
                if let current, now - lastLine >= .seconds(5) {
                    print(
                        DemoView.progressLine(
                            elapsed: now - started, current: current, previous: previous))
                    lastLine = now
                }
            }
            fflush(nil)
        }
        let live = ContinuousClock.now - started

        try producer.stop()
        let last = (try? MetricsScrape(text: httpGet(metricsURL))) ?? current
        let exit = daemon.stop(timeout: .seconds(20))
        try reader.stop()
        let produced = counters.produced.load(ordering: .relaxed)
        print(
            DemoView.summary(last, live: live, produced: produced, daemonExit: exit),
            terminator: "")
        return exit == 0 ? ExitCode.success : ExitCode.failure
    }
}
