import ArgumentParser
import Foundation
import MixtureCore
import MixtureFormats
import MixtureModels

struct KernelBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernel-bench",
        abstract: "Time the matrix-vector and matrix-matrix kernels against read bandwidth measured in the same run.")

    @Option(help: "Rows of the weight matrix.") var rows: Int = 50304
    @Option(help: "Columns of the weight matrix.") var columns: Int = 2048
    @Option(help: "Tokens for the matrix-matrix product.") var tokens: Int = 16
    @Option(help: "Worker threads.") var threads: Int?
    @Option(help: "Also time a BF16 matrix read from this file through a memory mapping (page-cache backed).") var mapped: String?

    /// Median wall time of `repetitions` calls.
    func medianSeconds(_ repetitions: Int, _ body: () -> Void) -> Double {
        let clock = ContinuousClock()
        var times: [Double] = []
        for _ in 0..<repetitions {
            let began = clock.now
            body()
            times.append((clock.now - began).seconds)
        }
        return times.sorted()[times.count / 2]
    }

    func run() throws {
        if let t = threads { Parallel.threadCount = max(1, t) }
        let bandwidth = MemoryBandwidth.measure()
        print(String(format: "read bandwidth: %.2f GB/s (%d threads)", bandwidth / 1e9, Parallel.threadCount))
        let x = FloatBuffer(count: columns * max(1, tokens))
        for i in 0..<x.count { x[i] = Float(i % 97) * 0.01 }
        let y = FloatBuffer(count: rows * max(1, tokens))
        if let path = mapped {
            let file = try MappedFile(path: path)
            let bytes = rows * columns * 2
            guard file.size >= bytes + 4096 else { throw ValidationError("\(path) is smaller than the matrix") }
            let w = WeightMatrix(rows: rows, columns: columns, dtype: .bfloat16, base: file.bytes + 4096)
            let median = medianSeconds(7) { Linear.run(LinearJob(weight: w, input: x.pointer, output: y.pointer, tokens: 1)) }
            print(String(format: "matvec BF16 mapped %dx%d: %.2f ms, %.2f GB/s", rows, columns, median * 1e3, Double(bytes) / median / 1e9))
        }
        for dtype in [DType.bfloat16, .float16, .float32] {
            let bytes = rows * columns * dtype.byteSize
            let storage = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
            defer { storage.deallocate() }
            memset(storage, 0x3c, bytes)
            let w = WeightMatrix(rows: rows, columns: columns, dtype: dtype, base: storage)
            let median = medianSeconds(7) { Linear.run(LinearJob(weight: w, input: x.pointer, output: y.pointer, tokens: 1)) }
            print(String(format: "matvec %@ %dx%d: %.2f ms, %.2f GB/s (%.0f%% of measured bandwidth)",
                         dtype.rawValue, rows, columns, median * 1e3, Double(bytes) / median / 1e9, Double(bytes) / median / bandwidth * 100))
            if tokens > 1 {
                let m = medianSeconds(7) { Linear.run(LinearJob(weight: w, input: x.pointer, output: y.pointer, tokens: tokens)) }
                print(String(format: "matmul %@ %d tokens: %.2f ms, %.1f GFLOP/s",
                             dtype.rawValue, tokens, m * 1e3, 2.0 * Double(rows * columns * tokens) / m / 1e9))
            }
        }
    }
}
