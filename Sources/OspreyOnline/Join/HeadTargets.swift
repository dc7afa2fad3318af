import OspreyModel

/// Which heads of the serving model a verdict labels, and with which value: the mapping the
/// label join applies to every label, from the labels topic or from the stream.
///
/// `fraud` and `legit` label the `fraud` head (1 or 0) and, with a known `fraud_type`, the
/// `fraud_type` head (the class index; a legit order is class `none` when the head has it);
/// `bot` and `human` label the `bot` head; a purchase verdict the `purchase` head; a next
/// category the `interest` head (its class, else `other`). A verdict no head takes gives
/// nothing (the daemon's join counts it as `no_head`). ``OnlineLearner`` and the daemon's
/// learning both use it.
///
/// Thread: any; a value type.
public struct HeadTargets: Sendable {
    public let heads: [HeadSpec]
    private let index: [String: Int]

    public init(heads: [HeadSpec]) {
        self.heads = heads
        index = Dictionary(
            heads.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Whether some head learns from orders (`fraud`, `fraud_type`).
    public var learnsFromOrders: Bool { index["fraud"] != nil || index["fraud_type"] != nil }
    /// Whether some head learns from clicks (`bot`, `purchase`, `interest`).
    public var learnsFromClicks: Bool {
        index["bot"] != nil || index["purchase"] != nil || index["interest"] != nil
    }
    public var hasPurchase: Bool { index["purchase"] != nil }
    public var hasInterest: Bool { index["interest"] != nil }

    /// The (head index, label value) pairs `verdict` gives.
    public func targets(_ verdict: Verdict) -> [(head: Int, value: Int32)] {
        var result: [(head: Int, value: Int32)] = []
        switch verdict {
        case .fraud(let type):
            if let head = index["fraud"] { result.append((head, 1)) }
            if let type, let head = index["fraud_type"], let value = classIndex(head, type) {
                result.append((head, value))
            }
        case .legit:
            if let head = index["fraud"] { result.append((head, 0)) }
            if let head = index["fraud_type"], let value = classIndex(head, "none") {
                result.append((head, value))
            }
        case .bot, .human:
            if let head = index["bot"] { result.append((head, verdict == .bot ? 1 : 0)) }
        case .purchased(let bought):
            if let head = index["purchase"] { result.append((head, bought ? 1 : 0)) }
        case .nextCategory(let category):
            if let head = index["interest"],
                let value = classIndex(head, category) ?? classIndex(head, "other")
            {
                result.append((head, value))
            }
        }
        return result
    }

    private func classIndex(_ head: Int, _ name: String) -> Int32? {
        heads[head].kind.classes.firstIndex(of: name).map(Int32.init)
    }
}
