import OspreyCore

/// The comparison without sharing: an independent shared-bottom network for each head.
///
/// Each head's network sees only its own gradient, and clipping treats each separately
/// (``parameterGroups``), so training the whole equals training every head on its own.
public final class SingleTaskNetwork<T: BLASScalar>: MultiTaskNetwork {
    public let heads: [HeadSpec]
    public let dropout: Dropout?
    public let members: [SharedBottomNetwork<T>]
    /// Gathered once: the trainer asks for them every step.
    public let parameters: [Parameter<T>]
    public let parameterGroups: [[Parameter<T>]]

    public init(
        inputs: Int, heads: [HeadSpec], shape: NetworkShape, random: inout SeededRandom,
        dropout: Dropout? = nil
    ) {
        self.heads = heads
        self.dropout = dropout
        members = heads.map { head in
            SharedBottomNetwork(
                inputs: inputs, heads: [head], shape: shape, prefix: head.name + ".",
                random: &random, dropout: dropout)
        }
        parameters = members.flatMap(\.parameters)
        parameterGroups = members.map(\.parameters)
    }

    public var architecture: Architecture { .singleTask }
    public var inputWidth: Int { members[0].inputWidth }
    public var denseLayers: [Dense<T>] { members.flatMap(\.denseLayers) }
    public var inputLayers: [Dense<T>] { members.flatMap(\.inputLayers) }

    @_specialize(where T == Float)
    public func forward(x: UnsafePointer<T>, rows: Int) {
        for member in members { member.forward(x: x, rows: rows) }
    }

    public func logits(head: Int) -> UnsafeMutablePointer<T> { members[head].logits(head: 0) }

    @_specialize(where T == Float)
    public func backward(x: UnsafePointer<T>, rows: Int, dLogits: [UnsafePointer<T>?]) {
        for (head, member) in members.enumerated() where dLogits[head] != nil {
            member.backward(x: x, rows: rows, dLogits: [dLogits[head]])
        }
    }
}
