import OspreyCore

/// Mini-batch training of a multi-task network with masked per-head losses.
///
/// Each step gathers a shuffled batch, runs the network forward, computes every head's loss
/// over the rows that carry its label (a head with no labelled row in the batch gets no
/// gradient at all), combines the losses (``TaskBalancing``), runs backward, clips each
/// parameter group's gradient norm and takes an Adam(W) step. After every epoch the
/// validation loss decides whether this is the best network so far; the best is restored at
/// the end, and training stops after `patience` epochs without improvement.
///
/// Everything random (shuffling) comes from the configuration's seed, so the same data and
/// seed give bit-identical weights.
///
/// Thread: one trainer on one thread; the network must not be used elsewhere meanwhile.
public final class Trainer {
    public let network: any MultiTaskNetwork<Float>
    public let configuration: ModelConfiguration
    /// Learned log-variances, one per head, under ``TaskBalancing/uncertainty``.
    public let logVariance: Parameter<Float>?
    private let losses: [HeadLoss]
    private let optimizer: AdamOptimizer<Float>
    private let batch: Workspace<Float>
    private let gradients: [Workspace<Float>]
    private var batchLabels: [[Int32]]
    /// The network's parameters and groups, listed once: the networks build these lists
    /// through key paths on every call, which cost a tenth of a fine-tuning step.
    private let parameters: [Parameter<Float>]
    private let parameterGroups: [[Parameter<Float>]]
    /// ``parameters`` and the log-variances, as the optimiser updates them.
    private let updated: [Parameter<Float>]

    public init(network: any MultiTaskNetwork<Float>, configuration: ModelConfiguration) {
        self.network = network
        self.configuration = configuration
        let heads = network.heads
        losses = heads.map { head in
            HeadLoss(
                kind: head.kind,
                positiveWeight: head.kind.isSigmoid ? configuration.positiveWeight : 1,
                focalGamma: head.kind.isSigmoid ? configuration.focalGamma : 0)
        }
        if configuration.taskWeighting == .uncertainty {
            logVariance = Parameter(
                name: "task.log_variance", shape: [heads.count],
                values: [Float](repeating: 0, count: heads.count))
        } else {
            logVariance = nil
        }
        optimizer = AdamOptimizer(
            variant: configuration.optimizer, learningRate: configuration.learningRate,
            weightDecay: configuration.weightDecay)
        batch = Workspace(columns: network.inputWidth, rows: configuration.batchSize)
        gradients = heads.map { Workspace(columns: $0.width, rows: configuration.batchSize) }
        batchLabels = heads.map { _ in [Int32](repeating: -1, count: configuration.batchSize) }
        parameters = network.parameters
        parameterGroups = network.parameterGroups
        updated = parameters + (logVariance.map { [$0] } ?? [])
    }

    /// The per-head fixed weight, 1 unless configured.
    private func fixedWeight(_ head: Int) -> Double {
        if case .fixed(let weights) = configuration.taskWeighting {
            return weights[network.heads[head].name] ?? 1
        }
        return 1
    }

    /// Trains on `training` (standardised features) and returns what happened per epoch.
    ///
    /// `progress` is called after each epoch with the epoch's summary.
    public func train(
        _ training: Dataset, validation: Dataset?,
        progress: (EpochSummary) -> Void = { _ in }
    ) -> TrainingHistory {
        var random = SeededRandom(seed: configuration.seed).derived(0x5348_5546)
        var order = Array(0..<training.count)
        var history = TrainingHistory()
        var best: (loss: Double, values: [[Float]])?
        var stale = 0
        for epoch in 1...configuration.epochs {
            order.shuffle(using: &random)
            var total = 0.0
            var steps = 0
            var start = 0
            network.dropout?.active = true
            while start < order.count {
                let end = min(order.count, start + configuration.batchSize)
                total += step(training, rows: order[start..<end])
                steps += 1
                start = end
            }
            network.dropout?.active = false
            let trainingLoss = total / Double(max(1, steps))
            let validationLoss = validation.map { self.validationLoss($0) } ?? trainingLoss
            let summary = EpochSummary(
                epoch: epoch, trainingLoss: trainingLoss, validationLoss: validationLoss)
            history.epochs.append(summary)
            progress(summary)
            if best == nil || validationLoss < best!.loss - 1e-6 {
                best = (validationLoss, network.parameters.map(\.array))
                history.bestEpoch = epoch
                stale = 0
            } else {
                stale += 1
                if stale >= configuration.patience { break }
            }
        }
        if let best {
            for (parameter, values) in zip(network.parameters, best.values) {
                parameter.assign(values)
            }
        }
        return history
    }

    /// One optimisation step on the rows at `rows` of `data`; returns the combined loss.
    public func step(_ data: Dataset, rows: ArraySlice<Int>) -> Double {
        let count = rows.count
        gather(data, rows: rows)
        batch.pointer.withMemoryRebound(to: Float.self, capacity: count * data.width) { x in
            network.forward(x: x, rows: count)
        }
        for parameter in parameters { parameter.zeroGradient() }
        logVariance?.zeroGradient()
        var combined = 0.0
        var dLogits: [UnsafePointer<Float>?] = []
        for (head, loss) in losses.enumerated() {
            let gradient = gradients[head]
            gradient.reserve(rows: count)
            let result = batchLabels[head].withUnsafeBufferPointer { labels in
                loss.evaluate(
                    logits: network.logits(head: head), labels: labels.baseAddress!, rows: count,
                    gradient: gradient.pointer)
            }
            guard result.count > 0 else {
                dLogits.append(nil)
                continue
            }
            let weight: Double
            if let logVariance {
                let s = Double(logVariance.values[head])
                weight = Double.exp(-s)
                combined += weight * result.loss + s
                logVariance.gradient[head] = Float(1 - weight * result.loss)
            } else {
                weight = fixedWeight(head)
                combined += weight * result.loss
            }
            if weight != 1 {
                Float.scal(
                    n: count * network.heads[head].width, alpha: Float(weight),
                    x: gradient.pointer, incX: 1)
            }
            dLogits.append(UnsafePointer(gradient.pointer))
        }
        batch.pointer.withMemoryRebound(to: Float.self, capacity: count * data.width) { x in
            network.backward(x: x, rows: count, dLogits: dLogits)
        }
        for group in parameterGroups {
            clipGradients(group, maxNorm: configuration.clipNorm)
        }
        optimizer.update(updated)
        return combined
    }

    private func gather(_ data: Dataset, rows: ArraySlice<Int>) {
        let width = data.width
        batch.reserve(rows: rows.count)
        data.features.withUnsafeBufferPointer { source in
            for (slot, row) in rows.enumerated() {
                (batch.pointer + slot * width).update(
                    from: source.baseAddress! + row * width, count: width)
            }
        }
        for (head, spec) in network.heads.enumerated() {
            let labels = data.labels[spec.name]
            for (slot, row) in rows.enumerated() {
                batchLabels[head][slot] = labels?[row] ?? -1
            }
        }
    }

    /// The sum over heads of the mean validation loss (fixed weights applied; plain sum under
    /// uncertainty weighting, so that the learned weights cannot lower it by themselves).
    public func validationLoss(_ data: Dataset) -> Double {
        let logits = predictLogits(network, features: data.features, rows: data.count)
        var total = 0.0
        for (head, spec) in network.heads.enumerated() {
            guard let labels = data.labels[spec.name] else { continue }
            var scratch = [Float](repeating: 0, count: data.count * spec.width)
            let result = labels.withUnsafeBufferPointer { labels in
                logits[head].withUnsafeBufferPointer { z in
                    losses[head].evaluate(
                        logits: z.baseAddress!, labels: labels.baseAddress!, rows: data.count,
                        gradient: &scratch)
                }
            }
            total += (logVariance == nil ? fixedWeight(head) : 1) * result.loss
        }
        return total
    }
}

/// One epoch's losses.
public struct EpochSummary: Sendable {
    public let epoch: Int
    public let trainingLoss: Double
    public let validationLoss: Double
}

/// What a training run did.
public struct TrainingHistory: Sendable {
    public var epochs: [EpochSummary] = []
    /// The epoch whose weights were kept.
    public var bestEpoch = 0
}

/// Runs `network` over `rows` rows of `features` in batches of `batchSize` and returns each
/// head's logits, `[rows, width]` per head.
public func predictLogits(
    _ network: any MultiTaskNetwork<Float>, features: [Float], rows: Int, batchSize: Int = 1024
) -> [[Float]] {
    let width = network.inputWidth
    var result = network.heads.map { [Float](repeating: 0, count: rows * $0.width) }
    features.withUnsafeBufferPointer { x in
        var start = 0
        while start < rows {
            let count = min(batchSize, rows - start)
            network.forward(x: x.baseAddress! + start * width, rows: count)
            for (head, spec) in network.heads.enumerated() {
                let logits = network.logits(head: head)
                result[head].withUnsafeMutableBufferPointer { target in
                    (target.baseAddress! + start * spec.width).update(
                        from: logits, count: count * spec.width)
                }
            }
            start += count
        }
    }
    return result
}
