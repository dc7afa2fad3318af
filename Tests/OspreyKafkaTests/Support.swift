import Foundation
import OspreyCore
import OspreyKafka
import OspreyTestSupport
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Runs blocking Kafka work on a thread of its own, off Swift's cooperative pool, and returns
/// its result to the test.
func onThread<T: Sendable>(
    _ name: String = "kafka-test", _ body: @escaping @Sendable () throws -> T
) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try body() })
        }
        thread.name = name
        thread.start()
    }
}

/// Polls `condition` every few milliseconds until it holds or `timeout` passes; the wait ends
/// as soon as the awaited event has happened.
func waitUntil(timeout: Duration, _ condition: () -> Bool) -> Bool {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        if ContinuousClock.now >= deadline { return false }
        usleep(5_000)
    }
    return true
}

/// A value shared between test threads.
final class Shared<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>
    init(_ value: Value) { storage = Mutex(value) }
    func withLock<R: Sendable>(_ body: (inout Value) -> R) -> R { storage.withLock { body(&$0) } }
    var value: Value { storage.withLock { $0 } }
}

/// Configuration shared by the tests' clients: quick group rebalances and failures.
func clientConfiguration(_ broker: EmbeddedBroker) -> KafkaConfiguration {
    KafkaConfiguration([
        "bootstrap.servers": broker.bootstrapServers,
        "topic.metadata.refresh.interval.ms": "1000",
    ])
}

func consumerConfiguration(_ broker: EmbeddedBroker, group: String) -> KafkaConfiguration {
    clientConfiguration(broker).merging(
        KafkaConfiguration([
            "group.id": group,
            "auto.offset.reset": "earliest",
            "heartbeat.interval.ms": "100",
            "session.timeout.ms": "6000",
            "max.poll.interval.ms": "10000",
        ]))
}

/// Runs `kcat` with a timeout and returns its exit status and standard output.
///
/// - Throws: ``ProcessTimedOut`` when kcat runs longer than `timeout`.
func runKcat(_ arguments: [String], input: Data? = nil, timeout: Duration = .seconds(20))
    throws -> (status: Int32, output: Data, errors: String)
{
    try runProgram("/usr/bin/kcat", arguments, input: input, timeout: timeout)
}

/// A thread started at once, whose result the test collects with ``join()``.
final class TestThread<T: Sendable>: Sendable {
    private let result = Shared<Result<T, any Error>?>(nil)
    private let done = DispatchSemaphore(value: 0)

    init(_ name: String, _ body: @escaping @Sendable () throws -> T) {
        let thread = Thread { [result, done] in
            let outcome = Result { try body() }
            result.withLock { $0 = outcome }
            done.signal()
        }
        thread.name = name
        thread.start()
    }

    /// Waits for the thread to finish and returns what it returned, or throws what it threw.
    func join() throws -> T {
        done.wait()
        return try result.value!.get()
    }
}
