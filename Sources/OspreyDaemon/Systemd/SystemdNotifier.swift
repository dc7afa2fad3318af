import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Tells systemd about the service's life over the sd_notify datagram protocol: one datagram
/// of newline-separated `KEY=value` assignments to the Unix socket named by `NOTIFY_SOCKET`
/// (a path, or an abstract name when it starts with `@`).
///
/// Without `NOTIFY_SOCKET` (not run by systemd, or `Type=` other than `notify`) every call does
/// nothing. Sending never throws and never blocks for long: systemd not listening is not the
/// daemon's failure, so a failed send is counted in ``failures`` and otherwise ignored.
///
/// Thread: any; each call sends one datagram, which the kernel delivers whole.
public final class SystemdNotifier: Sendable {
    /// The socket's address as given, or nil when notifications are off.
    public let socketPath: String?
    /// The watchdog interval systemd asked for (`WATCHDOG_USEC`), or nil when it asked for none.
    public let watchdogInterval: Duration?
    private let failureCount = FailureCounter()

    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from `environment`.
    public init(environment: [String: String]) {
        let path = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        socketPath = path
        var interval: Duration?
        if let text = environment["WATCHDOG_USEC"], let micros = Int64(text), micros > 0 {
            let forUs = environment["WATCHDOG_PID"].flatMap { Int32($0) }.map { $0 == getpid() }
            if forUs ?? true { interval = .microseconds(micros) }
        }
        watchdogInterval = interval
    }

    /// The number of datagrams that could not be sent.
    public var failures: Int { failureCount.value }

    /// `READY=1`: start-up is complete.
    public func ready(status: String? = nil) { send(["READY=1"] + statusLine(status)) }
    /// `RELOADING=1` with the monotonic time systemd 253+ expects; older ones ignore it.
    public func reloading() {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let micros = Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000
        send(["RELOADING=1", "MONOTONIC_USEC=\(micros)"])
    }
    /// `STOPPING=1`: shutdown has begun.
    public func stopping() { send(["STOPPING=1"]) }
    /// `WATCHDOG=1`: the service is alive; send it from the loop whose liveness it proves.
    public func watchdog() { send(["WATCHDOG=1"]) }
    /// `STATUS=…`: one line for `systemctl status`.
    public func status(_ text: String) { send(statusLine(text)) }

    private func statusLine(_ text: String?) -> [String] {
        guard let text else { return [] }
        return ["STATUS=" + text.map { $0 == "\n" ? " " : $0 }.reduce(into: "") { $0.append($1) }]
    }

    /// Sends the assignments as one datagram.
    public func send(_ assignments: [String]) {
        guard let socketPath, !assignments.isEmpty else { return }
        let message = assignments.joined(separator: "\n")
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return failureCount.add() }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var pathBytes = Array(socketPath.utf8)
        if pathBytes.first == UInt8(ascii: "@") { pathBytes[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard pathBytes.count < capacity else { return failureCount.add() }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in pathBytes.enumerated() { raw[index] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + pathBytes.count)
        let sent = message.withCString { text in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, text, strlen(text), Int32(MSG_NOSIGNAL), $0, length)
                }
            }
        }
        if sent < 0 { failureCount.add() }
    }
}

private final class FailureCounter: Sendable {
    private let count = Atomic<Int>(0)
    func add() { count.add(1, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}
