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
        for (j, job) in jobs.enumerated() where job.tokens == 1 && job.weight.dtype == .bfloat16 {
            if permutedInputs[job.input] == nil {
                let buffer = FloatBuffer(count: job.weight.columns)
                Dot.permuteForBFloat16(job.input, count: job.weight.columns, into: buffer.pointer)
                permutedInputs[job.input] = buffer
            }
            permutedForJob[j] = UnsafePointer(permutedInputs[job.input]!.pointer)
        }

        // Many tokens: the input is transposed once into 24-token panels for the outer-product
        // kernel (shared by every job that reads the same input).
        var packedInputs: [UnsafePointer<Float>: FloatBuffer] = [:]
        var packedForJob = [UnsafePointer<Float>?](repeating: nil, count: jobs.count)
        for (j, job) in jobs.enumerated() where job.tokens >= packedMinimumTokens {
            if packedInputs[job.input] == nil { packedInputs[job.input] = packTokens(job) }
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
                        if job.tokens == 1 {
                            matrixVector(job, rows: unit.rows, permuted: permutedForJob[unit.job])
                        } else if let packed = packedForJob[unit.job] {
                            matrixMatrixOuter(job, rows: unit.rows, packed: packed, scratch: scratch)
                        } else {
                            matrixMatrix(job, rows: unit.rows, scratch: scratch)
                        }
                    }
                }
            }
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
            job.output[r] = Dot.product(w.rowPointer(r), w.dtype, job.input, count: w.columns)
        }
    }

    static let tileRows = 2
    static let tileTokens = 6

    /// Output tiles of 2 weight rows × 6 tokens. Each tile's rows are widened to Float once, streaming
    /// sequentially through memory, then reused for every token.
    static func matrixMatrix(_ job: LinearJob, rows: Range<Int>, scratch: UnsafeMutablePointer<Float>) {
        let w = job.weight
        let n = w.columns
        var r = rows.lowerBound
        while r < rows.upperBound {
            let rowCount = min(tileRows, rows.upperBound - r)
            let w0: UnsafePointer<Float>, w1: UnsafePointer<Float>
            if w.dtype == .float32 {
                w0 = w.rowPointer(r).assumingMemoryBound(to: Float.self)
                w1 = w.rowPointer(r + rowCount - 1).assumingMemoryBound(to: Float.self)
            } else {
                // Widen this tile's rows while the next tile's rows travel in from memory.
                let rowBytes = n * w.dtype.byteSize
                let next = w.rowPointer(r) + rowCount * rowBytes
                let ahead = (min(rows.upperBound, r + rowCount + tileRows) - r - rowCount) * rowBytes
                var line = 0
                while line < ahead { mixture_prefetch(next + line); line += 64 }
                for i in 0..<rowCount { w.copyRow(r + i, into: scratch + i * n) }
                w0 = UnsafePointer(scratch)
                w1 = UnsafePointer(scratch + (rowCount - 1) * n)
            }
            var t = 0
            while t < job.tokens {
                let tokenCount = min(tileTokens, job.tokens - t)
                let x0 = job.input + t * job.inputStride
                let last = tokenCount - 1
                let tile = tile2x6(w0, w1, x0, x0 + min(1, last) * job.inputStride, x0 + min(2, last) * job.inputStride,
                                   x0 + min(3, last) * job.inputStride, x0 + min(4, last) * job.inputStride,
                                   x0 + min(5, last) * job.inputStride, n)
                for tt in 0..<tokenCount {
                    let out = job.output + (t + tt) * job.outputStride + r
                    for rr in 0..<rowCount { out[rr] = tile[tt * 2 + rr] }
                }
                t += tokenCount
            }
            r += rowCount
        }
    }

    /// 2 weight rows × 6 tokens: 12 accumulators (enough to hide FMA latency) + 2 weight vectors + 1 input
    /// vector fit the 16 vector registers; 8 loads feed 12 FMAs.
    @inline(__always)
    static func tile2x6(_ w0: UnsafePointer<Float>, _ w1: UnsafePointer<Float>,
                        _ x0: UnsafePointer<Float>, _ x1: UnsafePointer<Float>, _ x2: UnsafePointer<Float>,
                        _ x3: UnsafePointer<Float>, _ x4: UnsafePointer<Float>, _ x5: UnsafePointer<Float>,
                        _ n: Int) -> SIMD16<Float> {
        var c00 = SIMD8<Float>(), c01 = SIMD8<Float>(), c10 = SIMD8<Float>(), c11 = SIMD8<Float>()
        var c20 = SIMD8<Float>(), c21 = SIMD8<Float>(), c30 = SIMD8<Float>(), c31 = SIMD8<Float>()
        var c40 = SIMD8<Float>(), c41 = SIMD8<Float>(), c50 = SIMD8<Float>(), c51 = SIMD8<Float>()
        let rw0 = UnsafeRawPointer(w0), rw1 = UnsafeRawPointer(w1)
        let rx0 = UnsafeRawPointer(x0), rx1 = UnsafeRawPointer(x1), rx2 = UnsafeRawPointer(x2)
        let rx3 = UnsafeRawPointer(x3), rx4 = UnsafeRawPointer(x4), rx5 = UnsafeRawPointer(x5)
        // Byte offsets with wrapping arithmetic: no overflow checks inside the hot loop.
        let vectorBytes = (n & ~7) &* 4
        var o = 0
        while o < vectorBytes {
            let a0 = rw0.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            let a1 = rw1.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            var b = rx0.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            c00.addProduct(a0, b); c01.addProduct(a1, b)
            b = rx1.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            c10.addProduct(a0, b); c11.addProduct(a1, b)
            b = rx2.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            c20.addProduct(a0, b); c21.addProduct(a1, b)
            b = rx3.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            c30.addProduct(a0, b); c31.addProduct(a1, b)
            b = rx4.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            c40.addProduct(a0, b); c41.addProduct(a1, b)
            b = rx5.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            c50.addProduct(a0, b); c51.addProduct(a1, b)
            o &+= 32
        }
        var result = SIMD16<Float>(c00.sum(), c01.sum(), c10.sum(), c11.sum(), c20.sum(), c21.sum(),
                                   c30.sum(), c31.sum(), c40.sum(), c41.sum(), c50.sum(), c51.sum(), 0, 0, 0, 0)
        var k = n & ~7
        while k < n {
            let a = w0[k], b = w1[k]
            result[0] += a * x0[k]; result[1] += b * x0[k]; result[2] += a * x1[k]; result[3] += b * x1[k]
            result[4] += a * x2[k]; result[5] += b * x2[k]; result[6] += a * x3[k]; result[7] += b * x3[k]
            result[8] += a * x4[k]; result[9] += b * x4[k]; result[10] += a * x5[k]; result[11] += b * x5[k]
            k += 1
        }
        return result
    }

    /// Tokens per packed input panel and weight rows per tile of the outer-product kernel; jobs
    /// with at least `packedMinimumTokens` tokens use it.
    static let panelTokens = 24
    static let outerRows = 4
    public static let packedMinimumTokens = 8

    /// The input transposed into panels of 24 tokens: panel g holds x[24g + j][k] at
    /// [g][k][j], zeros past the last token.
    static func packTokens(_ job: LinearJob) -> FloatBuffer {
        let n = job.weight.columns
        let groups = (job.tokens + panelTokens - 1) / panelTokens
        let buffer = FloatBuffer(count: groups * n * panelTokens)
        let out = buffer.pointer
        Parallel.forRanges(groups, minimumPerThread: 4) { range in
            for g in range {
                let panel = out + g * n * panelTokens
                for j in 0..<min(panelTokens, job.tokens - g * panelTokens) {
                    let x = job.input + (g * panelTokens + j) * job.inputStride
                    for k in 0..<n { panel[k * panelTokens + j] = x[k] }
                }
            }
        }
        return buffer
    }

    /// Output tiles of 4 weight rows × 24 tokens as outer products: per k, three 8-token input
    /// vectors times four broadcast weights into 12 accumulators, which end up holding finished
    /// outputs (no horizontal sums, whatever the length of k).
    static func matrixMatrixOuter(_ job: LinearJob, rows: Range<Int>, packed: UnsafePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        let w = job.weight
        let n = w.columns
        // F32 rows are read in place; F16/BF16 rows are widened once into scratch.
        let base: UnsafePointer<Float>
        if w.dtype == .float32 {
            base = w.rowPointer(rows.lowerBound).assumingMemoryBound(to: Float.self)
        } else {
            for i in 0..<rows.count { w.copyRow(rows.lowerBound + i, into: scratch + i * n) }
            base = UnsafePointer(scratch)
        }
        let groups = (job.tokens + panelTokens - 1) / panelTokens
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 18) { acc in
            // Token panels outside, row tiles inside: a panel (K × 24 floats) stays in cache while
            // this unit's rows pass over it.
            for g in 0..<groups {
                let panel = packed + g * n * panelTokens
                let tokenCount = min(panelTokens, job.tokens - g * panelTokens)
                let vectors = (tokenCount + 7) / 8
                // 9-16 tokens: 6-row tiles keep 12 accumulators busy; otherwise 4 rows.
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
                job.output[t * job.outputStride + r] = Dot.reference(job.weight.rowPointer(r), job.weight.dtype,
                                                                      job.input + t * job.inputStride, count: job.weight.columns)
            }
        }
    }
}
