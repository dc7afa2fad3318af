import OspreyDaemon
import Testing

@Suite struct StatsViewTests {
    func registry() -> (MetricsRegistry, Family<Counter>) {
        let registry = MetricsRegistry()
        let consumed = registry.counter(
            "osprey_events_consumed_total", help: "Events.", labels: ["type", "partition"])
        consumed.labels("click", "0").increment(by: 900)
        consumed.labels("order", "1").increment(by: 100)
        let lag = registry.gauge("osprey_consumer_lag", help: "Lag.", labels: ["partition"])
        lag.labels("0").set(3)
        lag.labels("10").set(7)
        lag.labels("2").set(1)
        registry.counter("osprey_alerts_total", help: "Alerts.", labels: ["head"])
            .labels("fraud").increment(by: 12)
        registry.counter("osprey_dead_letter_total", help: "DLQ.", labels: ["reason"])
            .labels("invalid_json").increment(by: 2)
        registry.gauge("osprey_prequential_auc", help: "AUC.", labels: ["head"])
            .labels("fraud").set(0.91234)
        registry.gauge("osprey_prequential_average_precision", help: "AP.", labels: ["head"])
            .labels("fraud").set(0.7)
        registry.gauge("osprey_model_version", help: "Version.").labels().set(3)
        registry.gauge("osprey_checkpoint_age_seconds", help: "Age.").labels().set(4.25)
        return (registry, consumed)
    }

    @Test func parsesTheTextFormat() {
        let scrape = MetricsScrape(
            text: """
                # HELP x y
                a_total{type="click",partition="0"} 5
                a_total{type="cl\\"ick",partition="1"} 2.5
                b +Inf
                not a sample line {
                c{broken="x} 1
                """)
        #expect(scrape.samples.count == 3)
        #expect(scrape.samples[1].labels["type"] == "cl\"ick")
        #expect(scrape.total("a_total") == 7.5)
        #expect(scrape.total("a_total", matching: ["partition": "0"]) == 5)
        #expect(scrape.total("b") == .infinity)
        #expect(scrape.total("missing") == nil)
    }

    @Test func rendersRatesLagAlertsAndQualityFromARealEndpoint() throws {
        let (registry, consumed) = registry()
        let server = try HTTPServer(listen: "127.0.0.1:0") { _, path in
            path == "/metrics"
                ? HTTPResponse(status: 200, body: registry.render())
                : HTTPResponse(status: 404, body: "")
        }
        defer { server.stop() }
        let url = "http://127.0.0.1:\(server.port)/metrics"
        let first = MetricsScrape(text: try httpGet(url))
        consumed.labels("click", "0").increment(by: 200)
        let second = MetricsScrape(
            text: try httpGet(url), takenAt: first.takenAt.advanced(by: .seconds(2)))
        let view = StatsView.render(second, previous: first)
        #expect(view.contains("events       1200 consumed, 100/s (click 100/s, order 0/s)"))
        #expect(view.contains("lag          11 (p0 3, p2 1, p10 7)"))
        #expect(view.contains("alerts       fraud 12 (0/s)"))
        #expect(view.contains("dead letters 2 (invalid_json 2)"))
        #expect(view.contains("quality      fraud AUC 0.912 AP 0.700"))
        #expect(view.contains("model        v3, 0 promotions, 0 rejections"))
        #expect(view.contains("checkpoint   age 4.3s") || view.contains("checkpoint   age 4.2s"))
        #expect(throws: ScrapeError.self) {
            try httpGet("http://127.0.0.1:\(server.port)/nothing")
        }
        #expect(throws: ScrapeError.self) { try httpGet("https://127.0.0.1/metrics") }
    }
}
