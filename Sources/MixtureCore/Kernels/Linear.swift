import CMixtureKernels
import CMixtureSupport
/// One `Y = X · Wᵀ` product: `tokens` input rows of `weight.columns` floats, `weight.rows` outputs each.
public struct LinearJob: @unchecked Sendable {
    public var weight: WeightMatrix
    public var input: UnsafePointer<Float>
    public var inputStride: Int
    public var output: UnsafeMutablePointer<Float>
    public var outputStride: Int
    public var tokens: Int

    public init(weight: WeightMatrix, input: UnsafePointer<Float>, inputStride: Int? = nil,
                output: UnsafeMutablePointer<Float>, outputStride: Int? = nil, tokens: Int = 1) {
        self.weight = weight
        self.input = input
        self.inputStride = inputStride ?? weight.columns
        self.output = output
        self.outputStride = outputStride ?? weight.rows
        self.tokens = tokens
    }
}

extension LinearJob {
    /// Quantized weights of a type with integer kernels (8-bit activations).
    var usesIntegerKernels: Bool { weight.blocks.map { QuantizedKernels.integer.contains($0) } ?? false }
}

/// Linear layers without bias: matrix-vector products for one token (bandwidth bound), a register-
/// blocked matrix-matrix product for several (compute bound). Many jobs run in one parallel region,
/// e.g. every selected expert's gate and up projections at once.
public enum Linear {
    /// Rows of weights per unit of work handed to a thread.
    static let rowBlock = 16

    public static func run(_ job: LinearJob) {
        run([job])
    }

    public static func run(_ jobs: [LinearJob]) {
        // Units of (job, row block), split into contiguous runs of equal cost, one per thread.
        var units: [(job: Int, rows: Range<Int>)] = []
        var costs: [Int] = []
        var total = 0
        for (j, job) in jobs.enumerated() where job.tokens > 0 {
            var r = 0
            while r < job.weight.rows {
                let end = min(job.weight.rows, r + rowBlock)
                units.append((j, r..<end))
                let cost = (end - r) * job.tokens * job.weight.columns
                costs.append(cost)
                total += cost
                r = end
            }
        }
        if units.isEmpty { return }
        let threads = total < 32_768 ? 1 : min(Parallel.threadCount, units.count)
        // Boundaries: the first unit whose cumulative cost reaches share * total / threads.
        var starts = [Int](repeating: units.count, count: threads + 1)
        starts[0] = 0
        var cumulative = 0
        var share = 1
        for (u, cost) in costs.enumerated() {
            while share < threads && cumulative >= total * share / threads {
                starts[share] = u
                share += 1
            }
            cumulative += cost
        }
        while share < threads { starts[share] = units.count; share += 1 }
        starts[threads] = units.count

        // BF16 matrix-vector jobs read x in the even/odd order of Dot.bfloat16Permuted; prepare it once per distinct input.
        var permutedInputs: [UnsafePointer<Float>: FloatBuffer] = [:]
        var permutedForJob = [UnsafePointer<Float>?](repeating: nil, count: jobs.count)
        for (j, job) in jobs.enumerated() where job.tokens == 1 && job.weight.dtype == .bfloat16 && job.weight.blocks == nil {
            if permutedInputs[job.input] == nil {
                let buffer = FloatBuffer(count: job.weight.columns)
                Dot.permuteForBFloat16(job.input, count: job.weight.columns, into: buffer.pointer)
                permutedInputs[job.input] = buffer
            }
            permutedForJob[j] = UnsafePointer(permutedInputs[job.input]!.pointer)
        }

        // Quantized weights with integer kernels read their input rounded to 8 bits (per 32 or per 256,
        // as llama.cpp pairs with the type), once per distinct input and rounding.
        struct Rounding: Hashable { let input: UnsafePointer<Float>; let block: Int }
        func rounding(_ job: LinearJob) -> Rounding { Rounding(input: job.input, block: Q8Activations.block(for: job.weight.blocks!)) }
        var roundedCounts: [Rounding: Int] = [:]
        for job in jobs where job.usesIntegerKernels { roundedCounts[rounding(job)] = max(roundedCounts[rounding(job)] ?? 0, job.tokens) }
        var roundedInputs: [Rounding: Q8Activations] = [:]
        var roundedForJob = [UnsafePointer<mixture_q8_ref>?](repeating: nil, count: jobs.count)
        for (j, job) in jobs.enumerated() where job.usesIntegerKernels {
            let key = rounding(job)
            if roundedInputs[key] == nil {
                roundedInputs[key] = Q8Activations(job.input, stride: job.inputStride, columns: job.weight.columns,
                                                   tokens: roundedCounts[key]!, block: key.block)
            }
            roundedForJob[j] = UnsafePointer(roundedInputs[key]!.references)
        }

        // Many tokens: the input is transposed once into 24-token panels for the outer-product
        // kernel (shared by every job that reads the same input).
        // Jobs that share an input but not a dtype can take different token counts: pack the most.
        let panelled = jobs.map { $0.usesIntegerKernels ? 0 : panelTokenCount($0.tokens, $0.weight.dtype) }
        var packCounts: [UnsafePointer<Float>: Int] = [:]
        for (j, job) in jobs.enumerated() where panelled[j] > 0 { packCounts[job.input] = max(packCounts[job.input] ?? 0, panelled[j]) }
        var packedInputs: [UnsafePointer<Float>: FloatBuffer] = [:]
        var packedForJob = [UnsafePointer<Float>?](repeating: nil, count: jobs.count)
        for (j, job) in jobs.enumerated() where panelled[j] > 0 {
            if packedInputs[job.input] == nil { packedInputs[job.input] = packTokens(job, count: packCounts[job.input]!) }
            packedForJob[j] = UnsafePointer(packedInputs[job.input]!.pointer)
        }

        units.withUnsafeBufferPointer { unitBuffer in
            jobs.withUnsafeBufferPointer { jobBuffer in
                Parallel.run(shares: threads) { t in
                    let scratchCount = rowBlock * (jobBuffer.map { $0.weight.columns }.max() ?? 0)
                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(1, scratchCount))
                    defer { scratch.deallocate() }
                    for u in starts[t]..<starts[t + 1] {
                        let unit = unitBuffer[u]
                        let job = jobBuffer[unit.job]
                        if let rounded = roundedForJob[unit.job] {
                            integerProducts(job, rows: unit.rows, rounded: rounded)
                            continue
                        }
                        if job.tokens == 1 {
                            matrixVector(job, rows: unit.rows, permuted: permutedForJob[unit.job])
                            continue
                        }
                        let outerTokens = panelled[unit.job]
                        var rows = unit.rows
                        var rowJob = job
                        if job.weight.blocks != nil {
                            // Quantized rows: dequantized once into scratch, then the F32 kernels read them in place.
                            job.weight.convertRows(rows, into: scratch)
                            rowJob.weight = WeightMatrix(rows: rows.count, columns: job.weight.columns, dtype: .float32, base: scratch)
                            rowJob.output = job.output + rows.lowerBound
                            rows = 0..<rows.count
                        }
                        if let packed = packedForJob[unit.job] {
                            matrixMatrixOuter(rowJob, rows: rows, packed: packed, tokens: outerTokens, scratch: scratch)
                        }
                        if outerTokens < job.tokens {
                            matrixMatrixFew(rowJob, rows: rows, tokens: outerTokens..<job.tokens)
                        }
                    }
                }
            }
        }
    }

    /// Quantized rows against 8-bit activations: per group of up to 4 tokens (their activations stay
    /// in L1), every row of the unit once, its blocks unpacked once for the group (a C loop).
    static func integerProducts(_ job: LinearJob, rows: Range<Int>, rounded: UnsafePointer<mixture_q8_ref>) {
        let w = job.weight
        let (first, last, tokens, columns) = (Int32(rows.lowerBound), Int32(rows.upperBound), Int32(job.tokens), Int32(w.columns))
        let (rowBytes, stride) = (w.rowBytes, job.outputStride)
        switch w.blocks! {
        case .q8_0: mixture_rows_q8_0(w.base, rowBytes, first, last, rounded, tokens, columns, job.output, stride)
        case .q4_0: mixture_rows_q4_0(w.base, rowBytes, first, last, rounded, tokens, columns, job.output, stride)
        case .q4_K: mixture_rows_q4_K(w.base, rowBytes, first, last, rounded, tokens, columns, job.output, stride)
        default: mixture_rows_q6_K(w.base, rowBytes, first, last, rounded, tokens, columns, job.output, stride)
        }
    }

    @inline(__always)
    static func matrixVector(_ job: LinearJob, rows: Range<Int>, permuted: UnsafePointer<Float>?) {
        let w = job.weight
        if let permuted = permuted {
            for r in rows {
                job.output[r] = Dot.bfloat16Permuted(w.rowPointer(r), permuted, job.input, count: w.columns)
            }
            return
        }
        for r in rows {
            job.output[r] = w.dot(row: r, job.input)
        }
    }

    /// The tokens `panelTokenCount` leaves (an expert's share of a prompt, or the tail past the last
    /// 24-token panel): dot-product tiles that widen each weight vector in registers as they load
    /// it, so the weights stream straight from memory into the FMAs with no scratch copy. Every
    /// tile keeps 12 accumulators on real tokens. From DRAM on 2 cores (16384 × 2048 F16,
    /// `kernel-bench`): 4 tokens 87 GFLOP/s, 8 tokens 118, 14 tokens 124, against 46, 65 and 91 for
    /// the kernels they replaced (a 2 × 6 tile over rows widened into scratch below 8 tokens, the
    /// outer product's partial panels from 8).
    static func matrixMatrixFew(_ job: LinearJob, rows: Range<Int>, tokens: Range<Int>) {
        switch job.weight.dtype {
        case .float32: matrixMatrixFew(job, rows: rows, tokens: tokens, as: Float32Storage.self)
        case .bfloat16: matrixMatrixFew(job, rows: rows, tokens: tokens, as: BFloat16Storage.self)
        case .float16: matrixMatrixFew(job, rows: rows, tokens: tokens, as: Float16Storage.self)
        }
    }

    /// Tokens taken by the next tile pass when `remaining` are left: 6 (2 rows × 6 tokens) while 6
    /// or at least 8 remain, else 3 or 2 (4 × 3 and 6 × 2 tiles); later passes re-read the rows from
    /// cache. Every pass keeps 12 accumulators on real tokens; only a range of one token (the tail
    /// after whole panels) wastes half a 6 × 2 tile.
    static func fewGroup(remaining: Int) -> Int {
        switch remaining {
        case 6, 8...: return 6
        case 3, 5, 7: return 3
        default: return min(remaining, 2)
        }
    }

    static func fewTileRows(tokens: Int) -> Int {
        switch tokens {
        case 1, 2: return 6
        case 3: return 4
        default: return 2
        }
    }

    @inline(__always)
    static func matrixMatrixFew<S: WeightStorage>(_ job: LinearJob, rows: Range<Int>, tokens: Range<Int>, as _: S.Type) {
        let w = job.weight
        let n = w.columns
        let vectorEnd = n & ~7
        var t = tokens.lowerBound
        while t < tokens.upperBound {
            let remaining = tokens.upperBound - t
            let group = fewGroup(remaining: remaining)
            let x0 = job.input + t * job.inputStride
            func x(_ i: Int) -> UnsafePointer<Float> { x0 + min(i, group - 1) * job.inputStride }
            let tileRows = fewTileRows(tokens: group)
            var r = rows.lowerBound
            while r < rows.upperBound {
                let rowCount = min(tileRows, rows.upperBound - r)
                func wr(_ i: Int) -> UnsafeRawPointer { w.rowPointer(r + min(i, rowCount - 1)) }
                // The next tile's rows (the next unit's past the last tile), asked for as the tile
                // goes: the hardware prefetchers stop at each row's page boundary. BF16 prefill +6.6%,
                // F16 +1-2% (same-run A/B).
                let ahead = w.rowPointer(r + rowCount)
                // result[row * tokensInTile + token]
                let result: SIMD16<Float>, tokensInTile: Int
                switch group {
                case 1, 2:
                    result = tileDot6x2(wr(0), wr(1), wr(2), wr(3), wr(4), wr(5), x(0), x(1), vectorEnd, ahead, S.self); tokensInTile = 2
                case 3:
                    result = tileDot4x3(wr(0), wr(1), wr(2), wr(3), x(0), x(1), x(2), vectorEnd, ahead, S.self); tokensInTile = 3
                default:
                    result = tileDot2x6(wr(0), wr(1), x(0), x(1), x(2), x(3), x(4), x(5), vectorEnd, ahead, S.self); tokensInTile = 6
                }
                for tt in 0..<group {
                    let xt = x(tt)
                    let out = job.output + (t + tt) * job.outputStride + r
                    for rr in 0..<rowCount {
                        var sum = result[rr * tokensInTile + tt]
                        let row = wr(rr)
                        for k in vectorEnd..<n { sum += S.load1(row + k * S.byteSize) * xt[k] }
                        out[rr] = sum
                    }
                }
                r += rowCount
            }
            t += group
        }
    }

    /// 6 rows × 2 tokens: both token vectors stay in registers, each row is loaded once per k.
    @inline(__always)
    static func tileDot6x2<S: WeightStorage>(_ w0: UnsafeRawPointer, _ w1: UnsafeRawPointer, _ w2: UnsafeRawPointer,
                                             _ w3: UnsafeRawPointer, _ w4: UnsafeRawPointer, _ w5: UnsafeRawPointer,
                                             _ x0: UnsafePointer<Float>, _ x1: UnsafePointer<Float>,
                                             _ end: Int, _ ahead: UnsafeRawPointer, _: S.Type) -> SIMD16<Float> {
        var c00 = SIMD8<Float>(), c01 = SIMD8<Float>(), c10 = SIMD8<Float>(), c11 = SIMD8<Float>()
        var c20 = SIMD8<Float>(), c21 = SIMD8<Float>(), c30 = SIMD8<Float>(), c31 = SIMD8<Float>()
        var c40 = SIMD8<Float>(), c41 = SIMD8<Float>(), c50 = SIMD8<Float>(), c51 = SIMD8<Float>()
        let r0 = UnsafeRawPointer(x0), r1 = UnsafeRawPointer(x1)
        let size = S.byteSize
        var k = 0
        while k < end {
            if size == 2 { mixture_prefetch(ahead + k &* 12) }  // 6 rows × 2 bytes per k
            let a = r0.loadUnaligned(fromByteOffset: k &* 4, as: SIMD8<Float>.self)
            let b = r1.loadUnaligned(fromByteOffset: k &* 4, as: SIMD8<Float>.self)
            let o = k &* size
            var v = S.load8(w0 + o); c00.addProduct(v, a); c01.addProduct(v, b)
            v = S.load8(w1 + o); c10.addProduct(v, a); c11.addProduct(v, b)
            v = S.load8(w2 + o); c20.addProduct(v, a); c21.addProduct(v, b)
            v = S.load8(w3 + o); c30.addProduct(v, a); c31.addProduct(v, b)
            v = S.load8(w4 + o); c40.addProduct(v, a); c41.addProduct(v, b)
            v = S.load8(w5 + o); c50.addProduct(v, a); c51.addProduct(v, b)
            k &+= 8
        }
        return SIMD16<Float>(c00.sum(), c01.sum(), c10.sum(), c11.sum(), c20.sum(), c21.sum(),
                             c30.sum(), c31.sum(), c40.sum(), c41.sum(), c50.sum(), c51.sum(), 0, 0, 0, 0)
    }

    /// 4 rows × 3 tokens: the three token vectors stay in registers.
    @inline(__always)
    static func tileDot4x3<S: WeightStorage>(_ w0: UnsafeRawPointer, _ w1: UnsafeRawPointer, _ w2: UnsafeRawPointer,
                                             _ w3: UnsafeRawPointer, _ x0: UnsafePointer<Float>, _ x1: UnsafePointer<Float>,
                                             _ x2: UnsafePointer<Float>, _ end: Int, _ ahead: UnsafeRawPointer, _: S.Type) -> SIMD16<Float> {
        var c00 = SIMD8<Float>(), c01 = SIMD8<Float>(), c02 = SIMD8<Float>()
        var c10 = SIMD8<Float>(), c11 = SIMD8<Float>(), c12 = SIMD8<Float>()
        var c20 = SIMD8<Float>(), c21 = SIMD8<Float>(), c22 = SIMD8<Float>()
        var c30 = SIMD8<Float>(), c31 = SIMD8<Float>(), c32 = SIMD8<Float>()
        let r0 = UnsafeRawPointer(x0), r1 = UnsafeRawPointer(x1), r2 = UnsafeRawPointer(x2)
        let size = S.byteSize
        var k = 0
        while k < end {
            if size == 2 { mixture_prefetch(ahead + k &* 8) }  // 4 rows × 2 bytes per k
            let a = r0.loadUnaligned(fromByteOffset: k &* 4, as: SIMD8<Float>.self)
            let b = r1.loadUnaligned(fromByteOffset: k &* 4, as: SIMD8<Float>.self)
            let c = r2.loadUnaligned(fromByteOffset: k &* 4, as: SIMD8<Float>.self)
            let o = k &* size
            var v = S.load8(w0 + o); c00.addProduct(v, a); c01.addProduct(v, b); c02.addProduct(v, c)
            v = S.load8(w1 + o); c10.addProduct(v, a); c11.addProduct(v, b); c12.addProduct(v, c)
            v = S.load8(w2 + o); c20.addProduct(v, a); c21.addProduct(v, b); c22.addProduct(v, c)
            v = S.load8(w3 + o); c30.addProduct(v, a); c31.addProduct(v, b); c32.addProduct(v, c)
            k &+= 8
        }
        return SIMD16<Float>(c00.sum(), c01.sum(), c02.sum(), c10.sum(), c11.sum(), c12.sum(),
                             c20.sum(), c21.sum(), c22.sum(), c30.sum(), c31.sum(), c32.sum(), 0, 0, 0, 0)
    }

    /// 2 rows × 6 tokens: the two widened rows stay in registers, tokens stream past them.
    @inline(__always)
    static func tileDot2x6<S: WeightStorage>(_ w0: UnsafeRawPointer, _ w1: UnsafeRawPointer,
                                             _ x0: UnsafePointer<Float>, _ x1: UnsafePointer<Float>, _ x2: UnsafePointer<Float>,
                                             _ x3: UnsafePointer<Float>, _ x4: UnsafePointer<Float>, _ x5: UnsafePointer<Float>,
                                             _ end: Int, _ ahead: UnsafeRawPointer, _: S.Type) -> SIMD16<Float> {
        var c00 = SIMD8<Float>(), c01 = SIMD8<Float>(), c02 = SIMD8<Float>(), c03 = SIMD8<Float>()
        var c04 = SIMD8<Float>(), c05 = SIMD8<Float>(), c10 = SIMD8<Float>(), c11 = SIMD8<Float>()
        var c12 = SIMD8<Float>(), c13 = SIMD8<Float>(), c14 = SIMD8<Float>(), c15 = SIMD8<Float>()
        let r0 = UnsafeRawPointer(x0), r1 = UnsafeRawPointer(x1), r2 = UnsafeRawPointer(x2)
        let r3 = UnsafeRawPointer(x3), r4 = UnsafeRawPointer(x4), r5 = UnsafeRawPointer(x5)
        let size = S.byteSize
        var k = 0
        while k < end {
            if size == 2 { mixture_prefetch(ahead + k &* 4) }  // 2 rows × 2 bytes per k
            let o = k &* size
            let a = S.load8(w0 + o), b = S.load8(w1 + o)
            var v = r0.loadUnaligned(fromByteOffset: k &* 4, as: SIMD8<Float>.self); c00.addProduct(a, v); c10.addProduct(b, v)
            v = r1.loadUnaligned(fromByteOffset: k &* 4, as: SIMD8<Float>.self); c01.addProduct(a, v); c11.addProduct(b, v)
            v = r2.loadUnaligned(fromByteOffset: k &* 4, as: SIMD8<Float>.self); c02.addProduct(a, v); c12.addProduct(b, v)
            v = r3.loadUnaligned(fromByteOffset: k &* 4, as: SIMD8<Float>.self); c03.addProduct(a, v); c13.addProduct(b, v)
            v = r4.loadUnaligned(fromByteOffset: k &* 4, as: SIMD8<Float>.self); c04.addProduct(a, v); c14.addProduct(b, v)
            v = r5.loadUnaligned(fromByteOffset: k &* 4, as: SIMD8<Float>.self); c05.addProduct(a, v); c15.addProduct(b, v)
            k &+= 8
        }
        return SIMD16<Float>(c00.sum(), c01.sum(), c02.sum(), c03.sum(), c04.sum(), c05.sum(),
                             c10.sum(), c11.sum(), c12.sum(), c13.sum(), c14.sum(), c15.sum(), 0, 0, 0, 0)
    }

    /// Tokens per packed input panel of the outer-product kernel.
    static let panelTokens = 24
    static let outerRows = 4

    /// How many of `tokens` the outer-product kernel takes: whole panels, plus a last one that is
    /// big enough; the rest run on the dot-product tiles. F16/BF16 rows must first be widened into
    /// scratch, which a last panel under 20 tokens does not repay. F32 rows are read in place, and
    /// the outer product's 6 × 16 and 4 × 8 tiles win from 8 tokens (`kernel-bench`, weights from
    /// DRAM: 10 tokens 79 against 47 GFLOP/s, 16 tokens 107 against 75).
    @inline(__always)
    static func panelTokenCount(_ tokens: Int, _ dtype: DType) -> Int {
        let tail = tokens % panelTokens
        return tokens - (tail < (dtype == .float32 ? 8 : 20) ? tail : 0)
    }

    /// The first `count` input tokens transposed into panels of 24: panel g holds x[24g + j][k] at
    /// [g][k][j], zeros past the last token.
    static func packTokens(_ job: LinearJob, count: Int) -> FloatBuffer {
        let n = job.weight.columns
        let groups = (count + panelTokens - 1) / panelTokens
        let buffer = FloatBuffer(count: groups * n * panelTokens)
        let out = buffer.pointer
        Parallel.forRanges(groups, minimumPerThread: 4) { range in
            for g in range {
                let panel = out + g * n * panelTokens
                for j in 0..<min(panelTokens, count - g * panelTokens) {
                    let x = job.input + (g * panelTokens + j) * job.inputStride
                    for k in 0..<n { panel[k * panelTokens + j] = x[k] }
                }
            }
        }
        return buffer
    }

    /// Output tiles of 4 weight rows × 24 tokens as outer products over the first `tokens` (packed)
    /// tokens: per k, three 8-token input vectors times four broadcast weights into 12 accumulators,
    /// which end up holding finished outputs (no horizontal sums, whatever the length of k).
    static func matrixMatrixOuter(_ job: LinearJob, rows: Range<Int>, packed: UnsafePointer<Float>, tokens: Int,
                                  scratch: UnsafeMutablePointer<Float>) {
        let w = job.weight
        let n = w.columns
        // F32 rows are read in place; F16/BF16 rows are widened once into scratch.
        let base: UnsafePointer<Float>
        if w.dtype == .float32 {
            base = w.rowPointer(rows.lowerBound).assumingMemoryBound(to: Float.self)
        } else {
            // The unit's rows are contiguous: one widening pass.
            w.convertRows(rows, into: scratch)
            base = UnsafePointer(scratch)
        }
        let groups = (tokens + panelTokens - 1) / panelTokens
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 18) { acc in
            // Token panels outside, row tiles inside: a panel (K × 24 floats) stays in cache while
            // this unit's rows pass over it.
            for g in 0..<groups {
                let panel = packed + g * n * panelTokens
                let tokenCount = min(panelTokens, tokens - g * panelTokens)
                let vectors = (tokenCount + 7) / 8
                // A short last panel (F32 only): 6-row tiles keep 12 accumulators busy on 9-16
                // tokens, 4 rows on up to 8.
                let tileRows = vectors == 2 ? 6 : outerRows
                var r = 0
                while r < rows.count {
                    let rowCount = min(tileRows, rows.count - r)
                    func w(_ i: Int) -> UnsafePointer<Float> { base + (r + min(i, rowCount - 1)) * n }
                    switch vectors {
                    case 1: tile4x8(w(0), w(1), w(2), w(3), panel, n, acc.baseAddress!)
                    case 2: tile6x16(w(0), w(1), w(2), w(3), w(4), w(5), panel, n, acc.baseAddress!)
                    default: tile4x24(w(0), w(1), w(2), w(3), panel, n, acc.baseAddress!)
                    }
                    for rr in 0..<rowCount {
                        let out = job.output + (g * panelTokens) * job.outputStride + rows.lowerBound + r + rr
                        for v in 0..<vectors {
                            let vector = acc[rr * 3 + v]
                            for lane in 0..<8 where v * 8 + lane < tokenCount {
                                out[(v * 8 + lane) * job.outputStride] = vector[lane]
                            }
                        }
                    }
                    r += rowCount
                }
            }
        }
    }

    @inline(__always)
    static func tile4x24(_ w0: UnsafePointer<Float>, _ w1: UnsafePointer<Float>, _ w2: UnsafePointer<Float>,
                         _ w3: UnsafePointer<Float>, _ panel: UnsafePointer<Float>, _ n: Int,
                         _ acc: UnsafeMutablePointer<SIMD8<Float>>) {
        var c00 = SIMD8<Float>(), c01 = SIMD8<Float>(), c02 = SIMD8<Float>()
        var c10 = SIMD8<Float>(), c11 = SIMD8<Float>(), c12 = SIMD8<Float>()
        var c20 = SIMD8<Float>(), c21 = SIMD8<Float>(), c22 = SIMD8<Float>()
        var c30 = SIMD8<Float>(), c31 = SIMD8<Float>(), c32 = SIMD8<Float>()
        let rp = UnsafeRawPointer(panel)
        var o = 0
        let end = n &* (panelTokens &* 4)
        var k = 0
        while o < end {
            let x0 = rp.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            let x1 = rp.loadUnaligned(fromByteOffset: o &+ 32, as: SIMD8<Float>.self)
            let x2 = rp.loadUnaligned(fromByteOffset: o &+ 64, as: SIMD8<Float>.self)
            var b = SIMD8<Float>(repeating: w0[k])
            c00.addProduct(b, x0); c01.addProduct(b, x1); c02.addProduct(b, x2)
            b = SIMD8<Float>(repeating: w1[k])
            c10.addProduct(b, x0); c11.addProduct(b, x1); c12.addProduct(b, x2)
            b = SIMD8<Float>(repeating: w2[k])
            c20.addProduct(b, x0); c21.addProduct(b, x1); c22.addProduct(b, x2)
            b = SIMD8<Float>(repeating: w3[k])
            c30.addProduct(b, x0); c31.addProduct(b, x1); c32.addProduct(b, x2)
            o &+= panelTokens &* 4
            k &+= 1
        }
        acc[0] = c00; acc[1] = c01; acc[2] = c02
        acc[3] = c10; acc[4] = c11; acc[5] = c12
        acc[6] = c20; acc[7] = c21; acc[8] = c22
        acc[9] = c30; acc[10] = c31; acc[11] = c32
    }

    /// 6 rows × 16 tokens: 12 accumulators, 2 input vectors, 6 broadcasts per k. Writes
    /// acc[row * 3 + vector] like the other tiles (acc needs room for 18).
    @inline(__always)
    static func tile6x16(_ w0: UnsafePointer<Float>, _ w1: UnsafePointer<Float>, _ w2: UnsafePointer<Float>,
                         _ w3: UnsafePointer<Float>, _ w4: UnsafePointer<Float>, _ w5: UnsafePointer<Float>,
                         _ panel: UnsafePointer<Float>, _ n: Int, _ acc: UnsafeMutablePointer<SIMD8<Float>>) {
        var c00 = SIMD8<Float>(), c01 = SIMD8<Float>(), c10 = SIMD8<Float>(), c11 = SIMD8<Float>()
        var c20 = SIMD8<Float>(), c21 = SIMD8<Float>(), c30 = SIMD8<Float>(), c31 = SIMD8<Float>()
        var c40 = SIMD8<Float>(), c41 = SIMD8<Float>(), c50 = SIMD8<Float>(), c51 = SIMD8<Float>()
        let rp = UnsafeRawPointer(panel)
        var o = 0
        let end = n &* (panelTokens &* 4)
        var k = 0
        while o < end {
            let x0 = rp.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            let x1 = rp.loadUnaligned(fromByteOffset: o &+ 32, as: SIMD8<Float>.self)
            var b = SIMD8<Float>(repeating: w0[k]); c00.addProduct(b, x0); c01.addProduct(b, x1)
            b = SIMD8<Float>(repeating: w1[k]); c10.addProduct(b, x0); c11.addProduct(b, x1)
            b = SIMD8<Float>(repeating: w2[k]); c20.addProduct(b, x0); c21.addProduct(b, x1)
            b = SIMD8<Float>(repeating: w3[k]); c30.addProduct(b, x0); c31.addProduct(b, x1)
            b = SIMD8<Float>(repeating: w4[k]); c40.addProduct(b, x0); c41.addProduct(b, x1)
            b = SIMD8<Float>(repeating: w5[k]); c50.addProduct(b, x0); c51.addProduct(b, x1)
            o &+= panelTokens &* 4
            k &+= 1
        }
        acc[0] = c00; acc[1] = c01; acc[3] = c10; acc[4] = c11; acc[6] = c20; acc[7] = c21
        acc[9] = c30; acc[10] = c31; acc[12] = c40; acc[13] = c41; acc[15] = c50; acc[16] = c51
    }

    @inline(__always)
    static func tile4x8(_ w0: UnsafePointer<Float>, _ w1: UnsafePointer<Float>, _ w2: UnsafePointer<Float>,
                        _ w3: UnsafePointer<Float>, _ panel: UnsafePointer<Float>, _ n: Int,
                        _ acc: UnsafeMutablePointer<SIMD8<Float>>) {
        // Two independent chains per row (even and odd k) so four rows keep eight FMAs in flight.
        var c0 = SIMD8<Float>(), c1 = SIMD8<Float>(), c2 = SIMD8<Float>(), c3 = SIMD8<Float>()
        var d0 = SIMD8<Float>(), d1 = SIMD8<Float>(), d2 = SIMD8<Float>(), d3 = SIMD8<Float>()
        let rp = UnsafeRawPointer(panel)
        let step = panelTokens &* 4
        var k = 0
        while k + 1 < n {
            let o = k &* step
            let x = rp.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            let y = rp.loadUnaligned(fromByteOffset: o &+ step, as: SIMD8<Float>.self)
            c0.addProduct(SIMD8<Float>(repeating: w0[k]), x); d0.addProduct(SIMD8<Float>(repeating: w0[k &+ 1]), y)
            c1.addProduct(SIMD8<Float>(repeating: w1[k]), x); d1.addProduct(SIMD8<Float>(repeating: w1[k &+ 1]), y)
            c2.addProduct(SIMD8<Float>(repeating: w2[k]), x); d2.addProduct(SIMD8<Float>(repeating: w2[k &+ 1]), y)
            c3.addProduct(SIMD8<Float>(repeating: w3[k]), x); d3.addProduct(SIMD8<Float>(repeating: w3[k &+ 1]), y)
            k &+= 2
        }
        if k < n {
            let x = rp.loadUnaligned(fromByteOffset: k &* step, as: SIMD8<Float>.self)
            c0.addProduct(SIMD8<Float>(repeating: w0[k]), x); c1.addProduct(SIMD8<Float>(repeating: w1[k]), x)
            c2.addProduct(SIMD8<Float>(repeating: w2[k]), x); c3.addProduct(SIMD8<Float>(repeating: w3[k]), x)
        }
        acc[0] = c0 + d0; acc[3] = c1 + d1; acc[6] = c2 + d2; acc[9] = c3 + d3
    }

    /// Scalar reference for tests.
    public static func reference(_ job: LinearJob) {
        for t in 0..<job.tokens {
            for r in 0..<job.weight.rows {
                let w = job.weight, x = job.input + t * job.inputStride
                if w.blocks != nil {
                    var row = [Float](repeating: 0, count: w.columns)
                    w.copyRow(r, into: &row)
                    var sum: Double = 0
                    for k in 0..<w.columns { sum += Double(row[k]) * Double(x[k]) }
                    job.output[t * job.outputStride + r] = Float(sum)
                } else {
                    job.output[t * job.outputStride + r] = Dot.reference(w.rowPointer(r), w.dtype, x, count: w.columns)
                }
            }
        }
    }
}
