import OspreyCore
import OspreyFeatures

#if canImport(Glibc)
    import Glibc
#endif

/// Measures scoring throughput beside `gemm` alone on the same shapes, in the same run.
///
/// For a batch size `B`, the model figure times ``Scorer/score(_:rows:)`` (standardise,
/// network, calibration) on `B` random rows; the baseline times one `cblas_sgemm` call for
/// each shape the network's scoring pass multiplies (`[B, in] x [in, out]` for each of its
/// ``MultiTaskNetwork/scoringShapes``, in order) with nothing else. Both count the same
/// floating-point work, `2 * B * sum(in * out)`. The network calls `gemm` in column panels
/// where one call is slow (see `Float.gemm`), so the ratio of their GFLOP/s can pass 1: it
/// compares the model with what plain calls of `cblas_sgemm` get on its shapes.
///
/// Thread: runs on the caller's thread; OpenBLAS's thread count is the caller's choice.
public enum ScoreBenchmark {
    public struct Result: Sendable {
        public let batch: Int
        public let eventsPerSecond: Double
        public let modelGFLOPs: Double
        public let gemmGFLOPs: Double
        public var ratio: Double { modelGFLOPs / gemmGFLOPs }
    }

    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
    }

    /// Repeats `body` until `seconds` have passed (at least 3 times) and returns the mean
    /// seconds per call.
    static func time(seconds: Double, _ body: () -> Void) -> Double {
        for _ in 0..<3 { body() }  // warm caches and OpenBLAS buffers
        var calls = 0
        let start = now()
        var elapsed = 0.0
        repeat {
            for _ in 0..<16 { body() }
            calls += 16
            elapsed = now() - start
        } while elapsed < seconds
        return elapsed / Double(calls)
    }

    /// Runs the benchmark for `model` with `batch` rows per call.
    public static func run(model: Model, batch: Int, seconds: Double) -> Result {
        let width = model.schema.count
        var random = SeededRandom(seed: 99)
        let features = (0..<(batch * width)).map { _ in Float(random.unit() * 4 - 1) }
        let scorer = Scorer(model: model, capacity: batch)
        let modelSeconds = features.withUnsafeBufferPointer { x in
            time(seconds: seconds) { scorer.score(x.baseAddress!, rows: batch) }
        }

        let shapes = model.network.scoringShapes
        let widest = shapes.map { max($0.inputs, $0.outputs) }.max() ?? 1
        let largest = shapes.map { $0.inputs * $0.outputs }.max() ?? 1
        let input = UnsafeMutablePointer<Float>.allocate(capacity: batch * widest)
        input.initialize(repeating: 0.5, count: batch * widest)
        let weights = UnsafeMutablePointer<Float>.allocate(capacity: largest)
        weights.initialize(repeating: 0.01, count: largest)
        let output = UnsafeMutablePointer<Float>.allocate(capacity: batch * widest)
        output.initialize(repeating: 0, count: batch * widest)
        defer {
            input.deallocate()
            weights.deallocate()
            output.deallocate()
        }
        let gemmSeconds = time(seconds: seconds) {
            for shape in shapes {
                Float.gemmOneCall(
                    transA: false, transB: false, m: batch, n: shape.outputs, k: shape.inputs,
                    alpha: 1, a: input, lda: shape.inputs, b: weights, ldb: shape.outputs,
                    beta: 0, c: output, ldc: shape.outputs)
            }
        }
        let flops = 2 * Double(batch) * Double(model.network.multiplyAddsPerRow)
        return Result(
            batch: batch, eventsPerSecond: Double(batch) / modelSeconds,
            modelGFLOPs: flops / modelSeconds / 1e9, gemmGFLOPs: flops / gemmSeconds / 1e9)
    }

    /// A model with freshly initialised weights over a synthetic schema of `features`
    /// features, for benchmarking only.
    public static func syntheticModel(
        architecture: Architecture, features: Int, heads: [HeadSpec], shape: NetworkShape
    ) -> Model {
        let schema = FeatureSchema(names: (0..<features).map { "bench_feature_\($0)" })
        let network = makeNetwork(
            architecture, inputs: features, heads: heads, shape: shape, seed: 1, as: Float.self)
        let model = Model(
            network: network, shape: shape, schema: schema,
            normalisation: .identity(width: features), createdAt: "")
        for head in heads {
            model.calibration[head.name] =
                head.kind.isSigmoid ? .platt(a: 1, b: 0) : .temperature(1)
        }
        return model
    }
}
