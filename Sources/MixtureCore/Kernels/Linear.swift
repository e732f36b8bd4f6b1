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

        units.withUnsafeBufferPointer { unitBuffer in
            jobs.withUnsafeBufferPointer { jobBuffer in
                Parallel.run(shares: threads) { t in
                    let scratchCount = tileRows * (jobBuffer.map { $0.weight.columns }.max() ?? 0)
                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(1, scratchCount))
                    defer { scratch.deallocate() }
                    for u in starts[t]..<starts[t + 1] {
                        let unit = unitBuffer[u]
                        let job = jobBuffer[unit.job]
                        if job.tokens == 1 {
                            matrixVector(job, rows: unit.rows, permuted: permutedForJob[unit.job])
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

    static let tileRows = 3

    /// Output tiles of 3 weight rows × 3 tokens. Each tile's rows are widened to Float once, streaming
    /// sequentially through memory (prefetch-friendly), then reused for every token.
    static func matrixMatrix(_ job: LinearJob, rows: Range<Int>, scratch: UnsafeMutablePointer<Float>) {
        let w = job.weight
        let n = w.columns
        var r = rows.lowerBound
        while r < rows.upperBound {
            let rowCount = min(tileRows, rows.upperBound - r)
            func rowPointer(_ i: Int) -> UnsafePointer<Float> {
                let i = min(i, rowCount - 1)
                if w.dtype == .float32 { return w.rowPointer(r + i).assumingMemoryBound(to: Float.self) }
                return UnsafePointer(scratch + i * n)
            }
            if w.dtype != .float32 {
                // Widen this tile's rows while the next tile's rows travel in from memory.
                let rowBytes = n * w.dtype.byteSize
                let nextEnd = min(rows.upperBound, r + rowCount + tileRows)
                let ahead = (nextEnd - r - rowCount) * rowBytes
                let current = rowCount * rowBytes
                let base = w.rowPointer(r)
                for i in 0..<rowCount {
                    let begin = i * rowBytes
                    var line = begin * ahead / max(1, current)
                    let lineEnd = (begin + rowBytes) * ahead / max(1, current)
                    while line < lineEnd {
                        mixture_prefetch(base + current + line)
                        line += 64
                    }
                    w.copyRow(r + i, into: scratch + i * n)
                }
            }
            let w0 = rowPointer(0), w1 = rowPointer(1), w2 = rowPointer(2)
            var t = 0
            while t < job.tokens {
                let tokenCount = min(3, job.tokens - t)
                let x0 = job.input + t * job.inputStride
                let x1 = x0 + min(1, tokenCount - 1) * job.inputStride
                let x2 = x0 + (tokenCount - 1) * job.inputStride
                let tile = tile3x3(w0, w1, w2, x0, x1, x2, n)
                for tt in 0..<tokenCount {
                    let out = job.output + (t + tt) * job.outputStride + r
                    for rr in 0..<rowCount { out[rr] = tile[tt * 4 + rr] }
                }
                t += tokenCount
            }
            r += rowCount
        }
    }

    /// 3 weight rows × 3 tokens: 9 accumulators + 3 weight vectors + 1 input vector fit the 16 vector
    /// registers without spilling; 6 loads feed 9 FMAs.
    @inline(__always)
    static func tile3x3(_ w0: UnsafePointer<Float>, _ w1: UnsafePointer<Float>, _ w2: UnsafePointer<Float>,
                        _ x0: UnsafePointer<Float>, _ x1: UnsafePointer<Float>, _ x2: UnsafePointer<Float>, _ n: Int) -> SIMD16<Float> {
        var c00 = SIMD8<Float>(), c01 = SIMD8<Float>(), c02 = SIMD8<Float>()
        var c10 = SIMD8<Float>(), c11 = SIMD8<Float>(), c12 = SIMD8<Float>()
        var c20 = SIMD8<Float>(), c21 = SIMD8<Float>(), c22 = SIMD8<Float>()
        let rw0 = UnsafeRawPointer(w0), rw1 = UnsafeRawPointer(w1), rw2 = UnsafeRawPointer(w2)
        let rx0 = UnsafeRawPointer(x0), rx1 = UnsafeRawPointer(x1), rx2 = UnsafeRawPointer(x2)
        var k = 0
        while k + 8 <= n {
            let o = k * 4
            let a0 = rw0.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            let a1 = rw1.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            let a2 = rw2.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            let b0 = rx0.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            c00.addProduct(a0, b0); c01.addProduct(a1, b0); c02.addProduct(a2, b0)
            let b1 = rx1.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            c10.addProduct(a0, b1); c11.addProduct(a1, b1); c12.addProduct(a2, b1)
            let b2 = rx2.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            c20.addProduct(a0, b2); c21.addProduct(a1, b2); c22.addProduct(a2, b2)
            k += 8
        }
        var result = SIMD16<Float>(c00.sum(), c01.sum(), c02.sum(), 0, c10.sum(), c11.sum(), c12.sum(), 0,
                                   c20.sum(), c21.sum(), c22.sum(), 0, 0, 0, 0, 0)
        while k < n {
            result[0] += w0[k] * x0[k]; result[1] += w1[k] * x0[k]; result[2] += w2[k] * x0[k]
            result[4] += w0[k] * x1[k]; result[5] += w1[k] * x1[k]; result[6] += w2[k] * x1[k]
            result[8] += w0[k] * x2[k]; result[9] += w1[k] * x2[k]; result[10] += w2[k] * x2[k]
            k += 1
        }
        return result
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
