import OspreyCore

#if canImport(Glibc)
    import Glibc
#endif

/// A reply of the metrics server.
public struct HTTPResponse: Sendable, Equatable {
    public var status: Int
    public var contentType: String
    public var body: String

    public init(status: Int, contentType: String = "text/plain; charset=utf-8", body: String) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 400: return "Bad Request"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 431: return "Request Header Fields Too Large"
        case 503: return "Service Unavailable"
        default: return "Status"
        }
    }
}

/// Why the metrics server could not start.
public struct HTTPServerError: Error, CustomStringConvertible, Equatable {
    public let address: String
    public let reason: String
    public var description: String { "cannot listen on \(address): \(reason)" }
}

/// The smallest HTTP/1.1 server that serves `/metrics`, `/healthz` and `/readyz`: GET and HEAD
/// only, one request per connection (`Connection: close`), requests up to 8 KiB, each
/// connection given two seconds to send its request and take its reply.
///
/// - Important: Connections are served one at a time on the server's thread, so a slow client
///   delays the next scrape by up to its two-second allowance. That suits a scrape every few
///   seconds; it is not a general web server. The parser only reads the request line and skips
///   the headers; bodies are never read.
///
/// Thread: the accept loop runs on a thread of its own; `handler` is called there. ``stop()``
/// may be called from any thread.
public final class HTTPServer: Sendable {
    /// The port actually bound (useful when the address asked for port 0).
    public let port: Int
    private let listener: Int32
    private let wakeWrite: Int32
    private let thread: JoinableThread

    static let maximumRequestBytes = 8192
    static let connectionAllowanceMs: Int32 = 2000

    /// Binds `address` (`127.0.0.1:9464`, `[::1]:9464`, `0.0.0.0:9464`, or `:9464` for every
    /// address) and starts serving.
    ///
    /// - Throws: ``HTTPServerError`` when the address does not parse, resolve or bind.
    public init(
        listen address: String,
        handler: @escaping @Sendable (_ method: String, _ path: String) -> HTTPResponse
    ) throws(HTTPServerError) {
        let (host, port) = try HTTPServer.split(address)
        let listener = try HTTPServer.bind(host: host, port: port, address: address)
        self.listener = listener
        self.port = HTTPServer.boundPort(listener)
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else {
            close(listener)
            throw HTTPServerError(address: address, reason: "pipe: " + errnoText())
        }
        wakeWrite = pipeEnds[1]
        let wakeRead = pipeEnds[0]
        thread = JoinableThread(name: "osprey-http") {
            HTTPServer.acceptLoop(listener: listener, wake: wakeRead, handler: handler)
            close(wakeRead)
        }
    }

    /// Stops accepting, finishes the connection in hand, and waits for the thread to end.
    public func stop() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
        thread.join()
        close(wakeWrite)
        close(listener)
    }

    private static func acceptLoop(
        listener: Int32, wake: Int32,
        handler: @Sendable (String, String) -> HTTPResponse
    ) {
        var fds = [
            pollfd(fd: listener, events: Int16(POLLIN), revents: 0),
            pollfd(fd: wake, events: Int16(POLLIN), revents: 0),
        ]
        while true {
            fds[0].revents = 0
            fds[1].revents = 0
            let ready = poll(&fds, 2, -1)
            if ready < 0 {
                if errno == EINTR { continue }
                return
            }
            if fds[1].revents != 0 { return }
            guard fds[0].revents & Int16(POLLIN) != 0 else { continue }
            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK)
            serve(client, handler: handler)
            close(client)
        }
    }

    /// Reads one request from `client`, answers it, and returns; never throws, never traps.
    static func serve(_ client: Int32, handler: (String, String) -> HTTPResponse) {
        let deadline = monotonicMilliseconds() + Int64(connectionAllowanceMs)
        var request: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 2048)
        var complete = false
        while !complete {
            guard wait(client, for: POLLIN, until: deadline) else {
                respond(client, HTTPResponse(status: 408, body: "request timeout\n"), deadline)
                return
            }
            let count = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            if count < 0 && (errno == EAGAIN || errno == EINTR) { continue }
            guard count > 0 else { return }
            request += buffer[0..<count]
            complete = headerEnd(request) != nil
            if !complete && request.count > maximumRequestBytes {
                respond(client, HTTPResponse(status: 431, body: "request too large\n"), deadline)
                return
            }
        }
        let response: HTTPResponse
        var isHead = false
        if let (method, target) = parseRequestLine(request) {
            isHead = method == "HEAD"
            if method == "GET" || method == "HEAD" {
                let path = String(target.prefix { $0 != "?" })
                response = handler("GET", path)
            } else {
                response = HTTPResponse(status: 405, body: "only GET and HEAD are served\n")
            }
        } else {
            response = HTTPResponse(status: 400, body: "bad request\n")
        }
        respond(client, response, deadline, omitBody: isHead)
    }

    /// The method and target of the request line, or nil when it is not `METHOD TARGET
    /// HTTP/1.x` in printable ASCII.
    static func parseRequestLine(_ request: [UInt8]) -> (String, String)? {
        guard let end = request.firstIndex(of: 13) ?? request.firstIndex(of: 10) else {
            return nil
        }
        let line = request[..<end]
        guard line.allSatisfy({ $0 >= 32 && $0 < 127 }) else { return nil }
        let parts = line.split(separator: 32, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[2].starts(with: Array("HTTP/1.".utf8)),
            parts[1].first == UInt8(ascii: "/"), !parts[0].isEmpty
        else { return nil }
        return (
            String(decoding: parts[0], as: UTF8.self), String(decoding: parts[1], as: UTF8.self)
        )
    }

    private static func headerEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 3..<bytes.count
        where bytes[index] == 10
            && (bytes[index - 1] == 10 || (bytes[index - 1] == 13 && bytes[index - 2] == 10))
        {
            return index
        }
        return nil
    }

    private static func respond(
        _ client: Int32, _ response: HTTPResponse, _ deadline: Int64, omitBody: Bool = false
    ) {
        let body = Array(response.body.utf8)
        var head = "HTTP/1.1 \(response.status) \(HTTPResponse.reason(response.status))\r\n"
        head += "Content-Type: \(response.contentType)\r\n"
        head += "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        var bytes = Array(head.utf8)
        if !omitBody { bytes += body }
        var offset = 0
        while offset < bytes.count {
            guard wait(client, for: POLLOUT, until: deadline) else { return }
            let sent = bytes.withUnsafeBytes {
                send(client, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL))
            }
            if sent < 0 && (errno == EAGAIN || errno == EINTR) { continue }
            guard sent > 0 else { return }
            offset += sent
        }
    }

    private static func wait(_ fd: Int32, for event: Int32, until deadline: Int64) -> Bool {
        while true {
            let remaining = deadline - monotonicMilliseconds()
            guard remaining > 0 else { return false }
            var entry = pollfd(fd: fd, events: Int16(event), revents: 0)
            let ready = poll(&entry, 1, Int32(remaining))
            if ready < 0 && errno == EINTR { continue }
            return ready > 0
        }
    }

    static func split(_ address: String) throws(HTTPServerError) -> (String?, Int) {
        guard let colon = address.lastIndex(of: ":"),
            let port = Int(address[address.index(after: colon)...]), (0...65535).contains(port)
        else {
            throw HTTPServerError(address: address, reason: "expected HOST:PORT")
        }
        var host = String(address[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? nil : host, port)
    }

    private static func bind(host: String?, port: Int, address: String) throws(HTTPServerError)
        -> Int32
    {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var results: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &results)
        guard status == 0, let first = results else {
            throw HTTPServerError(address: address, reason: String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(results) }
        var lastError = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry {
            entry = info.pointee.ai_next
            let fd = socket(
                info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue),
                info.pointee.ai_protocol)
            guard fd >= 0 else {
                lastError = errnoText()
                continue
            }
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            if Glibc.bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0,
                listen(fd, 64) == 0
            {
                return fd
            }
            lastError = errnoText()
            close(fd)
        }
        throw HTTPServerError(address: address, reason: lastError)
    }

    private static func boundPort(_ fd: Int32) -> Int {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let found = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getsockname(fd, $0, &length)
            }
        }
        guard found == 0 else { return 0 }
        let family = storage.ss_family
        return withUnsafePointer(to: &storage) { pointer in
            if family == sa_family_t(AF_INET6) {
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    Int(UInt16(bigEndian: $0.pointee.sin6_port))
                }
            }
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                Int(UInt16(bigEndian: $0.pointee.sin_port))
            }
        }
    }
}

private func errnoText() -> String { String(cString: strerror(errno)) }

/// Milliseconds on the monotonic clock.
func monotonicMilliseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
}
