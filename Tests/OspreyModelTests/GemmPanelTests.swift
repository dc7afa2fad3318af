import OspreyCore
import OspreyModel
import Testing

/// `Float.gemm` computes products of 65 to 351 columns in column panels; every panel must land
/// in its own columns, for each transpose, with `alpha`, `beta` and strides wider than the
/// matrices, and the same inputs must always give the same bits.
@Suite struct GemmPanelTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var m: Int, n: Int, k: Int, transA: Bool, transB: Bool
        var testDescription: String { "\(m)x\(k)x\(n) transA \(transA) transB \(transB)" }
    }

    static let cases: [Case] = [
        Case(m: 37, n: 264, k: 121, transA: false, transB: false),
        Case(m: 64, n: 121, k: 264, transA: false, transB: true),
        Case(m: 121, n: 264, k: 40, transA: true, transB: false),
        Case(m: 5, n: 97, k: 9, transA: true, transB: true),
        Case(m: 3, n: 351, k: 7, transA: false, transB: false),
        // Outside the panel range: one call.
        Case(m: 9, n: 64, k: 13, transA: false, transB: false),
        Case(m: 9, n: 72, k: 13, transA: false, transB: true),
        Case(m: 9, n: 400, k: 13, transA: false, transB: true),
    ]

    /// `C = 0.5 op(A) op(B) + 2 C` against a plain triple loop in double precision, with every
    /// row stride three elements wider than its matrix (the padding must stay untouched).
    @Test(arguments: cases) func panelsComputeTheWholeProduct(_ shape: Case) {
        var random = SeededRandom(seed: UInt64(shape.m * 1000 + shape.n))
        // Stored shapes: A is [m, k] or, transposed, [k, m]; B is [k, n] or [n, k].
        let aRows = shape.transA ? shape.k : shape.m
        let aColumns = shape.transA ? shape.m : shape.k
        let bRows = shape.transB ? shape.n : shape.k
        let bColumns = shape.transB ? shape.k : shape.n
        let (lda, ldb, ldc) = (aColumns + 3, bColumns + 3, shape.n + 3)
        let a = (0..<(aRows * lda)).map { _ in Float(random.unit() * 2 - 1) }
        let b = (0..<(bRows * ldb)).map { _ in Float(random.unit() * 2 - 1) }
        let c = (0..<(shape.m * ldc)).map { _ in Float(random.unit() * 2 - 1) }

        func product() -> [Float] {
            var out = c
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    out.withUnsafeMutableBufferPointer { out in
                        Float.gemm(
                            transA: shape.transA, transB: shape.transB, m: shape.m, n: shape.n,
                            k: shape.k, alpha: 0.5, a: a.baseAddress!, lda: lda,
                            b: b.baseAddress!, ldb: ldb, beta: 2, c: out.baseAddress!, ldc: ldc)
                    }
                }
            }
            return out
        }
        let result = product()
        var worst = 0.0
        for row in 0..<shape.m {
            for column in 0..<ldc {
                let got = Double(result[row * ldc + column])
                guard column < shape.n else {
                    #expect(result[row * ldc + column] == c[row * ldc + column])
                    continue
                }
                var sum = 0.0
                for inner in 0..<shape.k {
                    let x = shape.transA ? a[inner * lda + row] : a[row * lda + inner]
                    let y = shape.transB ? b[column * ldb + inner] : b[inner * ldb + column]
                    sum += Double(x) * Double(y)
                }
                let expected = 0.5 * sum + 2 * Double(c[row * ldc + column])
                worst = max(worst, abs(got - expected) / (1 + abs(expected)))
            }
        }
        // Float sums of up to 264 terms of magnitude below 1.
        #expect(worst < 1e-5)
        #expect(product() == result)
    }
}
