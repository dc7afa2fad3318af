import OspreyCore

#if canImport(Glibc)
    import Glibc
#endif

/// The demo's daemon: `osprey serve` run from this same executable as a child process, with
/// its logs in a file.
///
/// The child gets a process group of its own, so that a Ctrl-C at the terminal reaches the
/// demo only, and the demo stops the daemon with one SIGTERM: the daemon's clean stop, which
/// a second signal would cut short.
///
/// Thread: the demo's main thread.
final class DemoDaemon {
    let pid: pid_t
    let logPath: String
    private var exitStatus: Int32?

    /// Starts `osprey serve --config CONFIG` with standard output and error to `logPath`.
    ///
    /// - Throws: ``DemoError`` when the executable cannot be found or started.
    init(config: String, logPath: String) throws {
        self.logPath = logPath
        let executable = try DemoDaemon.ownExecutable()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o640)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)

        let words = [executable, "serve", "--config", config]
        var argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
        defer { for word in argv { free(word) } }
        var child: pid_t = 0
        let code = posix_spawn(&child, executable, &actions, &attributes, &argv, environ)
        guard code == 0 else {
            throw DemoError("cannot start the daemon: \(String(cString: strerror(code)))")
        }
        pid = child
    }

    /// The path of the running executable.
    private static func ownExecutable() throws -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { throw DemoError("cannot find the osprey executable") }
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The daemon's exit status once it has ended (reaping it), or nil while it runs.
    func exited() -> Int32? {
        if let exitStatus { return exitStatus }
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
        // WIFEXITED and WEXITSTATUS by hand: Glibc's macros are not imported.
        exitStatus = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return exitStatus
    }

    /// Waits until a line of the daemon's log contains `text` and returns it; nil when the
    /// daemon ended first or `timeout` passed.
    func waitForLog(_ text: String, timeout: Duration) -> String? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let line = logLines().first(where: { $0.contains(text) }) { return line }
            if exited() != nil { return nil }
            usleep(50_000)
        }
        return nil
    }

    /// The log's lines so far.
    func logLines() -> [String] {
        guard let file = fopen(logPath, "r") else { return [] }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while case let count = fread(&chunk, 1, chunk.count, file), count > 0 {
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    /// Sends SIGTERM and waits for the clean stop; SIGKILL after `timeout`. Returns the exit
    /// status (128 + the signal's number when a signal ended it).
    func stop(timeout: Duration) -> Int32 {
        if let status = exited() { return status }
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let status = exited() { return status }
            usleep(20_000)
        }
        kill(pid, SIGKILL)
        while exited() == nil { usleep(20_000) }
        return exitStatus ?? ExitCode.failure
    }
}

/// A failure of `osprey demo`, printed as one line.
struct DemoError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
