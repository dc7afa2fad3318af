import Foundation
import OspreyDaemon
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Sends `request` to 127.0.0.1:`port` over a real socket, half-closes, and returns everything
/// the server wrote before closing.
func exchange(port: Int, _ request: [UInt8]) throws -> String {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    #expect(connected == 0)
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    // Half-close, so that the server sees the end of an incomplete request at once.
    shutdown(fd, Int32(SHUT_WR))
    var reply: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count <= 0 { break }
        reply += buffer[0..<count]
    }
    return String(decoding: reply, as: UTF8.self)
}

@Suite struct HTTPServerTests {
    func startServer() throws -> HTTPServer {
        try HTTPServer(listen: "127.0.0.1:0") { _, path in
            switch path {
            case "/metrics": return HTTPResponse(status: 200, body: "osprey_up 1\n")
            case "/healthz": return HTTPResponse(status: 200, body: "ok\n")
            case "/readyz": return HTTPResponse(status: 503, body: "not ready\n")
            default: return HTTPResponse(status: 404, body: "not found\n")
            }
        }
    }

    @Test func servesPathsAndStatuses() throws {
        let server = try startServer()
        defer { server.stop() }
        #expect(server.port > 0)
        let metrics = try exchange(
            port: server.port, Array("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(metrics.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(metrics.contains("Content-Length: 12\r\n"))
        #expect(metrics.hasSuffix("\r\n\r\nosprey_up 1\n"))
        let ready = try exchange(port: server.port, Array("GET /readyz?x=1 HTTP/1.0\r\n\r\n".utf8))
        #expect(ready.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"))
        let missing = try exchange(port: server.port, Array("GET /nope HTTP/1.1\r\n\r\n".utf8))
        #expect(missing.hasPrefix("HTTP/1.1 404"))
        let post = try exchange(port: server.port, Array("POST /metrics HTTP/1.1\r\n\r\n".utf8))
        #expect(post.hasPrefix("HTTP/1.1 405"))
        let head = try exchange(port: server.port, Array("HEAD /healthz HTTP/1.1\r\n\r\n".utf8))
        #expect(head.hasPrefix("HTTP/1.1 200") && head.hasSuffix("\r\n\r\n"))
        let junk = try exchange(port: server.port, Array("\u{1}\u{2} garbage\r\n\r\n".utf8))
        #expect(junk.hasPrefix("HTTP/1.1 400"))
        let huge = try exchange(
            port: server.port, Array(repeating: UInt8(ascii: "a"), count: 20_000))
        #expect(huge.hasPrefix("HTTP/1.1 431"))
    }

    @Test func survivesRandomBytes() throws {
        let server = try startServer()
        defer { server.stop() }
        var generator = SystemRandomNumberGenerator()
        for round in 0..<300 {
            let length = Int.random(in: 0...600, using: &generator)
            var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            // Every other round, something close to a request, so the parser's edges are hit.
            if round % 2 == 0 { bytes = Array("GET /".utf8) + bytes + Array("\r\n\r\n".utf8) }
            let reply = try exchange(port: server.port, bytes)
            #expect(reply.isEmpty || reply.hasPrefix("HTTP/1.1 "))
        }
        let health = try exchange(port: server.port, Array("GET /healthz HTTP/1.1\r\n\r\n".utf8))
        #expect(health.hasPrefix("HTTP/1.1 200"))
    }

    @Test func refusesBadAddresses() {
        #expect(throws: HTTPServerError.self) {
            try HTTPServer(listen: "nonsense") { _, _ in
                HTTPResponse(status: 200, body: "")
            }
        }
        #expect(throws: HTTPServerError.self) {
            try HTTPServer(listen: "127.0.0.1:99999") { _, _ in
                HTTPResponse(status: 200, body: "")
            }
        }
    }
}
