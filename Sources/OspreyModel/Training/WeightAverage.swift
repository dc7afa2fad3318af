/// An exponential moving average of a network's weights over the training steps.
///
/// After every step `average ← average + (1 − decay) · (weights − average)`, so the average
/// spans about `1 / (1 − decay)` steps. Weights averaged along the end of the optimiser's path
/// vary less with the last few batches than the weights of any one step; the trainer judges
/// and keeps the average instead of the last step's weights.
///
/// Shapes: one buffer per parameter, as long as its values.
///
/// Thread: owned by one trainer.
final class WeightAverage {
    let decay: Float
    private var averages: [[Float]]

    /// Starts the average at the parameters' current values.
    init(_ parameters: [Parameter<Float>], decay: Double) {
        precondition(decay > 0 && decay < 1, "the decay lies strictly between 0 and 1")
        self.decay = Float(decay)
        averages = parameters.map(\.array)
    }

    /// Moves the average towards the parameters' current values.
    func update(_ parameters: [Parameter<Float>]) {
        for (index, parameter) in parameters.enumerated() {
            averages[index].withUnsafeMutableBufferPointer { average in
                // average = decay · average + (1 − decay) · weights
                Float.scal(n: parameter.count, alpha: decay, x: average.baseAddress!, incX: 1)
                Float.axpy(
                    n: parameter.count, alpha: 1 - decay,
                    x: UnsafePointer(parameter.values.baseAddress!), incX: 1,
                    y: average.baseAddress!, incY: 1)
            }
        }
    }

    /// The averaged values, one array per parameter.
    var values: [[Float]] { averages }
}
