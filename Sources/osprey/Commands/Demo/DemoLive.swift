import OspreyCore
import OspreyDaemon
import OspreyKafka
import OspreySimulator

#if canImport(Glibc)
    import Glibc
#endif

/// The demo's live part: traffic into the broker, the alert feed, and the view, until a
/// signal or the end of `--duration`; then the clean stop and the summary.
///
/// Thread: ``run()`` on the demo's main thread, which also takes the signals.
struct DemoLive {
    /// The simulated traffic, from the start of its history.
    let traffic: SimulationSettings
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
        let traffic = self.traffic
        let servers = broker.bootstrapServers
        let producer = DemoThread(name: "demo-traffic") { stop in
            try DemoTraffic.run(
                settings: traffic, bootstrap: servers, counters: counters, stop: stop)
        }
        let feed = DemoAlertFeed(
            capacity: Self.alertsShown,
            realTimeFrom: TimestampText.rfc3339(milliseconds: wallClockMilliseconds()))
        let reader = DemoThread(name: "demo-alerts") { stop in
            try feed.run(bootstrap: servers, stop: stop)
        }
        let header = [
            "osprey demo: \(options.users) users, about \(StatsView.format(options.rate)) "
                + "events/s over a day, labels a minute later; Ctrl-C stops",
            "the model learnt from the first " + DurationText.format(DemoOptions.historySpan)
                + " of the traffic; the daemon catches up with them, then goes on in real time",
            "broker \(servers), in memory only; daemon log \(daemon.logPath)",
        ]

        if !terminal { print(header.joined(separator: "\n")) }
        var view = ViewState(header: header, started: .now)
        while true {
            let now = ContinuousClock.now
            let left = options.duration.map { $0 - (now - view.started) }
            if let left, left <= .zero { break }
            if SignalPipe.wait(timeout: min(.seconds(1), left ?? .seconds(1))) != nil { break }
            if let status = daemon.exited() {
                let tail = daemon.logLines().suffix(10).joined(separator: "\n")
                throw DemoError("the daemon stopped (exit \(status)); its log ends:\n" + tail)
            }
            if let error = producer.error ?? reader.error { throw error }
            if let scrape = try? MetricsScrape(text: httpGet(metricsURL)) { view.add(scrape) }
            draw(&view, feed: feed)
        }
        let live = ContinuousClock.now - view.started

        try producer.stop()
        let last = (try? MetricsScrape(text: httpGet(metricsURL))) ?? view.current
        let exit = daemon.stop(timeout: .seconds(20))
        try reader.stop()
        let produced = counters.produced.load(ordering: .relaxed)
        print(
            DemoView.summary(
                last, live: live, produced: produced, realTimeAlerts: feed.realTimeAlerts,
                daemonExit: exit),
            terminator: "")
        return exit == 0 ? ExitCode.success : ExitCode.failure
    }

    /// What the view keeps between redraws.
    struct ViewState {
        let header: [String]
        let started: ContinuousClock.Instant
        /// The scrapes of the last few seconds, oldest first.
        private(set) var scrapes: [MetricsScrape] = []
        var lastLine = ContinuousClock.now

        init(header: [String], started: ContinuousClock.Instant) {
            self.header = header
            self.started = started
        }

        var current: MetricsScrape? { scrapes.last }
        /// The scrape that rates are measured from: about five seconds before the current
        /// one, so that they do not jump with each second's batches.
        var previous: MetricsScrape? { scrapes.count > 1 ? scrapes.first : nil }

        mutating func add(_ scrape: MetricsScrape) {
            scrapes.append(scrape)
            scrapes.removeAll { scrape.takenAt - $0.takenAt > .seconds(5) }
        }
    }

    /// Redraws the whole view on a terminal; otherwise prints each user's first alert, and
    /// the counts every five seconds.
    private func draw(_ view: inout ViewState, feed: DemoAlertFeed) {
        let now = ContinuousClock.now
        if terminal {
            var header = view.header
            header[0] +=
                "; live for "
                + DurationText.format(.seconds(Int((now - view.started).totalSeconds)))
            let screen = DemoView.screen(
                header: header, current: view.current, previous: view.previous,
                alerts: feed.latest)
            print("\u{1B}[H\u{1B}[2J" + screen, terminator: "")
        } else {
            for alert in feed.takeFirstAlerts() { print("alert " + DemoView.line(alert)) }
            if let current = view.current, now - view.lastLine >= .seconds(5) {
                print(
                    DemoView.progressLine(
                        elapsed: now - view.started, current: current, previous: view.previous))
                view.lastLine = now
            }
        }
        fflush(nil)
    }
}
