import COpenBLAS

#if canImport(Glibc)
    import Glibc
#endif

/// A floating-point type that CBLAS has routines for: `Float` (the `s` routines, used for
/// scoring and training) and `Double` (the `d` routines, used by the gradient checks).
///
/// This file and ``OpenBLAS`` are the only code that sees the C interface. Every matrix is
/// row-major; `lda`, `ldb` and `ldc` are row strides in elements. The pointers are borrowed
/// for the duration of the call only.
///
/// Thread: the routines are reentrant; OpenBLAS may use its own worker threads inside a call
/// (see ``OpenBLAS/setThreadCount(_:)``).
public protocol BLASScalar: BinaryFloatingPoint, Sendable {
    /// `C = alpha * op(A) * op(B) + beta * C`, with `op(A)` of shape `[m, k]`, `op(B)` of shape
    /// `[k, n]` and `C` of shape `[m, n]`.
    static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Self,
        a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
        beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)

    /// `y = alpha * op(A) * x + beta * y` with `A` of shape `[m, n]` (before `op`).
    static func gemv(
        trans: Bool, m: Int, n: Int, alpha: Self, a: UnsafePointer<Self>, lda: Int,
        x: UnsafePointer<Self>, incX: Int, beta: Self, y: UnsafeMutablePointer<Self>, incY: Int)

    /// `A += alpha * x * yᵀ` with `A` of shape `[m, n]`.
    static func ger(
        m: Int, n: Int, alpha: Self, x: UnsafePointer<Self>, incX: Int,
        y: UnsafePointer<Self>, incY: Int, a: UnsafeMutablePointer<Self>, lda: Int)

    /// `y += alpha * x` over `n` elements.
    static func axpy(
        n: Int, alpha: Self, x: UnsafePointer<Self>, incX: Int,
        y: UnsafeMutablePointer<Self>, incY: Int)

    /// `x *= alpha` over `n` elements.
    static func scal(n: Int, alpha: Self, x: UnsafeMutablePointer<Self>, incX: Int)

    /// `B = A` for a `[rows, columns]` block with row strides `lda` and `ldb` (OpenBLAS's
    /// `omatcopy` extension).
    static func matrixCopy(
        rows: Int, columns: Int, a: UnsafePointer<Self>, lda: Int,
        b: UnsafeMutablePointer<Self>, ldb: Int)

    /// The sum of `x[i] * y[i]` over `n` elements.
    static func dot(n: Int, x: UnsafePointer<Self>, incX: Int, y: UnsafePointer<Self>, incY: Int)
        -> Self

    /// The Euclidean norm of `n` elements.
    static func nrm2(n: Int, x: UnsafePointer<Self>, incX: Int) -> Self

    /// The elementary functions the layers need, from the C library.
    static func exp(_ x: Self) -> Self
    static func log(_ x: Self) -> Self
    static func log1p(_ x: Self) -> Self
    static func pow(_ x: Self, _ y: Self) -> Self
}

@inline(__always)
private func transpose(_ flag: Bool) -> CBLAS_TRANSPOSE { flag ? CblasTrans : CblasNoTrans }

extension Float: BLASScalar {
    /// Products with more columns than `panelColumns` and fewer than `onePanelFrom` are
    /// computed in column panels.
    static let panelColumns = 64
    static let onePanelFrom = 352

    /// `C = alpha * op(A) * op(B) + beta * C`; products of 65 to 351 columns are computed in
    /// `ceil(n / 64)` panels of equal width (rounded up to a multiple of 8), one `cblas_sgemm`
    /// each.
    ///
    /// OpenBLAS 0.3.21's Zen kernel (Debian 12's) runs one call of a few hundred rows with a
    /// middling column count at 11-13 GFLOP/s on one core here, and the same product in
    /// panels of 56-64 columns at 27-31 (measured for `[256, 121] x [121, 264]` and
    /// `[256, 136] x [136, 264]`, the default MMoE's fused input layers for events and for
    /// handbook files; wider panels stay slow when the inner dimension is 136). Panels
    /// change no element's reduction length, but the kernel may sum in another order, so
    /// results can differ from one call's in the last bits; a shape is always computed the
    /// same way, so the same inputs give the same outputs.
    @inline(__always)
    public static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard n > panelColumns, n < onePanelFrom else {
            gemmOneCall(
                transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        let panels = (n + panelColumns - 1) / panelColumns
        let width = ((n + panels - 1) / panels + 7) & ~7
        var column = 0
        while column < n {
            let columns = min(width, n - column)
            // op(B)'s columns are B's columns, or B's rows when B is transposed.
            let panel = transB ? b + column * ldb : b + column
            gemmOneCall(
                transA: transA, transB: transB, m: m, n: columns, k: k, alpha: alpha, a: a,
                lda: lda, b: panel, ldb: ldb, beta: beta, c: c + column, ldc: ldc)
            column += columns
        }
    }

    /// The same product as one `cblas_sgemm` call, whatever its shape (the benchmark's
    /// baseline).
    @inline(__always)
    public static func gemmOneCall(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor, transpose(transA), transpose(transB), Int32(m), Int32(n), Int32(k),
            alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    @inline(__always)
    public static func gemv(
        trans: Bool, m: Int, n: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
        x: UnsafePointer<Float>, incX: Int, beta: Float, y: UnsafeMutablePointer<Float>,
        incY: Int
    ) {
        cblas_sgemv(
            CblasRowMajor, transpose(trans), Int32(m), Int32(n), alpha, a, Int32(lda), x,
            Int32(incX), beta, y, Int32(incY))
    }

    @inline(__always)
    public static func ger(
        m: Int, n: Int, alpha: Float, x: UnsafePointer<Float>, incX: Int,
        y: UnsafePointer<Float>, incY: Int, a: UnsafeMutablePointer<Float>, lda: Int
    ) {
        cblas_sger(
            CblasRowMajor, Int32(m), Int32(n), alpha, x, Int32(incX), y, Int32(incY), a,
            Int32(lda))
    }

    @inline(__always)
    public static func axpy(
        n: Int, alpha: Float, x: UnsafePointer<Float>, incX: Int,
        y: UnsafeMutablePointer<Float>, incY: Int
    ) {
        cblas_saxpy(Int32(n), alpha, x, Int32(incX), y, Int32(incY))
    }

    @inline(__always)
    public static func matrixCopy(
        rows: Int, columns: Int, a: UnsafePointer<Float>, lda: Int,
        b: UnsafeMutablePointer<Float>, ldb: Int
    ) {
        cblas_somatcopy(
            CblasRowMajor, CblasNoTrans, Int32(rows), Int32(columns), 1, a, Int32(lda), b,
            Int32(ldb))
    }

    @inline(__always)
    public static func scal(n: Int, alpha: Float, x: UnsafeMutablePointer<Float>, incX: Int) {
        cblas_sscal(Int32(n), alpha, x, Int32(incX))
    }

    @inline(__always)
    public static func dot(
        n: Int, x: UnsafePointer<Float>, incX: Int, y: UnsafePointer<Float>, incY: Int
    ) -> Float {
        cblas_sdot(Int32(n), x, Int32(incX), y, Int32(incY))
    }

    @inline(__always)
    public static func nrm2(n: Int, x: UnsafePointer<Float>, incX: Int) -> Float {
        cblas_snrm2(Int32(n), x, Int32(incX))
    }

    @inline(__always) public static func exp(_ x: Float) -> Float { expf(x) }
    @inline(__always) public static func log(_ x: Float) -> Float { logf(x) }
    @inline(__always) public static func log1p(_ x: Float) -> Float { log1pf(x) }
    @inline(__always) public static func pow(_ x: Float, _ y: Float) -> Float { powf(x, y) }
}

extension Double: BLASScalar {
    @inline(__always)
    public static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Double,
        a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
        beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        cblas_dgemm(
            CblasRowMajor, transpose(transA), transpose(transB), Int32(m), Int32(n), Int32(k),
            alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    @inline(__always)
    public static func gemv(
        trans: Bool, m: Int, n: Int, alpha: Double, a: UnsafePointer<Double>, lda: Int,
        x: UnsafePointer<Double>, incX: Int, beta: Double, y: UnsafeMutablePointer<Double>,
        incY: Int
    ) {
        cblas_dgemv(
            CblasRowMajor, transpose(trans), Int32(m), Int32(n), alpha, a, Int32(lda), x,
            Int32(incX), beta, y, Int32(incY))
    }

    @inline(__always)
    public static func ger(
        m: Int, n: Int, alpha: Double, x: UnsafePointer<Double>, incX: Int,
        y: UnsafePointer<Double>, incY: Int, a: UnsafeMutablePointer<Double>, lda: Int
    ) {
        cblas_dger(
            CblasRowMajor, Int32(m), Int32(n), alpha, x, Int32(incX), y, Int32(incY), a,
            Int32(lda))
    }

    @inline(__always)
    public static func axpy(
        n: Int, alpha: Double, x: UnsafePointer<Double>, incX: Int,
        y: UnsafeMutablePointer<Double>, incY: Int
    ) {
        cblas_daxpy(Int32(n), alpha, x, Int32(incX), y, Int32(incY))
    }

    @inline(__always)
    public static func matrixCopy(
        rows: Int, columns: Int, a: UnsafePointer<Double>, lda: Int,
        b: UnsafeMutablePointer<Double>, ldb: Int
    ) {
        cblas_domatcopy(
            CblasRowMajor, CblasNoTrans, Int32(rows), Int32(columns), 1, a, Int32(lda), b,
            Int32(ldb))
    }

    @inline(__always)
    public static func scal(n: Int, alpha: Double, x: UnsafeMutablePointer<Double>, incX: Int) {
        cblas_dscal(Int32(n), alpha, x, Int32(incX))
    }

    @inline(__always)
    public static func dot(
        n: Int, x: UnsafePointer<Double>, incX: Int, y: UnsafePointer<Double>, incY: Int
    ) -> Double {
        cblas_ddot(Int32(n), x, Int32(incX), y, Int32(incY))
    }

    @inline(__always)
    public static func nrm2(n: Int, x: UnsafePointer<Double>, incX: Int) -> Double {
        cblas_dnrm2(Int32(n), x, Int32(incX))
    }

    @inline(__always) public static func exp(_ x: Double) -> Double { Glibc.exp(x) }
    @inline(__always) public static func log(_ x: Double) -> Double { Glibc.log(x) }
    @inline(__always) public static func log1p(_ x: Double) -> Double { Glibc.log1p(x) }
    @inline(__always) public static func pow(_ x: Double, _ y: Double) -> Double {
        Glibc.pow(x, y)
    }
}

/// OpenBLAS's process-wide worker-thread setting.
///
/// OpenBLAS starts as many workers as there are cores by default. The daemon has its own
/// threads (Kafka polling, the feature store, the trainer), so Osprey sets the count on
/// purpose: one thread by default, which is also what a 1–256-row micro-batch wants, since
/// handing such small products to other threads costs more than it gains.
///
/// Thread: the setting is global to the process; set it before scoring starts.
public enum OpenBLAS {
    /// The thread count Osprey uses unless told otherwise.
    public static let defaultThreadCount = 1

    /// Sets the number of threads OpenBLAS may use inside one call (at least 1).
    public static func setThreadCount(_ count: Int) {
        openblas_set_num_threads(Int32(max(1, count)))
    }

    /// The number of threads OpenBLAS currently uses.
    public static var threadCount: Int { Int(openblas_get_num_threads()) }
}
