import Foundation
import OspreyDaemon
import OspreyTestSupport
import Testing

@Suite struct MetricsRegistryTests {
    func sampleRegistry() -> MetricsRegistry {
        let registry = MetricsRegistry()
        let consumed = registry.counter(
            "osprey_events_consumed_total", help: "Events consumed.", labels: ["type", "partition"])
        consumed.labels("click", "0").increment(by: 3)
        consumed.labels("order", "1").increment()
        consumed.labels("click", "0").increment(by: -5)  // dropped: counters never go down
        let lag = registry.gauge(
            "osprey_consumer_lag", help: "Messages behind.", labels: ["partition"])
        lag.labels("0").set(42)
        lag.labels("1").set(0.5)
        let latency = registry.histogram(
            "osprey_scoring_latency_seconds", help: "Time to score a batch.\nIn seconds.",
            buckets: [0.001, 0.01, 0.1])
        for value in [0.0005, 0.002, 0.05, 0.5, Double.nan] { latency.labels().observe(value) }
        registry.gauge("osprey_model_version", help: "Serving model version.").labels().set(7)
        let reasons = registry.counter(
            "osprey_dead_letter_total", help: "Dead-lettered events.", labels: ["reason"])
        reasons.labels("bad \"quote\"\\").increment()
        return registry
    }

    @Test func rendersTheTextFormat() {
        let text = sampleRegistry().render()
        #expect(text.contains("# TYPE osprey_events_consumed_total counter\n"))
        #expect(text.contains("osprey_events_consumed_total{type=\"click\",partition=\"0\"} 3\n"))
        #expect(text.contains("osprey_events_consumed_total{type=\"order\",partition=\"1\"} 1\n"))
        #expect(text.contains("osprey_consumer_lag{partition=\"1\"} 0.5\n"))
        #expect(text.contains("osprey_scoring_latency_seconds_bucket{le=\"0.001\"} 1\n"))
        #expect(text.contains("osprey_scoring_latency_seconds_bucket{le=\"0.1\"} 3\n"))
        #expect(text.contains("osprey_scoring_latency_seconds_bucket{le=\"+Inf\"} 4\n"))
        #expect(text.contains("osprey_scoring_latency_seconds_count 4\n"))
        #expect(text.contains("# HELP osprey_scoring_latency_seconds Time to score a batch.\\nIn"))
        #expect(text.contains("osprey_dead_letter_total{reason=\"bad \\\"quote\\\"\\\\\"} 1\n"))
        #expect(text.contains("osprey_model_version 7\n"))
    }

    @Test func promtoolAcceptsTheOutput() throws {
        let promtool = "/usr/bin/promtool"
        guard FileManager.default.isExecutableFile(atPath: promtool) else {
            if TestEnvironment.isCI { Issue.record("promtool is missing: run scripts/setup.sh") }
            print("skipped: promtool not installed")
            return
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: promtool)
        process.arguments = ["check", "metrics"]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
        input.fileHandleForWriting.write(Data(sampleRegistry().render().utf8))
        try input.fileHandleForWriting.close()
        let report = String(
            decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "promtool said: \(report)")
        #expect(report.isEmpty, "promtool said: \(report)")
    }

    @Test func countersAreSafeAcrossThreads() async {
        let registry = MetricsRegistry()
        let counter = registry.counter("osprey_test_total", help: "Test.").labels()
        let histogram = registry.histogram("osprey_test_seconds", help: "Test.", buckets: [1])
            .labels()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    for _ in 0..<10_000 {
                        counter.increment()
                        histogram.observe(0.5)
                    }
                }
            }
        }
        #expect(counter.value == 40_000)
        #expect(histogram.count == 40_000)
    }
}
