import Foundation
import MixtureCore

/// Rank-`r` truncated singular value decomposition of a `Float` matrix, returned as LoRA-style factors
/// `M ≈ left · right` with the singular values split evenly (`left = U·√S`, `right = √S·Vᵀ`), as
/// mergekit's `extract_lora` splits them.
///
/// Small matrices (or ranks close to the smaller dimension) are decomposed exactly: the Gram matrix of
/// the shorter side, accumulated in `Double`, is diagonalised by Householder tridiagonalisation + implicit
/// QL. Larger ones use a randomized range finder (Halko, Martinsson & Tropp 2011): a Gaussian sketch with
/// oversampling, a few subspace (power) iterations re-orthonormalised each step, then the exact method on
/// the projected `k × n` matrix. The products with the matrix (the bulk of the work) run on a
/// register-blocked kernel split over `Parallel`'s threads; everything is deterministic for a given seed.
public enum TruncatedSVD {
    public enum Method: Sendable {
        /// Exact for small problems, randomized otherwise.
        case automatic
        case exact
        case randomized
    }

    public struct Options: Sendable {
        public var method: Method
        /// Sketch vectors beyond the rank (randomized method).
        public var oversampling: Int
        /// Subspace iterations (each one pass over `Mᵀ` and one over `M`).
        public var powerIterations: Int
        /// Seed of the Gaussian sketch: the same seed gives the same factors.
        public var seed: UInt64

        public init(method: Method = .automatic, oversampling: Int = 10, powerIterations: Int = 4, seed: UInt64 = 0) {
            self.method = method
            self.oversampling = oversampling
            self.powerIterations = powerIterations
            self.seed = seed
        }
    }

    /// `matrix ≈ left · right`: `left` is `rows × rank` (U·√S), `right` is `rank × columns` (√S·Vᵀ), both
    /// row-major. `singularValues` are descending.
    public struct Factors: Sendable {
        public let rows: Int
        public let columns: Int
        public let rank: Int
        public var singularValues: [Double]
        public var left: [Float]
        public var right: [Float]

        /// The first `rank` components only.
        public func truncated(to newRank: Int) -> Factors {
            let r = max(0, min(rank, newRank))
            var l = [Float](repeating: 0, count: rows * r)
            for i in 0..<rows { for j in 0..<r { l[i * r + j] = left[i * rank + j] } }
            return Factors(rows: rows, columns: columns, rank: r, singularValues: Array(singularValues.prefix(r)),
                           left: l, right: Array(right.prefix(r * columns)))
        }

        /// `left · right` (for tests and error measurements).
        public func product() -> [Float] {
            var out = [Float](repeating: 0, count: rows * columns)
            out.withUnsafeMutableBufferPointer { o in
                right.withUnsafeBufferPointer { r in
                    for i in 0..<rows {
                        for k in 0..<rank where left[i * rank + k] != 0 {
                            axpy(left[i * rank + k], r.baseAddress! + k * columns, o.baseAddress! + i * columns, count: columns)
                        }
                    }
                }
            }
            return out
        }
    }

    /// Decomposes the row-major `rows × columns` matrix at `matrix`, keeping `min(rank, rows, columns)`
    /// components.
    public static func decompose(_ matrix: UnsafePointer<Float>, rows: Int, columns: Int, rank: Int,
                                 options: Options = Options()) -> Factors {
        precondition(rows >= 0 && columns >= 0 && rank >= 0)
        let r = min(rank, rows, columns)
        if r == 0 {
            return Factors(rows: rows, columns: columns, rank: 0, singularValues: [], left: [], right: [])
        }
        // Work on the orientation whose rows are the shorter side: the basis vectors live there.
        if rows <= columns {
            let transposed = needsTranspose(rows: rows, columns: columns, rank: r, options: options)
                ? transpose(matrix, rows: rows, columns: columns) : nil
            return core(matrix, transposed.map { UnsafePointer($0.pointer) }, short: rows, long: columns, rank: r, options: options)
        }
        let t = transpose(matrix, rows: rows, columns: columns)
        // Mᵀ ≈ L·R  ⇒  M ≈ Rᵀ·Lᵀ.
        let f = core(UnsafePointer(t.pointer), matrix, short: columns, long: rows, rank: r, options: options)
        var left = [Float](repeating: 0, count: rows * r)
        var right = [Float](repeating: 0, count: r * columns)
        for k in 0..<r {
            for i in 0..<rows { left[i * r + k] = f.right[k * rows + i] }
            for j in 0..<columns { right[k * columns + j] = f.left[j * r + k] }
        }
        return Factors(rows: rows, columns: columns, rank: r, singularValues: f.singularValues, left: left, right: right)
    }

    public static func decompose(_ matrix: [Float], rows: Int, columns: Int, rank: Int, options: Options = Options()) -> Factors {
        precondition(matrix.count == rows * columns, "\(matrix.count) values for a \(rows) × \(columns) matrix")
        return matrix.withUnsafeBufferPointer { decompose($0.baseAddress!, rows: rows, columns: columns, rank: rank, options: options) }
    }

    /// All singular values of a small matrix, descending (exact method; for tests and diagnostics).
    public static func singularValues(_ matrix: [Float], rows: Int, columns: Int) -> [Double] {
        decompose(matrix, rows: rows, columns: columns, rank: min(rows, columns), options: Options(method: .exact)).singularValues
    }

    // MARK: - Core

    static func useExact(short: Int, rank: Int, options: Options) -> Bool {
        switch options.method {
        case .exact: return true
        case .randomized: return false
        case .automatic:
            let k = min(short, rank + max(0, options.oversampling))
            return short <= 64 || 2 * k >= short
        }
    }

    static func needsTranspose(rows: Int, columns: Int, rank: Int, options: Options) -> Bool {
        !useExact(short: rows, rank: rank, options: options)
    }

    /// `x` is `short × long` (short ≤ long); `xt` its transpose (needed by the randomized method only).
    static func core(_ x: UnsafePointer<Float>, _ xt: UnsafePointer<Float>?, short: Int, long: Int, rank: Int,
                     options: Options) -> Factors {
        let exact = useExact(short: short, rank: rank, options: options) || xt == nil
        // basis: k orthonormal rows of length `short` (nil = the identity); projected: k × long = basis · x.
        let k: Int
        var basis: FloatBuffer?
        let projected: UnsafePointer<Float>
        var projectedStorage: FloatBuffer?
        if exact {
            k = short
            projected = x
        } else {
            k = min(short, rank + max(0, options.oversampling))
            let q = rangeFinder(x, xt!, short: short, long: long, k: k, options: options)
            let b = FloatBuffer(count: k * long)
            multiply(xt!, rows: long, columns: short, by: UnsafePointer(q.pointer), count: k, into: b.pointer)
            basis = q
            projectedStorage = b
            projected = UnsafePointer(b.pointer)
        }
        // Gram matrix of the projected rows, in Double, and its eigenvectors (descending eigenvalues).
        var gram = [Double](repeating: 0, count: k * k)
        gram.withUnsafeMutableBufferPointer { g in
            let gp = g.baseAddress!
            Parallel.forRanges(k, minimumPerThread: max(1, 4096 / max(1, long))) { range in
                for a in range {
                    for b in 0...a {
                        let v = dotDouble(projected + a * long, projected + b * long, long)
                        gp[a * k + b] = v
                        gp[b * k + a] = v
                    }
                }
            }
        }
        let (_, vectors) = SymmetricEigen.decompose(gram, n: k)
        // Component i: right row R_i = w_iᵀ·B (length long), σ_i = ‖R_i‖, left column u_i = w_iᵀ·basis.
        var sigma = [Double](repeating: 0, count: rank)
        var left = [Float](repeating: 0, count: short * rank)
        var right = [Float](repeating: 0, count: rank * long)
        right.withUnsafeMutableBufferPointer { rp in
            let rbase = rp.baseAddress!
            Parallel.forRanges(rank) { range in
                for i in range {
                    let row = rbase + i * long
                    for j in 0..<k {
                        let w = Float(vectors[j * k + i])
                        if w != 0 { axpy(w, projected + j * long, row, count: long) }
                    }
                }
            }
            for i in 0..<rank {
                let row = rbase + i * long
                let s = dotDouble(row, row, long).squareRoot()
                sigma[i] = s
                let scale = s > 0 ? Float(1 / s.squareRoot()) : 0
                for c in 0..<long { row[c] *= scale }
                let root = Float(s.squareRoot())
                if let q = basis {
                    var u = [Float](repeating: 0, count: short)
                    u.withUnsafeMutableBufferPointer { up in
                        for j in 0..<k {
                            let w = Float(vectors[j * k + i])
                            if w != 0 { axpy(w, q.pointer + j * short, up.baseAddress!, count: short) }
                        }
                    }
                    for r in 0..<short { left[r * rank + i] = u[r] * root }
                } else {
                    for r in 0..<short { left[r * rank + i] = Float(vectors[r * k + i]) * root }
                }
            }
        }
        withExtendedLifetime(projectedStorage) {}
        // Rounding can swap nearly equal components: order by the measured singular values.
        let order = (0..<rank).sorted { sigma[$0] > sigma[$1] }
        if order != Array(0..<rank) {
            let l = left, r = right, s = sigma
            for (to, from) in order.enumerated() {
                sigma[to] = s[from]
                for row in 0..<short { left[row * rank + to] = l[row * rank + from] }
                for c in 0..<long { right[to * long + c] = r[from * long + c] }
            }
        }
        return Factors(rows: short, columns: long, rank: rank, singularValues: sigma, left: left, right: right)
    }

    /// An orthonormal basis (k rows of length `short`) of an approximation of x's column space.
    static func rangeFinder(_ x: UnsafePointer<Float>, _ xt: UnsafePointer<Float>, short: Int, long: Int, k: Int,
                            options: Options) -> FloatBuffer {
        var generator = Gaussian(seed: options.seed)
        let omega = FloatBuffer(count: k * long)
        for i in 0..<(k * long) { omega[i] = generator.next() }
        let y = FloatBuffer(count: k * short)
        multiply(x, rows: short, columns: long, by: UnsafePointer(omega.pointer), count: k, into: y.pointer)
        orthonormalize(y.pointer, count: k, length: short, generator: &generator)
        let z = omega
        for _ in 0..<max(0, options.powerIterations) {
            multiply(xt, rows: long, columns: short, by: UnsafePointer(y.pointer), count: k, into: z.pointer)
            orthonormalize(z.pointer, count: k, length: long, generator: &generator)
            multiply(x, rows: short, columns: long, by: UnsafePointer(z.pointer), count: k, into: y.pointer)
            orthonormalize(y.pointer, count: k, length: short, generator: &generator)
        }
        return y
    }

    /// `out[t][r] = Σ_c m[r][c] · v[t][c]` for `count` vectors v (rows of length `columns`): out = (m · vᵀ)ᵀ.
    static func multiply(_ m: UnsafePointer<Float>, rows: Int, columns: Int, by v: UnsafePointer<Float>, count: Int,
                         into out: UnsafeMutablePointer<Float>) {
        // The kernel wants the vectors as columns (columns × padded), and gives rows × padded.
        let padded = (count + 7) / 8 * 8
        let vt = FloatBuffer(count: columns * padded)
        for t in 0..<count {
            let row = v + t * columns
            for c in 0..<columns { vt.pointer[c * padded + t] = row[c] }
        }
        let product = FloatBuffer(count: rows * padded)
        multiplyColumns(m, rows: rows, length: columns, UnsafePointer(vt.pointer), width: padded, into: product.pointer)
        for t in 0..<count {
            let row = out + t * rows
            for r in 0..<rows { row[r] = product.pointer[r * padded + t] }
        }
    }

    /// `c (rows × width) = m (rows × length) · v (length × width)`, `width` a multiple of 8. Tiles of 4
    /// rows of m × 24 columns of v: each step broadcasts 4 elements of m against 3 vectors of v into 12
    /// accumulators that stay in registers over the whole length (no horizontal sums).
    static func multiplyColumns(_ m: UnsafePointer<Float>, rows: Int, length: Int, _ v: UnsafePointer<Float>, width: Int,
                                into c: UnsafeMutablePointer<Float>) {
        precondition(width % 8 == 0)
        let tiles = (rows + 3) / 4
        Parallel.forRanges(tiles, minimumPerThread: max(1, 65_536 / max(1, length * width))) { range in
            var j = 0
            while j < width {
                let vectors = min(3, (width - j) / 8)
                for tile in range {
                    let r0 = tile * 4
                    let count = min(4, rows - r0)
                    multiplyTile(m + r0 * length, rowCount: count, length: length, v + j, stride: width, vectors: vectors,
                                 into: c + r0 * width + j, outputStride: width)
                }
                j += vectors * 8
            }
        }
    }

    @inline(__always)
    static func multiplyTile(_ m: UnsafePointer<Float>, rowCount: Int, length: Int, _ v: UnsafePointer<Float>, stride: Int,
                             vectors: Int, into c: UnsafeMutablePointer<Float>, outputStride: Int) {
        let x0 = m, x1 = m + min(1, rowCount - 1) * length
        let x2 = m + min(2, rowCount - 1) * length, x3 = m + min(3, rowCount - 1) * length
        let vr = UnsafeRawPointer(v)
        let strideBytes = stride &* 4
        var a00 = SIMD8<Float>(), a01 = SIMD8<Float>(), a02 = SIMD8<Float>()
        var a10 = SIMD8<Float>(), a11 = SIMD8<Float>(), a12 = SIMD8<Float>()
        var a20 = SIMD8<Float>(), a21 = SIMD8<Float>(), a22 = SIMD8<Float>()
        var a30 = SIMD8<Float>(), a31 = SIMD8<Float>(), a32 = SIMD8<Float>()
        var o = 0
        switch vectors {
        case 3:
            for l in 0..<length {
                let v0 = vr.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                let v1 = vr.loadUnaligned(fromByteOffset: o &+ 32, as: SIMD8<Float>.self)
                let v2 = vr.loadUnaligned(fromByteOffset: o &+ 64, as: SIMD8<Float>.self)
                var b = SIMD8<Float>(repeating: x0[l])
                a00 = a00.addingProduct(b, v0); a01 = a01.addingProduct(b, v1); a02 = a02.addingProduct(b, v2)
                b = SIMD8<Float>(repeating: x1[l])
                a10 = a10.addingProduct(b, v0); a11 = a11.addingProduct(b, v1); a12 = a12.addingProduct(b, v2)
                b = SIMD8<Float>(repeating: x2[l])
                a20 = a20.addingProduct(b, v0); a21 = a21.addingProduct(b, v1); a22 = a22.addingProduct(b, v2)
                b = SIMD8<Float>(repeating: x3[l])
                a30 = a30.addingProduct(b, v0); a31 = a31.addingProduct(b, v1); a32 = a32.addingProduct(b, v2)
                o = o &+ strideBytes
            }
        case 2:
            for l in 0..<length {
                let v0 = vr.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                let v1 = vr.loadUnaligned(fromByteOffset: o &+ 32, as: SIMD8<Float>.self)
                var b = SIMD8<Float>(repeating: x0[l])
                a00 = a00.addingProduct(b, v0); a01 = a01.addingProduct(b, v1)
                b = SIMD8<Float>(repeating: x1[l])
                a10 = a10.addingProduct(b, v0); a11 = a11.addingProduct(b, v1)
                b = SIMD8<Float>(repeating: x2[l])
                a20 = a20.addingProduct(b, v0); a21 = a21.addingProduct(b, v1)
                b = SIMD8<Float>(repeating: x3[l])
                a30 = a30.addingProduct(b, v0); a31 = a31.addingProduct(b, v1)
                o = o &+ strideBytes
            }
        default:
            for l in 0..<length {
                let v0 = vr.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                a00 = a00.addingProduct(SIMD8<Float>(repeating: x0[l]), v0)
                a10 = a10.addingProduct(SIMD8<Float>(repeating: x1[l]), v0)
                a20 = a20.addingProduct(SIMD8<Float>(repeating: x2[l]), v0)
                a30 = a30.addingProduct(SIMD8<Float>(repeating: x3[l]), v0)
                o = o &+ strideBytes
            }
        }
        @inline(__always) func store(_ row: Int, _ p: SIMD8<Float>, _ q: SIMD8<Float>, _ s: SIMD8<Float>) {
            guard row < rowCount else { return }
            let out = UnsafeMutableRawPointer(c + row * outputStride)
            out.storeBytes(of: p, as: SIMD8<Float>.self)
            if vectors > 1 { out.storeBytes(of: q, toByteOffset: 32, as: SIMD8<Float>.self) }
            if vectors > 2 { out.storeBytes(of: s, toByteOffset: 64, as: SIMD8<Float>.self) }
        }
        store(0, a00, a01, a02)
        store(1, a10, a11, a12)
        store(2, a20, a21, a22)
        store(3, a30, a31, a32)
    }

    /// Classical Gram-Schmidt applied twice per vector (as stable as modified Gram-Schmidt, and its
    /// projections are independent dot products). A vector that collapses (rank-deficient input) is
    /// replaced by a fresh random one, so the result is always `count` orthonormal rows.
    static func orthonormalize(_ v: UnsafeMutablePointer<Float>, count: Int, length: Int, generator: inout Gaussian) {
        var coefficients = [Double](repeating: 0, count: count)
        for j in 0..<count {
            let row = v + j * length
            var attempts = 0
            while true {
                let before = dotDouble(row, row, length).squareRoot()
                for _ in 0..<2 where j > 0 {
                    coefficients.withUnsafeMutableBufferPointer { c in
                        let cp = c.baseAddress!
                        Parallel.forRanges(j, minimumPerThread: max(1, 32_768 / max(1, length))) { range in
                            for i in range { cp[i] = dotDouble(v + i * length, row, length) }
                        }
                    }
                    subtractProjections(v, coefficients, count: j, length: length, from: row)
                }
                let after = dotDouble(row, row, length).squareRoot()
                if after > 0, after > 1e-5 * before, after.isFinite {
                    let scale = Float(1 / after)
                    for i in 0..<length { row[i] *= scale }
                    break
                }
                attempts += 1
                for i in 0..<length { row[i] = generator.next() }
                if attempts > 8 { // cannot happen while count ≤ length; keep the loop finite regardless
                    for i in 0..<length { row[i] = 0 }
                    break
                }
            }
        }
    }

    /// `row -= Σ_i c_i · v_i` for the first `count` rows of v, split over columns.
    static func subtractProjections(_ v: UnsafePointer<Float>, _ c: [Double], count: Int, length: Int,
                                    from row: UnsafeMutablePointer<Float>) {
        c.withUnsafeBufferPointer { cb in
            let cp = cb.baseAddress!
            Parallel.forRanges(length, alignment: 64, minimumPerThread: max(64, 65_536 / max(1, count))) { range in
                for i in 0..<count {
                    axpy(Float(-cp[i]), v + i * length + range.lowerBound, row + range.lowerBound, count: range.count)
                }
            }
        }
    }

    /// Dot product accumulated in Float SIMD lanes over blocks of 256 and in Double across blocks.
    @inline(__always)
    static func dotDouble(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Double {
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        var total = 0.0
        var i = 0
        while i + 256 <= n {
            var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>()
            var o = i &* 4
            let end = o &+ 1024
            while o < end {
                s0 = s0.addingProduct(ra.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), rb.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self))
                s1 = s1.addingProduct(ra.loadUnaligned(fromByteOffset: o &+ 32, as: SIMD8<Float>.self), rb.loadUnaligned(fromByteOffset: o &+ 32, as: SIMD8<Float>.self))
                s2 = s2.addingProduct(ra.loadUnaligned(fromByteOffset: o &+ 64, as: SIMD8<Float>.self), rb.loadUnaligned(fromByteOffset: o &+ 64, as: SIMD8<Float>.self))
                s3 = s3.addingProduct(ra.loadUnaligned(fromByteOffset: o &+ 96, as: SIMD8<Float>.self), rb.loadUnaligned(fromByteOffset: o &+ 96, as: SIMD8<Float>.self))
                o = o &+ 128
            }
            let s = (s0 + s1) + (s2 + s3)
            for lane in 0..<8 { total += Double(s[lane]) }
            i += 256
        }
        while i < n {
            total += Double(a[i]) * Double(b[i])
            i += 1
        }
        return total
    }

    /// Cache-blocked transpose into a new buffer (`columns × rows`).
    static func transpose(_ m: UnsafePointer<Float>, rows: Int, columns: Int) -> FloatBuffer {
        let out = FloatBuffer(count: rows * columns)
        let o = out.pointer
        let block = 32
        let rowBlocks = (rows + block - 1) / block
        Parallel.forRanges(rowBlocks, minimumPerThread: max(1, 65_536 / max(1, columns * block))) { range in
            for rb in range {
                let r0 = rb * block, r1 = min(rows, r0 + block)
                var c0 = 0
                while c0 < columns {
                    let c1 = min(columns, c0 + block)
                    for r in r0..<r1 {
                        for c in c0..<c1 { o[c * rows + r] = m[r * columns + c] }
                    }
                    c0 = c1
                }
            }
        }
        return out
    }

    /// Standard normal samples: SplitMix64 bits through Box-Muller.
    struct Gaussian {
        var bits: SeededGenerator
        var spare: Float?

        init(seed: UInt64) { bits = SeededGenerator(seed: seed ^ 0x5DEE_CE66_D1A4_F87B) }

        mutating func nextBits() -> UInt64 { bits.next() }

        mutating func next() -> Float {
            if let s = spare { spare = nil; return s }
            let u1 = (Double(nextBits() >> 11) + 1) / 9_007_199_254_740_993.0 // (0, 1]
            let u2 = Double(nextBits() >> 11) / 9_007_199_254_740_992.0
            let radius = (-2 * Foundation.log(u1)).squareRoot()
            spare = Float(radius * Foundation.sin(2 * Double.pi * u2))
            return Float(radius * Foundation.cos(2 * Double.pi * u2))
        }
    }
}

/// Eigen-decomposition of a real symmetric matrix: Householder tridiagonalisation then the implicit QL
/// algorithm (the EISPACK tred2 / tql2 pair, as in JAMA).
enum SymmetricEigen {
    /// Eigenvalues (descending) and eigenvectors as the columns of a row-major `n × n` matrix.
    static func decompose(_ a: [Double], n: Int) -> (values: [Double], vectors: [Double]) {
        if n == 0 { return ([], []) }
        var v = a
        var d = [Double](repeating: 0, count: n)
        var e = [Double](repeating: 0, count: n)
        v.withUnsafeMutableBufferPointer { vb in
            d.withUnsafeMutableBufferPointer { db in
                e.withUnsafeMutableBufferPointer { eb in
                    tred2(vb.baseAddress!, db.baseAddress!, eb.baseAddress!, n)
                    tql2(vb.baseAddress!, db.baseAddress!, eb.baseAddress!, n)
                }
            }
        }
        // Descending order.
        let order = (0..<n).sorted { d[$0] > d[$1] }
        var values = [Double](repeating: 0, count: n)
        var vectors = [Double](repeating: 0, count: n * n)
        for (to, from) in order.enumerated() {
            values[to] = d[from]
            for r in 0..<n { vectors[r * n + to] = v[r * n + from] }
        }
        return (values, vectors)
    }

    private static func tred2(_ V: UnsafeMutablePointer<Double>, _ d: UnsafeMutablePointer<Double>,
                              _ e: UnsafeMutablePointer<Double>, _ n: Int) {
        @inline(__always) func at(_ r: Int, _ c: Int) -> UnsafeMutablePointer<Double> { V + r * n + c }
        for j in 0..<n { d[j] = at(n - 1, j).pointee }
        var i = n - 1
        while i > 0 {
            var scale = 0.0
            var h = 0.0
            for k in 0..<i { scale += abs(d[k]) }
            if scale == 0 {
                e[i] = d[i - 1]
                for j in 0..<i {
                    d[j] = at(i - 1, j).pointee
                    at(i, j).pointee = 0
                    at(j, i).pointee = 0
                }
            } else {
                for k in 0..<i {
                    d[k] /= scale
                    h += d[k] * d[k]
                }
                var f = d[i - 1]
                var g = h.squareRoot()
                if f > 0 { g = -g }
                e[i] = scale * g
                h -= f * g
                d[i - 1] = f - g
                for j in 0..<i { e[j] = 0 }
                for j in 0..<i {
                    f = d[j]
                    at(j, i).pointee = f
                    g = e[j] + at(j, j).pointee * f
                    if j + 1 <= i - 1 {
                        for k in (j + 1)...(i - 1) {
                            g += at(k, j).pointee * d[k]
                            e[k] += at(k, j).pointee * f
                        }
                    }
                    e[j] = g
                }
                f = 0
                for j in 0..<i {
                    e[j] /= h
                    f += e[j] * d[j]
                }
                let hh = f / (h + h)
                for j in 0..<i { e[j] -= hh * d[j] }
                for j in 0..<i {
                    f = d[j]
                    g = e[j]
                    for k in j...(i - 1) {
                        at(k, j).pointee -= (f * e[k] + g * d[k])
                    }
                    d[j] = at(i - 1, j).pointee
                    at(i, j).pointee = 0
                }
            }
            d[i] = h
            i -= 1
        }
        for i in 0..<(n - 1) {
            at(n - 1, i).pointee = at(i, i).pointee
            at(i, i).pointee = 1
            let h = d[i + 1]
            if h != 0 {
                for k in 0...i { d[k] = at(k, i + 1).pointee / h }
                for j in 0...i {
                    var g = 0.0
                    for k in 0...i { g += at(k, i + 1).pointee * at(k, j).pointee }
                    for k in 0...i { at(k, j).pointee -= g * d[k] }
                }
            }
            for k in 0...i { at(k, i + 1).pointee = 0 }
        }
        for j in 0..<n {
            d[j] = at(n - 1, j).pointee
            at(n - 1, j).pointee = 0
        }
        at(n - 1, n - 1).pointee = 1
        e[0] = 0
    }

    private static func tql2(_ V: UnsafeMutablePointer<Double>, _ d: UnsafeMutablePointer<Double>,
                             _ e: UnsafeMutablePointer<Double>, _ n: Int) {
        @inline(__always) func at(_ r: Int, _ c: Int) -> UnsafeMutablePointer<Double> { V + r * n + c }
        for i in 1..<max(1, n) { e[i - 1] = e[i] }
        e[n - 1] = 0
        var f = 0.0
        var tst1 = 0.0
        let eps = Double.ulpOfOne
        for l in 0..<n {
            tst1 = max(tst1, abs(d[l]) + abs(e[l]))
            var m = l
            while m < n {
                if abs(e[m]) <= eps * tst1 { break }
                m += 1
            }
            if m == n { m = n - 1 }
            if m > l {
                var iterations = 0
                repeat {
                    iterations += 1
                    var g = d[l]
                    var p = (d[l + 1] - g) / (2 * e[l])
                    var r = hypot(p, 1)
                    if p < 0 { r = -r }
                    d[l] = e[l] / (p + r)
                    d[l + 1] = e[l] * (p + r)
                    let dl1 = d[l + 1]
                    var h = g - d[l]
                    if l + 2 < n { for i in (l + 2)..<n { d[i] -= h } }
                    f += h
                    p = d[m]
                    var c = 1.0, c2 = 1.0, c3 = 1.0
                    let el1 = e[l + 1]
                    var s = 0.0, s2 = 0.0
                    var i = m - 1
                    while i >= l {
                        c3 = c2
                        c2 = c
                        s2 = s
                        g = c * e[i]
                        h = c * p
                        r = hypot(p, e[i])
                        e[i + 1] = s * r
                        s = e[i] / r
                        c = p / r
                        p = c * d[i] - s * g
                        d[i + 1] = h + s * (c * g + s * d[i])
                        for k in 0..<n {
                            let vk1 = at(k, i + 1).pointee
                            let vk = at(k, i).pointee
                            at(k, i + 1).pointee = s * vk + c * vk1
                            at(k, i).pointee = c * vk - s * vk1
                        }
                        i -= 1
                    }
                    p = -s * s2 * c3 * el1 * e[l] / dl1
                    e[l] = s * p
                    d[l] = c * p
                } while abs(e[l]) > eps * tst1 && iterations < 200
            }
            d[l] += f
            e[l] = 0
        }
    }
}
