import Foundation
import OspreyCore
import OspreySimulator
import Synchronization

/// The demo's live traffic: the simulator paced in real time into the `events` topic, each
/// label into `labels` its delay later, as `osprey simulate --bootstrap` does.
enum DemoTraffic {
    /// Produces `settings`' records at the moment of their event time until `stop` says so
    /// or the simulated time ends. Records whose time has passed (the simulation may start
    /// before now) are produced at once, as a backlog the daemon catches up with.
    ///
    /// Thread: a ``DemoThread`` of its own; the sink lives and dies on it.
    /// - Throws: ``KafkaError`` or ``SinkError`` when records cannot be produced.
    static func run(
        settings: SimulationSettings, bootstrap: String, counters: DemoCounters,
        stop: () -> Bool
    ) throws {
        let sink = try KafkaRecordSink(
            bootstrap: bootstrap, eventsTopic: "events", labelsTopic: "labels")
        var simulator = TrafficSimulator(settings: settings)
        let started = ContinuousClock.now
        let startedMs = wallClockMilliseconds()
        while !stop(), let record = simulator.next() {
            let due = started + .milliseconds(record.timeMs - startedMs)
            // Wait in short steps, so that a stop request is seen within a tenth of a second.
            while case let now = ContinuousClock.now, now < due {
                if stop() { break }
                try sink.idle(until: min(due, now + .milliseconds(100)))
            }
            try sink.write(record)
            if record.kind == .event { counters.produced.add(1, ordering: .relaxed) }
        }
        try sink.finish()
    }
}

/// Counts the demo's threads share with its view.
final class DemoCounters: Sendable {
    /// Events produced to the `events` topic.
    let produced = Atomic<Int>(0)
}

/// A worker thread of the demo with a stop flag; ``stop()`` waits for it and rethrows its
/// error.
///
/// Thread: create and stop from the demo's main thread.
final class DemoThread: Sendable {
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let failure = Mutex<(any Error)?>(nil)

    init(
        name: String,
        _ body: @escaping @Sendable (_ stopping: () -> Bool) throws -> Void
    ) {
        let thread = Thread { [self] in
            do {
                try body { self.stopping.load(ordering: .relaxed) }
            } catch {
                failure.withLock { $0 = error }
            }
            finished.signal()
        }
        thread.name = name
        thread.start()
    }

    /// The error that ended the thread early, if it has.
    var error: (any Error)? { failure.withLock { $0 } }

    func stop() throws {
        stopping.store(true, ordering: .relaxed)
        finished.wait()
        if let error = failure.withLock({ $0 }) { throw error }
    }
}
