/// The element-wise and row-wise functions between layers. These are the only loops that
/// touch activations directly; they are linear in the data and vectorise.
public enum Activation {
    /// `y = max(0, y)` in place over `count` elements.
    @inline(__always)
    public static func relu<T: BLASScalar>(_ y: UnsafeMutablePointer<T>, count: Int) {
        // Branch-free, so that it vectorises and random signs cost no mispredictions.
        for index in 0..<count { y[index] = max(y[index], 0) }
    }

    /// `dy *= (y > 0)` in place: the ReLU's backward pass given its output `y`.
    @inline(__always)
    public static func reluBackward<T: BLASScalar>(
        output y: UnsafePointer<T>, gradient dy: UnsafeMutablePointer<T>, count: Int
    ) {
        // Branch-free (a select, which vectorises): about half the units are off, at random,
        // and a branch per element mispredicts often enough to cost more than the GEMMs.
        for index in 0..<count {
            let keep: T = y[index] > 0 ? 1 : 0
            dy[index] *= keep
        }
    }

    /// The logistic function, computed without overflow for large `|x|`.
    @inline(__always)
    public static func sigmoid<T: BLASScalar>(_ x: T) -> T {
        if x >= 0 { return 1 / (1 + T.exp(-x)) }
        let e = T.exp(x)
        return e / (1 + e)
    }

    /// `log(1 + exp(x))` without overflow.
    @inline(__always)
    public static func softplus<T: BLASScalar>(_ x: T) -> T {
        x > 0 ? x + T.log1p(T.exp(-x)) : T.log1p(T.exp(x))
    }

    /// Softmax of each row of `[rows, columns]`, in place, shifted by the row's maximum for
    /// stability.
    public static func softmaxRows<T: BLASScalar>(
        _ x: UnsafeMutablePointer<T>, rows: Int, columns: Int
    ) {
        for row in 0..<rows {
            let values = x + row * columns
            var largest = values[0]
            for column in 1..<max(1, columns) where values[column] > largest {
                largest = values[column]
            }
            var sum: T = 0
            for column in 0..<columns {
                let e = T.exp(values[column] - largest)
                values[column] = e
                sum += e
            }
            let scale = 1 / sum
            for column in 0..<columns { values[column] *= scale }
        }
    }
}
