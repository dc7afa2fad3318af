import OspreyCore

/// Multi-gate mixture of experts (Ma et al., KDD 2018): several expert towers share the
/// input; each head has its own softmax gate that mixes the experts' outputs for each row.
///
/// Shapes, with `E` experts of output width `H`:
///
///     expert_e = Tower_e(x)                       // [rows, H], ReLU
///     g_h      = softmax(x G_h + c_h)             // [rows, E], each row sums to one
///     m_h[r]   = sum_e g_h[r, e] * expert_e[r]    // [rows, H]
///     logits_h = Tower_h(m_h)                     // [rows, width_h]
///
/// Backward through the mixture, with `dm = dL/dm_h`:
///
///     dexpert_e[r] += g_h[r, e] * dm[r]
///     dg[r, e]      = <dm[r], expert_e[r]>
///     dz[r, e]      = g[r, e] * (dg[r, e] - sum_j g[r, j] dg[r, j])   // softmax Jacobian
public final class MMoENetwork<T: BLASScalar>: MultiTaskNetwork {
    public let heads: [HeadSpec]
    public let dropout: Dropout?
    public let experts: [Tower<T>]
    public let gates: [Dense<T>]
    public let towers: [Tower<T>]
    private let gateValues: [Workspace<T>]
    private let mixed: [Workspace<T>]
    /// The experts' first layers and the gates as one product, for scoring.
    private let fused: FusedInputLayers<T>
    private let dMixed: Workspace<T>
    private let dGate: Workspace<T>
    private let dExperts: [Workspace<T>]
    /// Gathered once: the trainer asks for them every step.
    public let parameters: [Parameter<T>]

    public init(
        inputs: Int, heads: [HeadSpec], shape: NetworkShape, random: inout SeededRandom,
        dropout: Dropout? = nil
    ) {
        precondition(shape.experts >= 1, "MMoE needs at least one expert")
        self.heads = heads
        self.dropout = dropout
        experts = (0..<shape.experts).map { index in
            Tower(
                name: "expert.\(index)", widths: [inputs] + shape.hidden, reluOnOutput: true,
                random: &random, dropout: dropout)
        }
        let width = experts[0].outputWidth
        gates = heads.map { head in
            Dense(
                name: "gate.\(head.name)", inputs: inputs, outputs: shape.experts,
                random: &random)
        }
        // Start each gate near the uniform mixture so that no expert is starved early.
        for gate in gates { gate.weight.values.update(repeating: 0) }
        towers = heads.map { head in
            Tower(
                name: "head.\(head.name)", widths: [width] + shape.tower + [head.width],
                reluOnOutput: false, random: &random, dropout: dropout)
        }
        gateValues = heads.map { _ in Workspace(columns: shape.experts) }
        mixed = heads.map { _ in Workspace(columns: width) }
        fused = FusedInputLayers(experts.map { $0.layers[0] } + gates)
        dMixed = Workspace(columns: width)
        dGate = Workspace(columns: shape.experts)
        dExperts = experts.map { _ in Workspace(columns: width) }
        parameters =
            experts.flatMap(\.parameters) + gates.flatMap(\.parameters)
            + towers.flatMap(\.parameters)
    }

    public var architecture: Architecture { .mmoe }
    public var inputWidth: Int { experts[0].inputWidth }
    public var expertWidth: Int { experts[0].outputWidth }
    public var denseLayers: [Dense<T>] {
        experts.flatMap(\.layers) + gates + towers.flatMap(\.layers)
    }
    public var inputLayers: [Dense<T>] { experts.map { $0.layers[0] } + gates }
    public var scoringShapes: [(inputs: Int, outputs: Int)] {
        [(fused.inputs, fused.width)]
            + experts.flatMap { $0.layers.dropFirst().map { ($0.inputs, $0.outputs) } }
            + towers.flatMap { $0.layers.map { ($0.inputs, $0.outputs) } }
    }

    /// Head `head`'s gate values of the last forward, `[rows, experts]`.
    public func gate(head: Int) -> UnsafeMutablePointer<T> { gateValues[head].pointer }

    @_specialize(where T == Float)
    public func forward(x: UnsafePointer<T>, rows: Int) {
        for expert in experts { expert.forward(x: x, rows: rows) }
        for head in heads.indices {
            let g = gateValues[head]
            g.reserve(rows: rows)
            gates[head].forward(x: x, rows: rows, y: g.pointer)
            Activation.softmaxRows(g.pointer, rows: rows, columns: experts.count)
            mix(head: head, rows: rows)
            towers[head].forward(x: mixed[head].pointer, rows: rows)
        }
    }

    /// ``forward(x:rows:)`` with the experts' first layers and the gates computed as one
    /// product (see ``FusedInputLayers``).
    @_specialize(where T == Float)
    public func score(x: UnsafePointer<T>, rows: Int, occlusion: InputOcclusion?) {
        fused.forward(x: x, rows: rows, occlusion: occlusion)
        let first = fused.output.pointer
        let ld = fused.width
        for (index, expert) in experts.enumerated() {
            expert.forward(first: first + fused.offsets[index], ld: ld, rows: rows)
        }
        let count = experts.count
        for head in heads.indices {
            let g = gateValues[head]
            g.reserve(rows: rows)
            T.matrixCopy(
                rows: rows, columns: count, a: first + fused.offsets[count + head], lda: ld,
                b: g.pointer, ldb: count)
            Activation.softmaxRows(g.pointer, rows: rows, columns: count)
            mix(head: head, rows: rows)
            towers[head].forward(x: mixed[head].pointer, rows: rows)
        }
    }

    /// Head `head`'s mixture `m[r] = sum_e g[r, e] * expert_e[r]` from the experts' outputs
    /// and the gate values of this forward.
    ///
    /// Each row is a weighted sum of `E` short rows: element-wise work like an activation,
    /// written as a loop because one BLAS call per row (a `gemv` of `[E, H]`) costs more in
    /// calls than the arithmetic.
    @_specialize(where T == Float)
    private func mix(head: Int, rows: Int) {
        let width = expertWidth
        let count = experts.count
        let g = UnsafePointer(gateValues[head].pointer)
        let m = mixed[head]
        m.reserve(rows: rows)
        let outputs = experts.map { UnsafePointer($0.output) }
        let target = m.pointer
        for row in 0..<rows {
            let out = target + row * width
            let weights = g + row * count
            let first = outputs[0] + row * width
            let weight = weights[0]
            for column in 0..<width { out[column] = weight * first[column] }
            for index in 1..<count {
                let source = outputs[index] + row * width
                let weight = weights[index]
                for column in 0..<width { out[column] += weight * source[column] }
            }
        }
    }

    public func logits(head: Int) -> UnsafeMutablePointer<T> { towers[head].output }

    @_specialize(where T == Float)
    public func backward(x: UnsafePointer<T>, rows: Int, dLogits: [UnsafePointer<T>?]) {
        let width = expertWidth
        let count = experts.count
        for workspace in dExperts {
            workspace.reserve(rows: rows)
            workspace.zero()
        }
        dMixed.reserve(rows: rows)
        dGate.reserve(rows: rows)
        let expertOutputs = experts.map { UnsafePointer($0.output) }
        let dExpertPointers = dExperts.map(\.pointer)
        var any = false
        for head in heads.indices {
            guard let gradient = dLogits[head] else { continue }
            any = true
            towers[head].backward(
                x: mixed[head].pointer, rows: rows, dOutput: gradient, dx: dMixed.pointer)
            let g = gateValues[head].pointer
            let dMixedPointer = dMixed.pointer
            let dGatePointer = dGate.pointer
            for row in 0..<rows {
                let dm = dMixedPointer + row * width
                let weights = g + row * count
                let dg = dGatePointer + row * count
                var weighted: T = 0
                for index in 0..<count {
                    T.axpy(
                        n: width, alpha: weights[index], x: dm, incX: 1,
                        y: dExpertPointers[index] + row * width, incY: 1)
                    dg[index] = T.dot(
                        n: width, x: dm, incX: 1, y: expertOutputs[index] + row * width, incY: 1)
                    weighted += weights[index] * dg[index]
                }
                for index in 0..<count { dg[index] = weights[index] * (dg[index] - weighted) }
            }
            gates[head].backward(x: x, rows: rows, dy: dGate.pointer, dx: nil)
        }
        guard any else { return }
        for (index, expert) in experts.enumerated() {
            expert.backward(x: x, rows: rows, dOutput: dExperts[index].pointer, dx: nil)
        }
    }
}
