/// What a head predicts: one probability (sigmoid, binary cross-entropy) or a distribution
/// over named classes (softmax, cross-entropy).
public enum HeadKind: Sendable, Hashable {
    case sigmoid
    case softmax(classes: [String])

    /// The number of logits the head produces.
    public var width: Int {
        switch self {
        case .sigmoid: 1
        case .softmax(let classes): classes.count
        }
    }

    public var isSigmoid: Bool { if case .sigmoid = self { true } else { false } }

    /// The classes of a softmax head; empty for a sigmoid head.
    public var classes: [String] {
        if case .softmax(let classes) = self { classes } else { [] }
    }
}

/// One head of the model: its name (`fraud`, `fraud_type`, `bot`, `purchase`, `interest`) and
/// what it predicts.
public struct HeadSpec: Sendable, Hashable {
    public let name: String
    public let kind: HeadKind

    public init(name: String, kind: HeadKind) {
        self.name = name
        self.kind = kind
    }

    public var width: Int { kind.width }
}

/// The heads DESIGN.md names, with their kinds. Softmax heads' classes come from the data.
public enum KnownHead: String, Sendable, CaseIterable {
    case fraud
    case fraudType = "fraud_type"
    case bot
    case purchase
    case interest

    /// Whether the head is a probability (sigmoid) rather than a distribution (softmax).
    public var isSigmoid: Bool {
        switch self {
        case .fraud, .bot, .purchase: true
        case .fraudType, .interest: false
        }
    }
}

/// How the heads share parameters.
public enum Architecture: String, Sendable, CaseIterable {
    /// One bottom tower shared by every head (hard parameter sharing), a small tower per head.
    case sharedBottom = "shared_bottom"
    /// Several expert towers and one softmax gate per head that mixes them (Ma et al., 2018).
    case mmoe
    /// An independent shared-bottom network per head: the comparison without sharing.
    case singleTask = "single_task"
}
