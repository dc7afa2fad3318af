/// The operator's view of a running daemon, drawn from two scrapes of its `/metrics`: rates
/// from their difference, everything else from the newer one.
///
/// Thread: any; pure functions of the scrapes.
public enum StatsView {
    /// The view as lines of plain text, at most about 80 columns wide.
    ///
    /// - Parameter previous: an earlier scrape for rates; without it rates are not shown.
    public static func render(_ current: MetricsScrape, previous: MetricsScrape?) -> String {
        var lines: [String] = []
        let seconds = previous.map { (current.takenAt - $0.takenAt).totalSeconds } ?? 0
        func rate(_ name: String, _ matching: [String: String] = [:]) -> String? {
            guard let previous, seconds > 0,
                let now = current.total(name, matching: matching)
            else { return nil }
            let before = previous.total(name, matching: matching) ?? 0
            return format(max(0, now - before) / seconds) + "/s"
        }

        let version = current.total("osprey_model_version").map { "v" + format($0) } ?? "-"
        lines.append("osprey stats   model \(version)")
        let consumed = current.total("osprey_events_consumed_total") ?? 0
        var events = "events       \(format(consumed)) consumed"
        if let total = rate("osprey_events_consumed_total") { events += ", " + total }
        let types = current.byLabel("osprey_events_consumed_total", "type").map { type, count in
            "\(type) " + (rate("osprey_events_consumed_total", ["type": type]) ?? format(count))
        }
        if !types.isEmpty { events += " (" + types.joined(separator: ", ") + ")" }
        lines.append(events)

        let lag = current.byLabel("osprey_consumer_lag", "partition")
        let totalLag = lag.reduce(0) { $0 + $1.1 }
        var lagLine = "lag          \(format(totalLag))"
        if !lag.isEmpty {
            let shown = lag.prefix(12).map { "p\($0.0) \(format($0.1))" }
            lagLine += " (" + shown.joined(separator: ", ") + (lag.count > 12 ? ", ..." : "") + ")"
        }
        lines.append(lagLine)

        let alerts = current.byLabel("osprey_alerts_total", "head").map { head, count in
            "\(head) \(format(count))"
                + (rate("osprey_alerts_total", ["head": head]).map {
                    " (\($0))"
                } ?? "")
        }
        lines.append("alerts       " + (alerts.isEmpty ? "none" : alerts.joined(separator: ", ")))

        let dead = current.byLabel("osprey_dead_letter_total", "reason")
        let deadTotal = dead.reduce(0) { $0 + $1.1 }
        var deadLine = "dead letters \(format(deadTotal))"
        if !dead.isEmpty {
            deadLine += " (" + dead.map { "\($0.0) \(format($0.1))" }.joined(separator: ", ") + ")"
        }
        lines.append(deadLine)

        let heads = Set(
            current.samples.filter { $0.name == "osprey_prequential_auc" }
                .compactMap { $0.labels["head"] }
        ).sorted()
        let quality = heads.map { head -> String in
            let auc = current.total("osprey_prequential_auc", matching: ["head": head])
            let ap = current.total(
                "osprey_prequential_average_precision", matching: ["head": head])
            let aucText = auc.map { fixed($0, 3) } ?? "-"
            return "\(head) AUC \(aucText) AP \(ap.map { fixed($0, 3) } ?? "-")"
        }
        lines.append(
            "quality      " + (quality.isEmpty ? "no labels yet" : quality.joined(separator: ", ")))

        let promotions = current.total("osprey_model_promotions_total").map(format) ?? "0"
        let rejections = current.total("osprey_model_rejections_total").map(format) ?? "0"
        lines.append("model        \(version), \(promotions) promotions, \(rejections) rejections")
        let age = current.total("osprey_checkpoint_age_seconds").map { fixed($0, 1) + "s" } ?? "-"
        lines.append("checkpoint   age \(age)")
        return lines.joined(separator: "\n") + "\n"
    }

    /// A count or rate in a short form: `950`, `12.3k`, `4.56M`.
    public static func format(_ value: Double) -> String {
        guard value.isFinite else { return value.isNaN ? "NaN" : "inf" }
        let magnitude = abs(value)
        if magnitude >= 1e6 { return fixed(value / 1e6, 2) + "M" }
        if magnitude >= 1e4 { return fixed(value / 1e3, 1) + "k" }
        if value == value.rounded() { return String(Int64(value)) }
        return fixed(value, 1)
    }

    /// `value` with exactly `places` decimals.
    public static func fixed(_ value: Double, _ places: Int) -> String {
        guard value.isFinite else { return value.isNaN ? "NaN" : "inf" }
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        let whole = Int64(scaled / scale)
        let fraction = Int64(scaled) - whole * Int64(scale)
        let sign = value < 0 && scaled > 0 ? "-" : ""
        guard places > 0 else { return sign + String(whole) }
        let digits = String(fraction)
        return sign + String(whole) + "." + String(repeating: "0", count: places - digits.count)
            + digits
    }
}
