import OspreyCore
import OspreyKafka
import Synchronization

/// Everything one checkpoint writes, taken on the pipeline thread at one instant: each
/// partition's join log chunk and checkpoint file (encoded there), the training state (encoded
/// here, from its snapshot), and the offsets to commit once they are on disk.
///
/// Thread: any (a value).
struct CheckpointJob: Sendable {
    var partitions: [PartitionWrite] = []
    /// The training state file and what it will hold, when it changed since the last
    /// checkpoint; encoded by ``perform()`` on the writer's thread.
    var training: (file: CheckpointFile, state: TrainingStateFile.Snapshot)?
    /// Committed after the files are written (at_least_once); empty when the offsets went with
    /// a transaction before the write (exactly_once).
    var offsetsAfterWrite: [TopicPartitionOffset] = []
    /// When the pipeline began the checkpoint.
    let started: ContinuousClock.Instant

    /// The bytes of the partitions' files (the training state's are known once encoded).
    var bytes: Int { partitions.reduce(0) { $0 + $1.bytes } }

    /// Writes every file, partitions first, and stops at the first error.
    ///
    /// - Returns: how many partitions were written, and the error that stopped the rest. The
    ///   files written before an error stay, each a whole checkpoint of its own.
    func perform() -> (partitionsWritten: Int, error: CheckpointError?) {
        var written = 0
        do throws(CheckpointError) {
            for partition in partitions {
                try partition.perform()
                written += 1
            }
            if let training { try training.file.write(training.state.encode()) }
        } catch {
            return (written, error)
        }
        return (written, nil)
    }
}

/// The checkpoint writer thread: writes and fsyncs the files of one ``CheckpointJob`` at a
/// time while the pipeline goes on with the next events.
///
/// Writing a checkpoint is mostly waiting for the disk (each file is fsynced, then its
/// directory); on the pipeline thread that wait stopped every event for as long. Here the
/// pipeline encodes the job (the state at one instant, copied into bytes), hands it over, and
/// on a later turn takes the outcome: on success it commits the job's offsets and moves each
/// partition's join log position on; on failure nothing is committed and the next checkpoint
/// writes the same state again, newer. One job is in flight at most: the pipeline does not
/// encode the next before it took the outcome of the last, and a checkpoint that must be on
/// disk before the pipeline goes on (revocation, shutdown) waits for the one in flight first.
///
/// Thread: ``start()``, ``submit(_:)``, ``takeOutcome(wait:)`` and ``stop()`` on the pipeline
/// thread; the writing on the writer's own thread, which touches only the job's files.
final class CheckpointWriter: Sendable {
    /// A finished job: how many of its partitions were written, the error that stopped the
    /// rest (and the training state), if any, and when it ended.
    struct Outcome: Sendable {
        let job: CheckpointJob
        let partitionsWritten: Int
        let error: CheckpointError?
        let finished: ContinuousClock.Instant
    }

    private let pending = Mutex<CheckpointJob?>(nil)
    private let outcome = Mutex<Outcome?>(nil)
    private let busy = Atomic<Bool>(false)
    private let stopping = Atomic<Bool>(false)
    private let wake = WakeSignal()
    private let done = WakeSignal()
    private let thread = Mutex<JoinableThread?>(nil)

    /// Starts the thread; it waits for jobs.
    func start() {
        thread.withLock { running in
            guard running == nil else { return }
            running = JoinableThread(name: "osprey-checkpoint") { [self] in loop() }
        }
    }

    /// Whether a job is queued, being written, or written but its outcome not yet taken.
    var isBusy: Bool { busy.load(ordering: .acquiring) }

    /// Hands `job` to the thread. The caller must have taken the last outcome (``isBusy`` is
    /// false).
    func submit(_ job: CheckpointJob) {
        precondition(
            busy.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing)
                .exchanged, "a checkpoint is already in flight")
        pending.withLock { $0 = job }
        wake.signal()
    }

    /// The outcome of the job in flight once it is written: nil when none is in flight, or,
    /// unless `wait`, when it is still being written.
    func takeOutcome(wait: Bool) -> Outcome? {
        guard isBusy else { return nil }
        if wait {
            while outcome.withLock({ $0 == nil }) { done.wait() }
        }
        guard let finished = outcome.withLock({ $0.take() }) else { return nil }
        busy.store(false, ordering: .releasing)
        return finished
    }

    /// Ends the thread after the job in flight, if any, is written; its outcome stays to be
    /// taken.
    func stop() {
        stopping.store(true, ordering: .releasing)
        wake.signal()
        let running = thread.withLock { $0.take() }
        running?.join()
    }

    private func loop() {
        while true {
            wake.wait()
            if let job = pending.withLock({ $0.take() }) {
                let (written, failure) = job.perform()
                outcome.withLock {
                    $0 = Outcome(
                        job: job, partitionsWritten: written, error: failure, finished: .now)
                }
                done.signal()
            }
            if stopping.load(ordering: .acquiring) { return }
        }
    }
}
