import Foundation

/// The measurements behind `osprey bench features`: decoding, updating and vectorising
/// events on one core, beside Foundation's `JSONDecoder` measured in the same run, and the
/// store's memory. Rates are events per second of the measuring thread's CPU time.
///
/// Thread: runs on the caller's thread, alone; it is a measurement, not a service.
public enum FeatureBenchmark {
    /// Rates of one data set.
    public struct Rates: Sendable {
        public var name: String
        public var events: Int
        /// Foundation's `JSONDecoder` on the same lines into a `Decodable` struct.
        public var foundationPerSecond: Double
        /// Osprey's simdjson decoder alone.
        public var decodePerSecond: Double
        /// Decode, update the store and write the vector: the daemon's per-event work.
        public var pipelinePerSecond: Double
        /// The same per second of wall-clock time (lower when the machine is shared).
        public var pipelineWallPerSecond: Double
        public var state: StateBytes
        /// The same per kind of entity.
        public var stateByKind: [(kind: String, bytes: StateBytes)]
        /// Resident memory that the store added, from `/proc/self/statm`.
        public var residentBytes: Int
        public var statistics: StoreStatistics

        public var decodeRatio: Double { decodePerSecond / foundationPerSecond }
    }

    /// In-memory lines: one buffer and each line's range.
    public struct Lines {
        var bytes: [UInt8] = []
        var ends: [Int] = []
        public var count: Int { ends.count }
        public var byteCount: Int { bytes.count }

        func withLine<R>(_ index: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
            let start = index == 0 ? 0 : ends[index - 1] + 1
            return try bytes.withUnsafeBytes { raw in
                try body(UnsafeRawBufferPointer(rebasing: raw[start..<ends[index]]))
            }
        }

        mutating func append(_ line: String) {
            bytes += Array(line.utf8)
            ends.append(bytes.count)
            bytes.append(10)
        }
    }

    /// Reads up to `limit` lines of a (gzip) JSON Lines file into memory.
    public static func load(path: String, limit: Int = .max) throws -> Lines {
        let reader = try LineReader(path: path)
        var lines = Lines()
        while lines.count < limit {
            let more = try reader.next { line -> Bool in
                lines.bytes.append(contentsOf: line)
                lines.ends.append(lines.bytes.count)
                lines.bytes.append(10)
                return true
            }
            if more == nil { break }
        }
        return lines
    }

    /// Synthetic events in the contract's format: `users` users with about `perUser` events
    /// each over a day, spread over devices, IPs, 10,000 merchants, countries and categories.
    public static func synthetic(users: Int, events: Int, seed: UInt64 = 1) -> Lines {
        var random = SplitMix(state: seed)
        var lines = Lines()
        lines.bytes.reserveCapacity(events * 230)
        let start: Int64 = 1_796_320_000_000
        let countries = ["DE", "FR", "NL", "US", "GB", "PL", "ES", "IT"]
        for index in 0..<events {
            let user = Int(random.next() % UInt64(users))
            let time = start + Int64(index) * 86_400_000 / Int64(events)
            let device = user &* 3 + Int(random.next() % 2)
            let ip = Int(random.next() % UInt64(max(1, users / 2)))
            let country = countries[Int(random.next() % 8)]
            if random.next() % 4 == 0 {
                let merchant = Int(random.next() % 10_000)
                let cents = Int(random.next() % 50_000) + 100
                lines.append(
                    "{\"type\":\"order\",\"event_id\":\"o\(index)\",\"user_id\":\"user-\(user)\","
                        + "\"ts\":\(time),\"amount\":\(cents / 100).\(cents % 100),"
                        + "\"merchant_id\":\"m\(merchant)\",\"device_id\":\"dev-\(device)\","
                        + "\"ip\":\"10.\(ip >> 16).\((ip >> 8) & 255).\(ip & 255)\","
                        + "\"country\":\"\(country)\",\"currency\":\"EUR\"}")
            } else {
                let category = Int(random.next() % 40)
                lines.append(
                    "{\"type\":\"click\",\"event_id\":\"c\(index)\",\"user_id\":\"user-\(user)\","
                        + "\"ts\":\(time),\"session_id\":\"s\(user)\","
                        + "\"device_id\":\"dev-\(device)\","
                        + "\"ip\":\"10.\(ip >> 16).\((ip >> 8) & 255).\(ip & 255)\","
                        + "\"country\":\"\(country)\",\"category\":\"cat-\(category)\","
                        + "\"item_id\":\"i\(category * 100)\"}")
            }
        }
        return lines
    }

    /// Measures one data set: `baselineLines` lines through `JSONDecoder`, every line through
    /// the decoder alone, then every line through the daemon's path in a fresh store.
    public static func measure(
        name: String, lines: Lines, format: InputFormat, baselineLines: Int = 200_000,
        configuration: FeatureConfiguration = .init()
    ) throws -> Rates {
        var configuration = configuration
        configuration.bookFeatures = format == .handbook
        let foundation = try foundationRate(lines, format: format, limit: baselineLines)
        let decode = decodeRate(lines, format: format, configuration: configuration)

        let residentBefore = residentBytes()
        let store = try FeatureStore(configuration: configuration)
        var pass = ReadPass(
            store: store, format: format, configuration: configuration, schema: store.schema)
        pass.wantsText = false
        var checksum = 0.0
        let (elapsed, wall) = timed {
            for index in 0..<lines.count {
                lines.withLine(index) { line in
                    if pass.push(line, number: index + 1) != nil { checksum += pass.exact[1] }
                }
            }
            while pass.hasHeldLines {
                if pass.finish() != nil { checksum += pass.exact[1] }
            }
        }
        let resident = residentBytes() - residentBefore
        precondition(checksum.isFinite)
        return Rates(
            name: name, events: lines.count, foundationPerSecond: foundation,
            decodePerSecond: decode,
            pipelinePerSecond: Double(lines.count) / elapsed,
            pipelineWallPerSecond: Double(lines.count) / wall,
            state: store.stateBytes(), stateByKind: store.stateBytesByKind(),
            residentBytes: resident, statistics: store.statistics)
    }

    private static func decodeRate(
        _ lines: Lines, format: InputFormat, configuration: FeatureConfiguration
    ) -> Double {
        let events = EventDecoder(maxBytes: configuration.maxMessageBytes)
        let handbook = HandbookDecoder(maxBytes: configuration.maxMessageBytes)
        let yoochoose = YoochooseDecoder(maxBytes: configuration.maxMessageBytes)
        var facts = LineFacts(eventID: "", userID: "")
        var sink: Int64 = 0
        let (elapsed, _) = timed {
            for index in 0..<lines.count {
                lines.withLine(index) { line in
                    let event: DecodedEvent?
                    switch format {
                    case .events: event = try? events.decode(line)
                    case .handbook:
                        event = try? handbook.decode(line, facts: &facts, wantsText: false)
                    case .yoochoose:
                        event = try? yoochoose.decode(
                            line, line: index, facts: &facts, wantsText: false)
                    }
                    sink &+= event?.timestampMs ?? 0
                }
            }
        }
        precondition(sink != 42)
        return Double(lines.count) / elapsed
    }

    struct HandbookRow: Decodable {
        var tx_id: Int
        var ts: String
        var customer_id: Int
        var terminal_id: Int
        var amount: Double
        var fraud: Int
        var scenario: Int
    }

    struct EventRow: Decodable {
        var type: String
        var event_id: String
        var user_id: String
        var ts: Int64
        var amount: Double?
        var merchant_id: String?
        var device_id: String?
        var ip: String?
        var country: String?
        var category: String?
    }

    struct YoochooseRow: Decodable {
        var ts: String
        var user_id: Int
        var session_id: Int
        var item_id: Int
        var category: String?
        var event: String
        var price: Int?
        var quantity: Int?
    }

    private static func foundationRate(_ lines: Lines, format: InputFormat, limit: Int) throws
        -> Double
    {
        let decoder = JSONDecoder()
        let count = min(limit, lines.count)
        var failures = 0
        let data = (0..<count).map { index in lines.withLine(index) { Data($0) } }
        let (elapsed, _) = timed {
            for line in data {
                switch format {
                case .handbook:
                    if (try? decoder.decode(HandbookRow.self, from: line)) == nil { failures += 1 }
                case .events:
                    if (try? decoder.decode(EventRow.self, from: line)) == nil { failures += 1 }
                case .yoochoose:
                    if (try? decoder.decode(YoochooseRow.self, from: line)) == nil { failures += 1 }
                }
            }
        }
        precondition(failures < count / 2 + 1, "the baseline could not decode the lines")
        return Double(count) / elapsed
    }

    /// Runs `body` and returns the seconds of this thread's CPU time it took, and of wall-clock
    /// time. Rates use CPU time, so that other work on a shared machine does not count against
    /// them (it still costs cache).
    static func timed(_ body: () -> Void) -> (cpu: Double, wall: Double) {
        func cpuNow() -> Double {
            var now = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
            return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
        }
        let cpuStart = cpuNow()
        let wall = ContinuousClock().measure(body)
        return (cpuNow() - cpuStart, wall.seconds)
    }

    /// The process's resident memory, from `/proc/self/statm` (0 where it does not exist).
    public static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else {
            return 0
        }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    private struct SplitMix {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
    }
}

extension Duration {
    var seconds: Double {
        let (whole, fraction) = components
        return Double(whole) + Double(fraction) / 1e18
    }
}
