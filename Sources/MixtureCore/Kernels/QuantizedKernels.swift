import CMixtureKernels

/// Kernels on ggml quantized rows read in place.
///
/// `Linear` runs Q8_0, Q4_0, Q4_K and Q6_K through the integer kernels of CMixtureKernels, on
/// activations rounded to 8 bits as llama.cpp rounds them (`Q8Activations`), so their integer sums
/// are llama.cpp's. Every other type runs in float: a block at a time dequantized onto the stack for
/// one token, a unit's rows dequantized into scratch for the F32 matrix-matrix kernels for several.
/// The float dot products here (fused for the four integer types too) also serve `WeightMatrix.dot`
/// on small vectors and the tests' references.
///
/// The vector dequantizers perform gguf-py's float operations in its order, so they give its
/// `dequantize` bit for bit, as the scalar ones in `Quant/` do.
public enum QuantizedKernels {
    /// The types with fused kernels here.
    public static let fused: Set<GGMLType> = [.q8_0, .q4_0, .q4_K, .q6_K]

    /// The types with integer kernels (activations rounded to 8 bits as llama.cpp rounds them): these
    /// run through `Linear` on `Q8Activations`; the float `dot` stays for the others and for references.
    public static let integer: Set<GGMLType> = [.q8_0, .q4_0, .q4_K, .q6_K]

    /// The instruction set the integer kernels were built for.
    public static var integerInstructionSet: String { String(cString: mixture_integer_dot_isa()) }

    /// Row (`columns` weights) · `tokens` (1 to 4) activation vectors rounded for the type
    /// (`Q8Activations.block(for:)`), into out[0..<tokens], for a type in `integer`.
    @inline(__always)
    public static func integerDots(_ w: UnsafeRawPointer, _ type: GGMLType, _ x: UnsafePointer<mixture_q8_ref>,
                                   tokens: Int, columns: Int, into out: UnsafeMutablePointer<Float>) {
        let n = Int32(columns), t = Int32(tokens)
        switch type {
        case .q8_0: mixture_dots_q8_0(w, x, t, n, out)
        case .q4_0: mixture_dots_q4_0(w, x, t, n, out)
        case .q4_K: mixture_dots_q4_K(w, x, t, n, out)
        default: mixture_dots_q6_K(w, x, t, n, out)
        }
    }

    /// Row (`count` elements of `type` blocks at `w`) · `x`, in float.
    @inline(__always)
    public static func dot(_ w: UnsafeRawPointer, _ type: GGMLType, _ x: UnsafePointer<Float>, count: Int) -> Float {
        switch type {
        case .q8_0: return dotQ8_0(w, x, blocks: count / 32)
        case .q4_0: return dotQ4_0(w, x, blocks: count / 32)
        case .q4_K: return dotQ4_K(w, x, blocks: count / 256)
        case .q6_K: return dotQ6_K(w, x, blocks: count / 256)
        default: return dotByBlocks(w, type, x, count: count)
        }
    }

    /// `count` elements (whole blocks) at `w` into `out`.
    public static func dequantize(_ w: UnsafeRawPointer, _ type: GGMLType, count: Int, into out: UnsafeMutablePointer<Float>) {
        switch type {
        case .q8_0: for b in 0..<(count / 32) { dequantizeQ8_0(w + b * 34, out + b * 32) }
        case .q4_0: for b in 0..<(count / 32) { dequantizeQ4_0(w + b * 18, out + b * 32) }
        case .q4_K: for b in 0..<(count / 256) { dequantizeQ4_K(w + b * 144, out + b * 256) }
        case .q6_K: for b in 0..<(count / 256) { dequantizeQ6_K(w + b * 210, out + b * 256) }
        default: type.dequantize(w, count: count, into: out)
        }
    }

    // MARK: - Lanes

    @inline(__always)
    static func bytes8(_ p: UnsafeRawPointer, _ offset: Int) -> SIMD8<Int32> {
        let v = p.loadUnaligned(fromByteOffset: offset, as: SIMD8<UInt8>.self)
        // Element by element: folds into one vpmovzxbd (the generic widening init is an out-of-line call).
        return SIMD8<Int32>(Int32(v[0]), Int32(v[1]), Int32(v[2]), Int32(v[3]), Int32(v[4]), Int32(v[5]), Int32(v[6]), Int32(v[7]))
    }

    @inline(__always)
    static func signedBytes8(_ p: UnsafeRawPointer, _ offset: Int) -> SIMD8<Int32> {
        let v = p.loadUnaligned(fromByteOffset: offset, as: SIMD8<Int8>.self)
        return SIMD8<Int32>(Int32(v[0]), Int32(v[1]), Int32(v[2]), Int32(v[3]), Int32(v[4]), Int32(v[5]), Int32(v[6]), Int32(v[7]))
    }

    @inline(__always)
    static func float8(_ v: SIMD8<Int32>) -> SIMD8<Float> {
        SIMD8<Float>(Float(v[0]), Float(v[1]), Float(v[2]), Float(v[3]), Float(v[4]), Float(v[5]), Float(v[6]), Float(v[7]))
    }

    @inline(__always)
    static func x8(_ x: UnsafeRawPointer, _ index: Int) -> SIMD8<Float> {
        x.loadUnaligned(fromByteOffset: index &* 4, as: SIMD8<Float>.self)
    }

    @inline(__always)
    static func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        Float(Float16(bitPattern: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }

    // MARK: - Q8_0 (d, 32 × int8)

    @inline(__always)
    static func dotQ8_0(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, blocks: Int) -> Float {
        let xr = UnsafeRawPointer(x)
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>()
        var b = 0
        while b < blocks {
            let p = w + b &* 34, i = b &* 32
            var s = float8(signedBytes8(p, 2)) * x8(xr, i)
            s.addProduct(float8(signedBytes8(p, 10)), x8(xr, i &+ 8))
            var t = float8(signedBytes8(p, 18)) * x8(xr, i &+ 16)
            t.addProduct(float8(signedBytes8(p, 26)), x8(xr, i &+ 24))
            let d = SIMD8<Float>(repeating: half(p, 0))
            a0.addProduct(s, d)
            a1.addProduct(t, d)
            b &+= 1
        }
        return (a0 + a1).sum()
    }

    static func dequantizeQ8_0(_ p: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>) {
        let d = SIMD8<Float>(repeating: half(p, 0))
        let o = UnsafeMutableRawPointer(out)
        for g in 0..<4 { o.storeBytes(of: float8(signedBytes8(p, 2 + 8 * g)) * d, toByteOffset: 32 * g, as: SIMD8<Float>.self) }
    }

    // MARK: - Q4_0 (d, 16 bytes: low nibbles weights 0-15, high nibbles 16-31; w = d (q - 8))

    @inline(__always)
    static func dotQ4_0(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, blocks: Int) -> Float {
        let xr = UnsafeRawPointer(x)
        let mask = SIMD8<Int32>(repeating: 15), eight = SIMD8<Int32>(repeating: 8)
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>()
        var b = 0
        while b < blocks {
            let p = w + b &* 18, i = b &* 32
            let lo = bytes8(p, 2), hi = bytes8(p, 10)
            var s = float8((lo & mask) &- eight) * x8(xr, i)
            s.addProduct(float8((hi & mask) &- eight), x8(xr, i &+ 8))
            var t = float8((lo &>> 4) &- eight) * x8(xr, i &+ 16)
            t.addProduct(float8((hi &>> 4) &- eight), x8(xr, i &+ 24))
            let d = SIMD8<Float>(repeating: half(p, 0))
            a0.addProduct(s, d)
            a1.addProduct(t, d)
            b &+= 1
        }
        return (a0 + a1).sum()
    }

    static func dequantizeQ4_0(_ p: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>) {
        let d = SIMD8<Float>(repeating: half(p, 0))
        let mask = SIMD8<Int32>(repeating: 15), eight = SIMD8<Int32>(repeating: 8)
        let o = UnsafeMutableRawPointer(out)
        for g in 0..<2 {
            let v = bytes8(p, 2 + 8 * g)
            o.storeBytes(of: d * float8((v & mask) &- eight), toByteOffset: 32 * g, as: SIMD8<Float>.self)
            o.storeBytes(of: d * float8((v &>> 4) &- eight), toByteOffset: 64 + 32 * g, as: SIMD8<Float>.self)
        }
    }

    // MARK: - Q4_K (d, dmin, 12 bytes of 6-bit scales/mins, 128 bytes of nibbles)

    /// The eight (scale, minimum) pairs of a Q4_K block's 12 packed bytes.
    @inline(__always)
    static func scalesQ4_K(_ s: UnsafeRawPointer) -> (SIMD8<Int32>, SIMD8<Int32>) {
        let b = bytes8(s, 0)                       // bytes 0-7
        let c = SIMD4<Int32>(Int32(s.load(fromByteOffset: 8, as: UInt8.self)), Int32(s.load(fromByteOffset: 9, as: UInt8.self)),
                             Int32(s.load(fromByteOffset: 10, as: UInt8.self)), Int32(s.load(fromByteOffset: 11, as: UInt8.self)))
        let low = b.lowHalf, high = b.highHalf       // bytes 0-3 and 4-7
        let m6 = SIMD4<Int32>(repeating: 0x3F), m4 = SIMD4<Int32>(repeating: 0x0F), m30 = SIMD4<Int32>(repeating: 0x30)
        let scales = SIMD8<Int32>(lowHalf: low & m6, highHalf: (c & m4) | ((low &>> 2) & m30))
        let mins = SIMD8<Int32>(lowHalf: high & m6, highHalf: (c &>> 4) | ((high &>> 2) & m30))
        return (scales, mins)
    }

    @inline(__always)
    static func dotQ4_K(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, blocks: Int) -> Float {
        let xr = UnsafeRawPointer(x)
        let mask = SIMD8<Int32>(repeating: 15)
        var acc = SIMD8<Float>(), accMin = SIMD8<Float>()
        var b = 0
        while b < blocks {
            let p = w + b &* 144
            let d = half(p, 0), dmin = half(p, 2)
            let (sc, mn) = scalesQ4_K(p + 4)
            let ds = SIMD8<Float>(repeating: d) * float8(sc), dm = SIMD8<Float>(repeating: dmin) * float8(mn)
            for c in 0..<4 {
                let q = 16 &+ 32 &* c, i = b &* 256 &+ 64 &* c
                var sl = SIMD8<Float>(), sh = SIMD8<Float>(), xl = SIMD8<Float>(), xh = SIMD8<Float>()
                for k in 0..<4 {
                    let v = bytes8(p, q &+ 8 &* k)
                    let a = x8(xr, i &+ 8 &* k), e = x8(xr, i &+ 32 &+ 8 &* k)
                    sl.addProduct(float8(v & mask), a)
                    sh.addProduct(float8(v &>> 4), e)
                    xl += a
                    xh += e
                }
                acc.addProduct(sl, SIMD8<Float>(repeating: ds[2 &* c]))
                acc.addProduct(sh, SIMD8<Float>(repeating: ds[2 &* c &+ 1]))
                accMin.addProduct(xl, SIMD8<Float>(repeating: dm[2 &* c]))
                accMin.addProduct(xh, SIMD8<Float>(repeating: dm[2 &* c &+ 1]))
            }
            b &+= 1
        }
        return acc.sum() - accMin.sum()
    }

    static func dequantizeQ4_K(_ p: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>) {
        let d = half(p, 0), dmin = half(p, 2)
        let (sc, mn) = scalesQ4_K(p + 4)
        let mask = SIMD8<Int32>(repeating: 15)
        let o = UnsafeMutableRawPointer(out)
        for c in 0..<4 {
            // gguf-py: (d * scale) * q - (dmin * min), in that order.
            let dl = SIMD8<Float>(repeating: d * Float(sc[2 * c])), ml = SIMD8<Float>(repeating: dmin * Float(mn[2 * c]))
            let dh = SIMD8<Float>(repeating: d * Float(sc[2 * c + 1])), mh = SIMD8<Float>(repeating: dmin * Float(mn[2 * c + 1]))
            for k in 0..<4 {
                let v = bytes8(p, 16 + 32 * c + 8 * k)
                o.storeBytes(of: dl * float8(v & mask) - ml, toByteOffset: 4 * (64 * c + 8 * k), as: SIMD8<Float>.self)
                o.storeBytes(of: dh * float8(v &>> 4) - mh, toByteOffset: 4 * (64 * c + 32 + 8 * k), as: SIMD8<Float>.self)
            }
        }
    }

    // MARK: - Q6_K (ql 128, qh 64, 16 int8 scales, d)

    /// The 6-bit values (minus 32) of weights 128h + {l, 32 + l, 64 + l, 96 + l} + 0..<8 of half h.
    @inline(__always)
    static func valuesQ6_K(_ p: UnsafeRawPointer, half h: Int, _ l: Int) -> (SIMD8<Int32>, SIMD8<Int32>, SIMD8<Int32>, SIMD8<Int32>) {
        let a = bytes8(p, 64 &* h &+ l), c = bytes8(p, 64 &* h &+ 32 &+ l), hb = bytes8(p, 128 &+ 32 &* h &+ l)
        let m4 = SIMD8<Int32>(repeating: 15), m2 = SIMD8<Int32>(repeating: 3), k32 = SIMD8<Int32>(repeating: 32)
        return (((a & m4) | ((hb & m2) &<< 4)) &- k32,
                ((c & m4) | (((hb &>> 2) & m2) &<< 4)) &- k32,
                ((a &>> 4) | (((hb &>> 4) & m2) &<< 4)) &- k32,
                ((c &>> 4) | (((hb &>> 6) & m2) &<< 4)) &- k32)
    }

    @inline(__always)
    static func dotQ6_K(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, blocks: Int) -> Float {
        let xr = UnsafeRawPointer(x)
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        var b = 0
        while b < blocks {
            let p = w + b &* 210
            let d = half(p, 208)
            let ds = SIMD16<Float>(repeating: d) * SIMD16<Float>(lowHalf: float8(signedBytes8(p, 192)), highHalf: float8(signedBytes8(p, 200)))
            for h in 0..<2 {
                let i = b &* 256 &+ 128 &* h
                for pair in 0..<2 {
                    // l = 16·pair and 16·pair + 8 share each of the four groups' scales.
                    let l = 16 &* pair
                    let (u0, u1, u2, u3) = valuesQ6_K(p, half: h, l)
                    let (v0, v1, v2, v3) = valuesQ6_K(p, half: h, l &+ 8)
                    var s0 = float8(u0) * x8(xr, i &+ l); s0.addProduct(float8(v0), x8(xr, i &+ l &+ 8))
                    var s1 = float8(u1) * x8(xr, i &+ 32 &+ l); s1.addProduct(float8(v1), x8(xr, i &+ 40 &+ l))
                    var s2 = float8(u2) * x8(xr, i &+ 64 &+ l); s2.addProduct(float8(v2), x8(xr, i &+ 72 &+ l))
                    var s3 = float8(u3) * x8(xr, i &+ 96 &+ l); s3.addProduct(float8(v3), x8(xr, i &+ 104 &+ l))
                    let g = 8 &* h &+ pair
                    acc0.addProduct(s0, SIMD8<Float>(repeating: ds[g]))
                    acc1.addProduct(s1, SIMD8<Float>(repeating: ds[g &+ 2]))
                    acc0.addProduct(s2, SIMD8<Float>(repeating: ds[g &+ 4]))
                    acc1.addProduct(s3, SIMD8<Float>(repeating: ds[g &+ 6]))
                }
            }
            b &+= 1
        }
        return (acc0 + acc1).sum()
    }

    static func dequantizeQ6_K(_ p: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>) {
        let d = half(p, 208)
        let o = UnsafeMutableRawPointer(out)
        for h in 0..<2 {
            for l in stride(from: 0, to: 32, by: 8) {
                let (u0, u1, u2, u3) = valuesQ6_K(p, half: h, l)
                func store(_ u: SIMD8<Int32>, _ k: Int) {
                    let e = 128 * h + 32 * k + l
                    let scale = d * Float(Int8(bitPattern: p.load(fromByteOffset: 192 + e / 16, as: UInt8.self)))
                    o.storeBytes(of: SIMD8<Float>(repeating: scale) * float8(u), toByteOffset: 4 * e, as: SIMD8<Float>.self)
                }
                store(u0, 0); store(u1, 1); store(u2, 2); store(u3, 3)
            }
        }
    }

    // MARK: - Other types: one block at a time

    static func dotByBlocks(_ w: UnsafeRawPointer, _ type: GGMLType, _ x: UnsafePointer<Float>, count: Int) -> Float {
        let (perBlock, bytes) = type.blockGeometry
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: perBlock) { scratch in
            var sum: Float = 0
            for b in 0..<(count / perBlock) {
                type.dequantize(w + b * bytes, count: perBlock, into: scratch.baseAddress!)
                sum += Dot.product(UnsafePointer(scratch.baseAddress!), x + b * perBlock, count: perBlock)
            }
            return sum
        }
    }
}

/// Activations rounded to 8 bits for the integer kernels as llama.cpp rounds them for a weight type
/// (blocks of 32 for Q8_0/Q4_0, 256 for the K-quants; see CMixtureKernels.h): `tokens` rows.
public final class Q8Activations: @unchecked Sendable {
    public let tokens: Int
    public let block: Int
    let q: UnsafeMutablePointer<Int8>
    let d: UnsafeMutablePointer<Float>
    let lanes: UnsafeMutablePointer<Int32>
    let groupSums: UnsafeMutablePointer<Int32>
    /// One reference per token, for the kernels.
    public let references: UnsafeMutablePointer<mixture_q8_ref>

    /// The activation block size llama.cpp pairs with `type`.
    public static func block(for type: GGMLType) -> Int { type.blockGeometry.elements == 256 ? 256 : 32 }

    /// Rounds `tokens` rows of `columns` floats (a multiple of `block`), `stride` floats apart.
    public init(_ input: UnsafePointer<Float>, stride: Int, columns: Int, tokens: Int, block: Int) {
        precondition(columns % block == 0)
        self.tokens = tokens
        self.block = block
        let count = max(1, tokens)
        q = .allocate(capacity: count * columns)
        d = .allocate(capacity: count * columns / block)
        lanes = .allocate(capacity: count * columns / 4)
        groupSums = .allocate(capacity: count * columns / 32)
        references = .allocate(capacity: count)
        let (q, d, lanes, groupSums, references) = (self.q, self.d, self.lanes, self.groupSums, self.references)
        Parallel.forRanges(tokens, minimumPerThread: 16) { range in
            for t in range {
                let row = (q: q + t * columns, d: d + t * columns / block, lanes: lanes + t * columns / 4, sums: groupSums + t * columns / 32)
                mixture_quantize_q8(input + t * stride, Int32(columns), Int32(block), row.q, row.d, row.lanes, row.sums)
                references[t] = mixture_q8_ref(q: row.q, d: row.d, lanes: row.lanes, group_sums: row.sums)
            }
        }
    }

    deinit {
        q.deallocate(); d.deallocate(); lanes.deallocate(); groupSums.deallocate(); references.deallocate()
    }
}
