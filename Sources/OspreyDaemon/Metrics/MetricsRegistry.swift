import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The metrics of one process, written in Prometheus' text format for `GET /metrics`.
///
/// Families are registered once, at start, with their label names; a family's children (one
/// per combination of label values) are created on first use and then kept by the caller, so
/// the hot path touches only an atomic. Label values must come from bounded sets (topic,
/// partition, head, reason; never a user id): the registry does not guard against an
/// unbounded set.
///
/// Thread: any. Registration and child creation take a mutex; updates are atomic; ``render()``
/// reads every value without stopping writers, so a scrape sees each sample at some moment
/// during the scrape (a histogram's buckets, sum and count may be a few updates apart).
public final class MetricsRegistry: Sendable {
    private let families = Mutex<[any MetricFamilyRendering]>([])

    public init() {}

    /// Registers a counter family: a value that only goes up (`_total` names).
    ///
    /// - Important: Trap on programmer error: a name registered twice, or a name or label name
    ///   that Prometheus would refuse.
    public func counter(_ name: String, help: String, labels: [String] = []) -> Family<Counter> {
        register(
            Family<Counter>(name: name, help: help, type: "counter", labelNames: labels) {
                Counter()
            })
    }

    /// Registers a gauge family: a value that goes up and down.
    public func gauge(_ name: String, help: String, labels: [String] = []) -> Family<Gauge> {
        register(
            Family<Gauge>(name: name, help: help, type: "gauge", labelNames: labels) {
                Gauge()
            })
    }

    /// Registers a histogram family with the given bucket upper bounds (ascending; `+Inf` is
    /// added).
    public func histogram(
        _ name: String, help: String, labels: [String] = [], buckets: [Double]
    ) -> Family<Histogram> {
        precondition(zip(buckets, buckets.dropFirst()).allSatisfy { $0 < $1 }, "buckets ascend")
        return register(
            Family<Histogram>(name: name, help: help, type: "histogram", labelNames: labels) {
                Histogram(bounds: buckets)
            })
    }

    private func register<Metric>(_ family: Family<Metric>) -> Family<Metric> {
        precondition(MetricsRegistry.isValidName(family.name), "bad metric name \(family.name)")
        for label in family.labelNames {
            precondition(
                MetricsRegistry.isValidName(label) && !label.contains(":"), "bad label \(label)")
        }
        families.withLock { families in
            precondition(
                !families.contains { $0.name == family.name }, "\(family.name) registered twice")
            families.append(family)
        }
        return family
    }

    /// The whole registry in the Prometheus text exposition format (version 0.0.4).
    public func render() -> String {
        let snapshot = families.withLock { $0 }
        var text = ""
        for family in snapshot.sorted(by: { $0.name < $1.name }) {
            family.render(into: &text)
        }
        return text
    }

    /// Whether `name` matches Prometheus' `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    static func isValidName(_ name: String) -> Bool {
        guard let first = name.utf8.first else { return false }
        func isLetter(_ byte: UInt8) -> Bool {
            (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122) || byte == 95 || byte == 58
        }
        return isLetter(first) && name.utf8.allSatisfy { isLetter($0) || ($0 >= 48 && $0 <= 57) }
    }
}

/// What the registry needs of a family to write it out.
protocol MetricFamilyRendering: Sendable {
    var name: String { get }
    func render(into text: inout String)
}

/// A metric that can be written as one or more sample lines.
public protocol MetricValue: Sendable {
    /// Appends this child's sample lines; `labels` is the `{…}` part without braces, or empty.
    func render(name: String, labels: String, into text: inout String)
}

/// One metric name with its help, type and label names, and its children.
///
/// Thread: any; see ``MetricsRegistry``.
public final class Family<Metric: MetricValue>: MetricFamilyRendering, Sendable {
    public let name: String
    public let help: String
    let type: String
    public let labelNames: [String]
    private let make: @Sendable () -> Metric
    private let children = Mutex<[[String]: Metric]>([:])

    init(
        name: String, help: String, type: String, labelNames: [String],
        make: @escaping @Sendable () -> Metric
    ) {
        self.name = name
        self.help = help
        self.type = type
        self.labelNames = labelNames
        self.make = make
    }

    /// The child for these label values, in the order of ``labelNames``, created on first use.
    /// Keep it: looking it up takes a lock.
    ///
    /// - Important: Traps when the number of values differs from the number of label names.
    public func labels(_ values: String...) -> Metric { labels(values) }

    /// The child for these label values; see ``labels(_:)-(String...)``.
    public func labels(_ values: [String]) -> Metric {
        precondition(values.count == labelNames.count, "\(name) takes \(labelNames.count) labels")
        return children.withLock { children in
            if let child = children[values] { return child }
            let child = make()
            children[values] = child
            return child
        }
    }

    func render(into text: inout String) {
        text += "# HELP \(name) \(escapeHelp(help))\n# TYPE \(name) \(type)\n"
        let snapshot = children.withLock { $0 }
        for (values, child) in snapshot.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            let labels = zip(labelNames, values)
                .map { "\($0)=\"\(escapeLabelValue($1))\"" }
                .joined(separator: ",")
            child.render(name: name, labels: labels, into: &text)
        }
    }
}

/// A monotonically increasing count.
public final class Counter: MetricValue {
    private let bits = Atomic<UInt64>(0.0.bitPattern)

    /// Adds `amount` (default 1). Negative amounts are dropped: a counter never goes down.
    public func increment(by amount: Double = 1) {
        guard amount > 0, amount.isFinite else { return }
        addToDouble(bits, amount)
    }

    /// Adds a whole number.
    public func increment(by amount: Int) { increment(by: Double(amount)) }

    public var value: Double { Double(bitPattern: bits.load(ordering: .relaxed)) }

    public func render(name: String, labels: String, into text: inout String) {
        text += sampleLine(name, labels, value)
    }
}

/// A value that can go up and down.
public final class Gauge: MetricValue {
    private let bits = Atomic<UInt64>(0.0.bitPattern)

    public func set(_ value: Double) { bits.store(value.bitPattern, ordering: .relaxed) }
    public func set(_ value: Int) { set(Double(value)) }
    public func add(_ amount: Double) { addToDouble(bits, amount) }

    public var value: Double { Double(bitPattern: bits.load(ordering: .relaxed)) }

    public func render(name: String, labels: String, into text: inout String) {
        text += sampleLine(name, labels, value)
    }
}

/// Observations counted into fixed buckets, with their sum and count.
///
/// A mutex guards the buckets so that a scrape sees buckets, sum and count from one moment;
/// an uncontended lock costs tens of nanoseconds, and hot paths observe once per batch.
public final class Histogram: MetricValue {
    let bounds: [Double]
    private let state: Mutex<(counts: [UInt64], sum: Double)>

    init(bounds: [Double]) {
        self.bounds = bounds
        self.state = Mutex((Array(repeating: 0, count: bounds.count + 1), 0))
    }

    /// Records one observation; NaN is dropped (observability never throws).
    public func observe(_ value: Double) {
        guard !value.isNaN else { return }
        var index = bounds.count
        for (position, bound) in bounds.enumerated() where value <= bound {
            index = position
            break
        }
        state.withLock { state in
            state.counts[index] += 1
            state.sum += value
        }
    }

    /// The number of observations so far.
    public var count: UInt64 { state.withLock { $0.counts.reduce(0, +) } }

    public func render(name: String, labels: String, into text: inout String) {
        let (counts, sum) = state.withLock { ($0.counts, $0.sum) }
        var cumulative: UInt64 = 0
        let separator = labels.isEmpty ? "" : ","
        for (position, bound) in bounds.enumerated() {
            cumulative += counts[position]
            let le = "le=\"\(formatSample(bound))\""
            text += "\(name)_bucket{\(labels)\(separator)\(le)} \(cumulative)\n"
        }
        cumulative += counts[bounds.count]
        text += "\(name)_bucket{\(labels)\(separator)le=\"+Inf\"} \(cumulative)\n"
        text += sampleLine(name + "_sum", labels, sum)
        text += sampleLine(name + "_count", labels, Double(cumulative))
    }

    /// Buckets from `start`, each `factor` times the one before, `count` of them.
    public static func exponentialBuckets(start: Double, factor: Double, count: Int) -> [Double] {
        (0..<count).map { start * pow(factor, Double($0)) }
    }
}

/// Adds `amount` to a double stored as bits, with a compare-and-swap loop.
private func addToDouble(_ bits: borrowing Atomic<UInt64>, _ amount: Double) {
    var current = bits.load(ordering: .relaxed)
    while true {
        let next = (Double(bitPattern: current) + amount).bitPattern
        let (exchanged, original) = bits.compareExchange(
            expected: current, desired: next, ordering: .relaxed)
        if exchanged { return }
        current = original
    }
}

private func sampleLine(_ name: String, _ labels: String, _ value: Double) -> String {
    let braces = labels.isEmpty ? "" : "{\(labels)}"
    return "\(name)\(braces) \(formatSample(value))\n"
}

/// A sample value as Prometheus reads it: integers without a fraction, `+Inf`, `-Inf`, `NaN`.
func formatSample(_ value: Double) -> String {
    if value.isNaN { return "NaN" }
    if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
    if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
    return String(value)
}

private func escapeHelp(_ text: String) -> String {
    text.replacingAll("\\", with: "\\\\").replacingAll("\n", with: "\\n")
}

private func escapeLabelValue(_ text: String) -> String {
    text.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"")
        .replacingAll("\n", with: "\\n")
}

extension String {
    fileprivate func replacingAll(_ target: Character, with replacement: String) -> String {
        guard contains(target) else { return self }
        var result = ""
        for character in self {
            if character == target { result += replacement } else { result.append(character) }
        }
        return result
    }
}
