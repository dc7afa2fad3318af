import Foundation
import OspreyCore
import OspreyKafka
import OspreyTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The watchdog proves that the pipeline loop turns: `osprey serve` under a test
/// `NOTIFY_SOCKET` sends `WATCHDOG=1` while the loop runs, stops sending it while the loop is
/// stuck, and sends it again once the loop moves.
///
/// The loop is made stuck from outside, through the broker: the embedded broker delays every
/// response by 8 s, and the loop's checkpoint (every second here) commits its offsets
/// synchronously, so it waits on the broker. A watchdog sent by a timer thread of its own
/// would go on through that wait, and this test would fail.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct WatchdogTests {
    /// The next datagram that contains `text`, and the time it arrived; nil when `timeout`
    /// passes first.
    static func next(
        _ text: String, from listener: NotifySocketListener, timeout: Duration
    ) -> ContinuousClock.Instant? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let message = listener.receive(), message.contains(text) { return .now }
        }
        return nil
    }

    @Test func watchdogStopsWhileThePipelineIsStuckAndResumesAfter() throws {
        let broker = try EmbeddedBroker(logger: Logger(label: "broker"))
        for topic in ["events", "labels", "alerts", "events.dlq"] {
            try broker.createTopic(topic, partitions: 1)
        }
        let directory = try TestEnvironment.temporaryDirectory("watchdog")
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("osprey.conf").path
        try """
        kafka.bootstrap.servers = \(broker.bootstrapServers)
        kafka.group.id = watchdog
        state.dir = \(directory.path)/state
        metrics.listen = 127.0.0.1:0
        checkpoint.interval = 1s
        shutdown.timeout = 20s

        """.write(toFile: config, atomically: true, encoding: .utf8)
        let listener = try NotifySocketListener()
        let daemon = try ChildProcess.osprey(
            ["serve", "--config", config],
            environment: ["NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "1000000"])
        defer { daemon.stop() }

        // Running: READY=1, then WATCHDOG=1 every half interval.
        #expect(Self.next("READY=1", from: listener, timeout: .seconds(60)) != nil)
        var last = try #require(Self.next("WATCHDOG=1", from: listener, timeout: .seconds(5)))
        for _ in 0..<3 {
            let beat = try #require(Self.next("WATCHDOG=1", from: listener, timeout: .seconds(5)))
            #expect(beat - last < .seconds(2))
            last = beat
        }

        // Stuck: the longest silence over the next 15 s is far above the half second.
        try broker.setRoundTripTime(broker: broker.brokerIDs.lowerBound, delay: .seconds(8))
        let stuckSince = ContinuousClock.now
        var longest = Duration.zero
        while ContinuousClock.now - stuckSince < .seconds(15) {
            let beat = Self.next("WATCHDOG=1", from: listener, timeout: .seconds(2))
            longest = max(longest, (beat ?? .now) - last)
            if let beat { last = beat }
        }
        print("watchdog: longest silence while stuck \(longest)")
        #expect(longest >= .seconds(5), "longest silence \(longest)")

        // Moving again: the watchdog comes back, and SIGTERM still stops the daemon cleanly.
        try broker.setRoundTripTime(broker: broker.brokerIDs.lowerBound, delay: .zero)
        #expect(Self.next("WATCHDOG=1", from: listener, timeout: .seconds(30)) != nil)
        daemon.send(SIGTERM)
        #expect(daemon.waitForExit(timeout: .seconds(30)) == 0)
    }
}
