#if canImport(Glibc)
    import Glibc
#endif

/// Process signals turned into bytes on a pipe, read by a thread of our own.
///
/// ``SignalSet`` relies on every thread blocking the signals, which a process cannot promise
/// once a library has started threads of its own before `main` (OpenBLAS starts its pool in
/// its constructor), and the kernel may hand a process-wide SIGTERM to any thread that does
/// not block it. Here a handler, installed for the whole process, only writes the signal's
/// number to a pipe (`write(2)` is async-signal-safe); ``wait()`` reads it back on whichever
/// thread calls it, so it does not matter which thread the kernel chose.
///
/// Thread: install once from the main thread; ``wait()`` from one thread.
public enum SignalPipe {
    /// Installs the handler for `signals`; later calls add signals to the same pipe.
    public static func install(_ signals: [Int32]) {
        if signalPipeWriteEnd < 0 {
            var ends: [Int32] = [0, 0]
            guard pipe(&ends) == 0 else { return }
            for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
            signalPipeReadEnd = ends[0]
            signalPipeWriteEnd = ends[1]
        }
        // A parent may have started us with these signals blocked (a blocked mask survives
        // exec); unblock them here so the handler runs, and so in every thread started later.
        var unblock = sigset_t()
        sigemptyset(&unblock)
        for signal in signals { sigaddset(&unblock, signal) }
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
        for signal in signals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = forwardSignal
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(signal, &action, nil)
        }
    }

    /// Waits at most `timeout` for the next signal; nil when none arrived.
    ///
    /// Thread: blocks the calling thread; never call it on Swift's cooperative pool.
    public static func wait(timeout: Duration) -> Int32? {
        var entry = pollfd(fd: signalPipeReadEnd, events: Int16(POLLIN), revents: 0)
        let millis = Int32(clamping: max(0, timeout.totalMilliseconds))
        guard poll(&entry, 1, millis) > 0 else { return nil }
        return wait()
    }

    /// Waits for the next signal and returns its number.
    ///
    /// Thread: blocks the calling thread; never call it on Swift's cooperative pool.
    public static func wait() -> Int32 {
        var byte: UInt8 = 0
        while true {
            let count = read(signalPipeReadEnd, &byte, 1)
            if count == 1 { return Int32(byte) }
            if count < 0 && errno == EINTR { continue }
            return 0
        }
    }
}

// Plain globals, set before any handler is installed, so the handler only loads them.
nonisolated(unsafe) private var signalPipeReadEnd: Int32 = -1
nonisolated(unsafe) private var signalPipeWriteEnd: Int32 = -1

/// The handler: one byte, the signal's number, to the pipe; nothing else is safe here.
private func forwardSignal(_ signal: Int32) {
    var byte = UInt8(truncatingIfNeeded: signal)
    let saved = errno
    _ = write(signalPipeWriteEnd, &byte, 1)
    errno = saved
}
