#if canImport(Glibc)
    import Glibc
#endif

/// A POSIX thread of our own that runs one closure, for blocking work that must stay off
/// Swift's cooperative pool (a Kafka poll loop, a socket accept loop, the trainer).
///
/// The thread starts in the initialiser. Call ``join()`` once to wait for it; a thread that is
/// never joined keeps running until its closure returns, and its resources are freed only at
/// exit.
///
/// Thread: create and join from any one thread.
public final class JoinableThread: @unchecked Sendable {
    // Written once in init, read by join; join is documented as single-caller.
    private var handle: pthread_t
    private var joined = false

    /// Starts a thread running `body`; `name` says what it is for in debuggers' eyes only
    /// (Glibc's module does not expose `pthread_setname_np`, so the OS name is not set).
    ///
    /// - Important: Traps when the system cannot create a thread: that is resource exhaustion
    ///   at start-up, which no caller can recover from.
    public init(name: String, _ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(ThreadBody(name: name, body: body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(
            &thread, nil,
            { raw in
                let body = Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue()
                body.body()
                return nil
            }, box)
        precondition(result == 0, "pthread_create failed with \(result)")
        handle = thread
    }

    /// Waits for the thread's closure to return. Calling it again returns at once.
    public func join() {
        guard !joined else { return }
        joined = true
        pthread_join(handle, nil)
    }
}

private final class ThreadBody {
    let name: String
    let body: @Sendable () -> Void

    init(name: String, body: @escaping @Sendable () -> Void) {
        self.name = name
        self.body = body
    }
}
