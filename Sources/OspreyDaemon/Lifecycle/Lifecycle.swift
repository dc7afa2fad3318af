import OspreyCore

/// The daemon's life as a state machine: each event gives the next state and the one action
/// to take, which the caller performs outside any lock.
///
///     starting --ready--> running --stop--> draining --drained--> stopped (exit 0)
///         \                  |  \--reload--> running (thresholds, log level)
///          \--stop--> draining   draining --stop again / budget spent--> stopped (exit 1)
///     any --fatal--> stopped (exit 70)
///
/// Thread: a value; the daemon keeps it under a mutex shared by the signal thread and the
/// pipeline thread.
public struct Lifecycle: Sendable, Equatable {
    public enum State: String, Sendable, Equatable {
        case starting, running, draining, stopped
    }

    public enum Event: Sendable, Equatable {
        /// State restored and partitions assigned: the daemon can take traffic.
        case ready
        /// SIGTERM or SIGINT.
        case stopRequested
        /// SIGHUP.
        case reloadRequested
        /// The batch in flight is finished, the producer flushed, the checkpoint written and
        /// the offsets committed.
        case drained
        /// The shutdown budget ran out before ``drained``.
        case budgetSpent
        /// An error nothing can recover from (a fatal librdkafka error, say).
        case fatal
    }

    public enum Action: Sendable, Equatable {
        case none
        /// Tell systemd READY=1 and open /readyz.
        case announceReady
        /// Stop fetching, finish the batch in flight, flush, checkpoint, commit; the budget
        /// is counted from now.
        case beginDraining(budget: Duration)
        /// Re-read thresholds and the log level; tell systemd RELOADING=1 then READY=1.
        case reload
        /// Exit the process with this code now, without further cleanup.
        case exit(code: Int32)
    }

    public private(set) var state: State = .starting
    /// How long a clean stop may take.
    public let shutdownBudget: Duration

    public init(shutdownBudget: Duration) {
        self.shutdownBudget = shutdownBudget
    }

    /// Moves to the state that `event` leads to and returns the action to perform.
    public mutating func handle(_ event: Event) -> Action {
        switch (state, event) {
        case (_, .fatal):
            let wasStopped = state == .stopped
            state = .stopped
            return wasStopped ? .none : .exit(code: ExitCode.software)
        case (.starting, .ready):
            state = .running
            return .announceReady
        case (.starting, .stopRequested), (.running, .stopRequested):
            state = .draining
            return .beginDraining(budget: shutdownBudget)
        case (.running, .reloadRequested):
            return .reload
        case (.draining, .stopRequested), (.draining, .budgetSpent):
            state = .stopped
            return .exit(code: ExitCode.failure)
        case (.draining, .drained):
            state = .stopped
            return .exit(code: ExitCode.success)
        default:
            // A reload while starting or draining, a late ready, anything after stopping:
            // nothing to do.
            return .none
        }
    }
}
