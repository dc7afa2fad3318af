import OspreyCore

/// Hard parameter sharing: one bottom tower shared by every head, then one tower per head.
///
/// `x: [rows, inputs] -> bottom (ReLU) -> [rows, hidden.last] -> tower_h -> logits_h`.
public final class SharedBottomNetwork<T: BLASScalar>: MultiTaskNetwork {
    public let heads: [HeadSpec]
    public let dropout: Dropout?
    public let bottom: Tower<T>
    public let towers: [Tower<T>]
    private let dBottom: Workspace<T>
    /// Gathered once: the trainer asks for them every step.
    public let parameters: [Parameter<T>]

    /// `prefix` starts every tensor name (`""`, or `fraud.` inside a single-task network).
    public init(
        inputs: Int, heads: [HeadSpec], shape: NetworkShape, prefix: String,
        random: inout SeededRandom, dropout: Dropout? = nil
    ) {
        self.heads = heads
        self.dropout = dropout
        bottom = Tower(
            name: prefix + "bottom", widths: [inputs] + shape.hidden, reluOnOutput: true,
            random: &random, dropout: dropout)
        let shared = bottom.outputWidth
        towers = heads.map { head in
            Tower(
                name: prefix + "head.\(head.name)", widths: [shared] + shape.tower + [head.width],
                reluOnOutput: false, random: &random, dropout: dropout)
        }
        dBottom = Workspace(columns: shared)
        parameters = bottom.parameters + towers.flatMap(\.parameters)
    }

    public var architecture: Architecture { .sharedBottom }
    public var inputWidth: Int { bottom.inputWidth }
    public var denseLayers: [Dense<T>] { bottom.layers + towers.flatMap(\.layers) }
    public var inputLayers: [Dense<T>] { [bottom.layers[0]] }

    @_specialize(where T == Float)
    public func forward(x: UnsafePointer<T>, rows: Int) {
        let shared = UnsafePointer(bottom.forward(x: x, rows: rows))
        for tower in towers { tower.forward(x: shared, rows: rows) }
    }

    public func logits(head: Int) -> UnsafeMutablePointer<T> { towers[head].output }

    @_specialize(where T == Float)
    public func backward(x: UnsafePointer<T>, rows: Int, dLogits: [UnsafePointer<T>?]) {
        dBottom.reserve(rows: rows)
        dBottom.zero()
        let shared = UnsafePointer(bottom.output)
        var any = false
        for (head, tower) in towers.enumerated() {
            guard let gradient = dLogits[head] else { continue }
            tower.backward(
                x: shared, rows: rows, dOutput: gradient, dx: dBottom.pointer, accumulate: true)
            any = true
        }
        if any { bottom.backward(x: x, rows: rows, dOutput: dBottom.pointer, dx: nil) }
    }
}
