#if canImport(Glibc)
    import Glibc
#endif

/// A counting semaphore (POSIX `sem_t`): one thread waits until another signals.
///
/// ``signal()`` never blocks, so the pipeline thread can wake the trainer without waiting.
///
/// Thread: any; the semaphore is the synchronisation (hence `@unchecked`).
final class WakeSignal: @unchecked Sendable {
    // Owned by this object: initialised here, destroyed and freed in deinit.
    private let semaphore = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)

    init() {
        sem_init(semaphore, 0, 0)
    }

    deinit {
        sem_destroy(semaphore)
        semaphore.deallocate()
    }

    /// Wakes one waiter (or the next one to wait).
    func signal() { sem_post(semaphore) }

    /// Blocks until signalled; retries when a signal handler interrupts it.
    func wait() {
        while sem_wait(semaphore) != 0 && errno == EINTR {}
    }
}
