import Foundation
import OspreyDaemon
import OspreyTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A datagram socket standing where systemd's would, to read what the notifier sends.
final class NotifySocketListener {
    let path: String
    private let fd: Int32

    init() throws {
        path = try TestEnvironment.temporaryDirectory("notify").path + "/notify.sock"
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        try #require(bound == 0)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    /// The next datagram, or nil after five seconds without one.
    func receive() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count], as: UTF8.self)
    }
}

@Suite struct SystemdNotifierTests {
    @Test func sendsDatagramsInOrder() throws {
        let listener = try NotifySocketListener()
        let notifier = SystemdNotifier(environment: [
            "NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "3000000",
        ])
        #expect(notifier.watchdogInterval == .seconds(3))
        notifier.ready(status: "restored 6 partitions")
        notifier.watchdog()
        notifier.status("1200 events/s\nlag 3")
        notifier.reloading()
        notifier.stopping()
        #expect(listener.receive() == "READY=1\nSTATUS=restored 6 partitions")
        #expect(listener.receive() == "WATCHDOG=1")
        #expect(listener.receive() == "STATUS=1200 events/s lag 3")
        #expect(listener.receive()?.hasPrefix("RELOADING=1\nMONOTONIC_USEC=") == true)
        #expect(listener.receive() == "STOPPING=1")
        #expect(notifier.failures == 0)
    }

    @Test func doesNothingWithoutASocketAndCountsFailures() {
        let silent = SystemdNotifier(environment: [:])
        silent.ready()
        #expect(silent.socketPath == nil && silent.failures == 0)
        #expect(silent.watchdogInterval == nil)
        let broken = SystemdNotifier(environment: ["NOTIFY_SOCKET": "/nonexistent/notify"])
        broken.ready()
        #expect(broken.failures == 1)
        let otherProcess = SystemdNotifier(environment: [
            "NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1",
        ])
        #expect(otherProcess.watchdogInterval == nil || getpid() == 1)
    }
}
