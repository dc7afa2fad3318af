#if canImport(Glibc)
    import Glibc
#endif

/// Process signals taken synchronously with `sigwait` on a thread of our own, instead of
/// asynchronous handlers that may do almost nothing safely.
///
/// Call ``blockInProcess()`` on the main thread before any other thread starts, so that every
/// thread inherits the mask and the signals stay pending until ``wait()`` takes them.
public struct SignalSet: Sendable {
    public let signals: [Int32]

    public init(_ signals: [Int32]) { self.signals = signals }

    /// SIGINT, SIGTERM and SIGHUP: what a daemon and the interactive commands act on.
    public static let lifecycle = SignalSet([SIGINT, SIGTERM, SIGHUP])

    private var mask: sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        return set
    }

    /// Blocks these signals for the calling thread and every thread it starts afterwards.
    public func blockInProcess() {
        var set = mask
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Waits until one of these signals arrives and returns its number.
    ///
    /// Thread: blocks the calling thread; never call it on Swift's cooperative pool.
    public func wait() -> Int32 {
        var set = mask
        var received: Int32 = 0
        while sigwait(&set, &received) != 0 {}
        return received
    }

    /// Takes a pending signal without waiting, or returns nil when none is pending.
    public func poll() -> Int32? {
        var set = mask
        var zero = timespec(tv_sec: 0, tv_nsec: 0)
        let signal = sigtimedwait(&set, nil, &zero)
        return signal > 0 ? signal : nil
    }

    /// Waits at most `timeout` for one of these signals; nil when none arrived.
    public func wait(timeout: Duration) -> Int32? {
        var set = mask
        let millis = max(0, timeout.totalMilliseconds)
        var limit = timespec(tv_sec: Int(millis / 1000), tv_nsec: Int(millis % 1000) * 1_000_000)
        let signal = sigtimedwait(&set, nil, &limit)
        return signal > 0 ? signal : nil
    }

    /// The conventional name of a signal number (`SIGTERM`).
    public static func name(of signal: Int32) -> String {
        switch signal {
        case SIGINT: "SIGINT"
        case SIGTERM: "SIGTERM"
        case SIGHUP: "SIGHUP"
        case SIGQUIT: "SIGQUIT"
        default: "signal \(signal)"
        }
    }
}
