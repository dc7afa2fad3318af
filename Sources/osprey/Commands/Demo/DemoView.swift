import OspreyCore
import OspreyDaemon

/// What `osprey demo` prints while it runs and when it ends, drawn from the daemon's
/// `/metrics` (through ``StatsView``, as `osprey stats` shows it) and from the alerts topic.
///
/// Thread: any; pure functions of their arguments.
enum DemoView {
    /// The whole view for a terminal: a header, the operator's stats, the newest alerts.
    static func screen(
        header: [String], current: MetricsScrape?, previous: MetricsScrape?,
        alerts: [DemoAlert]
    ) -> String {
        var text = header.joined(separator: "\n") + "\n\n"
        if let current {
            text += StatsView.render(current, previous: previous)
        } else {
            text += "waiting for the daemon's metrics\n"
        }
        text += "\nlatest alerts, one per user (time, user, event, heads that fired, reasons)\n"
        if alerts.isEmpty { text += "  none yet\n" }
        for alert in alerts.reversed() { text += "  " + line(alert) + "\n" }
        return text
    }

    /// One line for a non-terminal: elapsed time, events, rate, lag, alerts, model version.
    static func progressLine(
        elapsed: Duration, current: MetricsScrape, previous: MetricsScrape?
    ) -> String {
        let consumed = current.total("osprey_events_consumed_total") ?? 0
        var text = "\(Int(elapsed.totalSeconds))s  events \(StatsView.format(consumed))"
        if let previous, case let seconds = (current.takenAt - previous.takenAt).totalSeconds,
            seconds > 0
        {
            let before = previous.total("osprey_events_consumed_total") ?? 0
            text += " (" + StatsView.format(max(0, consumed - before) / seconds) + "/s)"
        }
        let lag = current.byLabel("osprey_consumer_lag", "partition").reduce(0) { $0 + $1.1 }
        text += "  lag \(StatsView.format(lag))  alerts " + alertCounts(current)
        let version = current.total("osprey_model_version").map { StatsView.format($0) } ?? "-"
        return text + "  model v" + version
    }

    /// One alert in a line: `12:03:04 u123 order fraud 0.97 (account_takeover) [3 alerts]
    /// because user_new_country=1, user_order_count_1m=3, ...`.
    static func line(_ alert: DemoAlert) -> String {
        let clock = alert.time.split(separator: "T").last.map { String($0.prefix(8)) } ?? "?"
        var text = "\(clock) \(alert.user) \(alert.eventType) "
        text += alert.fired.map { "\($0.head) " + StatsView.fixed($0.score, 2) }
            .joined(separator: ", ")
        if let type = alert.fraudType { text += " (\(type))" }
        if alert.count > 1 { text += " [\(alert.count) alerts]" }
        let reasons = alert.reasons.prefix(3).map { "\($0.name)=" + StatsView.format($0.value) }
        if !reasons.isEmpty { text += " because " + reasons.joined(separator: ", ") }
        return text
    }

    /// Alerts per head, `fraud 3, bot 12`, or `none`.
    static func alertCounts(_ scrape: MetricsScrape) -> String {
        let heads = scrape.byLabel("osprey_alerts_total", "head").filter { $0.1 > 0 }
        if heads.isEmpty { return "none" }
        return heads.map { "\($0.0) \(StatsView.format($0.1))" }.joined(separator: ", ")
    }

    /// The closing summary from the last scrape before the daemon stopped.
    static func summary(
        _ scrape: MetricsScrape?, live: Duration, produced: Int, realTimeAlerts: [String: Int],
        daemonExit: Int32
    ) -> String {
        let events = scrape?.total("osprey_events_consumed_total") ?? 0
        let alerts = scrape?.total("osprey_alerts_total") ?? 0
        let dead = scrape?.total("osprey_dead_letter_total") ?? 0
        var text = "demo summary\n"
        text += "  live traffic  " + StatsView.fixed(live.totalSeconds, 1) + "s\n"
        text += "  events        \(produced) produced, \(Int64(events)) scored\n"
        text += "  alerts        \(Int64(alerts))"
        if let scrape, alerts > 0 { text += " (" + alertCounts(scrape) + ")" }
        let realTime = realTimeAlerts.values.reduce(0, +)
        text += "\n  in real time  \(realTime)"
        if realTime > 0 {
            let heads = realTimeAlerts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
            text += " (" + heads.joined(separator: ", ") + ")"
        }
        text += " of them on events after the catch-up, which the model never saw"
        text += "\n  dead letters  \(Int64(dead))\n"
        text += "  daemon        " + (daemonExit == 0 ? "stopped cleanly" : "exit \(daemonExit)")
        text += "\n  broker        in memory only: its topics are gone with it\n"
        return text
    }
}
