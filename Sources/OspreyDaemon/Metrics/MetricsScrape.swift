#if canImport(Glibc)
    import Glibc
#endif

/// One sample line of the Prometheus text format: a name, its labels and a value.
public struct MetricSample: Sendable, Equatable {
    public let name: String
    public let labels: [String: String]
    public let value: Double

    public init(name: String, labels: [String: String] = [:], value: Double) {
        self.name = name
        self.labels = labels
        self.value = value
    }
}

/// A scrape of `/metrics`, parsed, with lookups by name and label.
public struct MetricsScrape: Sendable {
    public let samples: [MetricSample]
    /// When it was taken, on the monotonic clock.
    public let takenAt: ContinuousClock.Instant

    public init(samples: [MetricSample], takenAt: ContinuousClock.Instant = .now) {
        self.samples = samples
        self.takenAt = takenAt
    }

    /// Parses the text exposition format; comment lines are skipped, and a line that does not
    /// parse is skipped too (an operator's view should show what it can).
    public init(text: String, takenAt: ContinuousClock.Instant = .now) {
        self.samples = text.split(separator: "\n").compactMap { MetricsScrape.parseLine($0) }
        self.takenAt = takenAt
    }

    /// The sum of every sample called `name` whose labels include `matching`.
    public func total(_ name: String, matching: [String: String] = [:]) -> Double? {
        let found = samples.filter { sample in
            sample.name == name && matching.allSatisfy { sample.labels[$0.key] == $0.value }
        }
        return found.isEmpty ? nil : found.reduce(0) { $0 + $1.value }
    }

    /// The samples called `name` grouped by the value of `label`, summed within each group.
    public func byLabel(_ name: String, _ label: String) -> [(String, Double)] {
        var groups: [String: Double] = [:]
        for sample in samples where sample.name == name {
            groups[sample.labels[label] ?? "", default: 0] += sample.value
        }
        return groups.sorted { lhs, rhs in
            if let left = Int(lhs.key), let right = Int(rhs.key) { return left < right }
            return lhs.key < rhs.key
        }
    }

    static func parseLine(_ line: Substring) -> MetricSample? {
        let text = line.trimmingCharacters()
        guard !text.isEmpty, !text.hasPrefix("#") else { return nil }
        var labels: [String: String] = [:]
        let name: Substring
        var rest: Substring
        if let brace = text.firstIndex(of: "{") {
            name = text[..<brace]
            guard let close = text.lastIndex(of: "}") else { return nil }
            guard let parsed = parseLabels(text[text.index(after: brace)..<close]) else {
                return nil
            }
            labels = parsed
            rest = text[text.index(after: close)...]
        } else {
            guard let space = text.firstIndex(of: " ") else { return nil }
            name = text[..<space]
            rest = text[space...]
        }
        let fields = rest.split(separator: " ")
        guard let first = fields.first, let value = parseValue(first), !name.isEmpty else {
            return nil
        }
        return MetricSample(name: String(name), labels: labels, value: value)
    }

    private static func parseValue(_ text: Substring) -> Double? {
        switch text {
        case "+Inf": return .infinity
        case "-Inf": return -.infinity
        case "NaN": return .nan
        default: return Double(text)
        }
    }

    /// `a="x",b="y \"q\""` into a dictionary, or nil when malformed.
    private static func parseLabels(_ text: Substring) -> [String: String]? {
        var labels: [String: String] = [:]
        var index = text.startIndex
        while index < text.endIndex {
            guard let equals = text[index...].firstIndex(of: "=") else { return nil }
            let key = text[index..<equals].trimmingCharacters()
            var cursor = text.index(after: equals)
            guard cursor < text.endIndex, text[cursor] == "\"" else { return nil }
            cursor = text.index(after: cursor)
            var value = ""
            var closed = false
            while cursor < text.endIndex {
                let character = text[cursor]
                cursor = text.index(after: cursor)
                if character == "\\", cursor < text.endIndex {
                    let escaped = text[cursor]
                    cursor = text.index(after: cursor)
                    value.append(escaped == "n" ? "\n" : escaped)
                } else if character == "\"" {
                    closed = true
                    break
                } else {
                    value.append(character)
                }
            }
            guard closed else { return nil }
            labels[String(key)] = value
            while cursor < text.endIndex, text[cursor] == "," || text[cursor] == " " {
                cursor = text.index(after: cursor)
            }
            index = cursor
        }
        return labels
    }
}

extension Substring {
    fileprivate func trimmingCharacters() -> Substring {
        var result = self
        while let first = result.first, first == " " || first == "\t" || first == "\r" {
            result = result.dropFirst()
        }
        while let last = result.last, last == " " || last == "\t" || last == "\r" {
            result = result.dropLast()
        }
        return result
    }
}

/// Why a scrape failed.
public struct ScrapeError: Error, CustomStringConvertible, Equatable {
    public let url: String
    public let reason: String
    public var description: String { "cannot read \(url): \(reason)" }
}

/// Fetches `http://HOST:PORT/PATH` with a plain HTTP/1.1 GET over a socket, within `timeout`.
///
/// - Throws: ``ScrapeError`` when the URL is not `http://`, the host does not resolve, the
///   connection fails or times out, or the status is not 200.
public func httpGet(_ url: String, timeout: Duration = .seconds(3)) throws(ScrapeError) -> String {
    guard url.hasPrefix("http://") else {
        throw ScrapeError(url: url, reason: "only http:// URLs are supported")
    }
    let rest = url.dropFirst("http://".count)
    let slash = rest.firstIndex(of: "/") ?? rest.endIndex
    let authority = String(rest[..<slash])
    let path = slash == rest.endIndex ? "/" : String(rest[slash...])
    var host = authority
    var port = "80"
    if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
        host = String(authority[..<colon])
        port = String(authority[authority.index(after: colon)...])
    }
    if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }

    var hints = addrinfo()
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    var results: UnsafeMutablePointer<addrinfo>?
    let status = getaddrinfo(host, port, &hints, &results)
    guard status == 0, let info = results else {
        throw ScrapeError(url: url, reason: String(cString: gai_strerror(status)))
    }
    defer { freeaddrinfo(results) }
    let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
    guard fd >= 0 else { throw ScrapeError(url: url, reason: String(cString: strerror(errno))) }
    defer { close(fd) }
    let seconds = Int(timeout.totalSeconds)
    var limit = timeval(
        tv_sec: seconds, tv_usec: Int((timeout.totalSeconds - Double(seconds)) * 1_000_000))
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    guard connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
        throw ScrapeError(url: url, reason: String(cString: strerror(errno)))
    }
    let request = Array(
        "GET \(path) HTTP/1.1\r\nHost: \(authority)\r\nConnection: close\r\n\r\n".utf8)
    guard
        request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) })
            == request.count
    else { throw ScrapeError(url: url, reason: String(cString: strerror(errno))) }
    var reply: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count < 0 {
            if errno == EINTR { continue }
            throw ScrapeError(url: url, reason: String(cString: strerror(errno)))
        }
        if count == 0 { break }
        reply += buffer[0..<count]
    }
    let separator: [UInt8] = [13, 10, 13, 10]
    guard
        let headerEnd = (0..<max(0, reply.count - 3)).first(where: {
            reply[$0..<$0 + 4].elementsEqual(separator)
        })
    else { throw ScrapeError(url: url, reason: "the reply is not HTTP") }
    let statusLine = String(decoding: reply[..<headerEnd].prefix { $0 != 13 }, as: UTF8.self)
    guard statusLine.split(separator: " ").dropFirst().first == "200" else {
        throw ScrapeError(url: url, reason: "the server answered '\(statusLine)'")
    }
    return String(decoding: reply[(headerEnd + 4)...], as: UTF8.self)
}
