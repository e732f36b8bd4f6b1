import Foundation
import MixtureCore

/// Perplexity as llama.cpp's `llama-perplexity` computes it: the token stream is cut into
/// non-overlapping chunks of `context` tokens (the first token of each replaced by BOS when the
/// tokenizer adds one), each chunk runs from an empty cache, and only the second half of each chunk
/// is scored (positions `context/2 ..< context - 1`, each predicting the next token), so every scored
/// token has at least half a context before it. The estimate is exp(mean negative log-likelihood),
/// with the standard error llama.cpp prints.
///
/// The KL-divergence mode compares against log-probabilities saved from a base run in llama.cpp's
/// `--kl-divergence-base` file format (so either tool can write the base and either can compare).
public enum Perplexity {
    /// Scored predictions per chunk.
    public static func scoredPerChunk(context: Int) -> Int { context - 1 - context / 2 }

    /// The chunks of `tokens` (as many whole ones as fit, at most `limit`), first token set to `bos`.
    public static func chunks(_ tokens: [Int], context: Int, bos: Int?, limit: Int? = nil) -> [[Int]] {
        var count = tokens.count / context
        if let limit { count = min(count, limit) }
        return (0..<count).map { i in
            var chunk = Array(tokens[(i * context)..<((i + 1) * context)])
            if let bos { chunk[0] = bos }
            return chunk
        }
    }

    /// The logits of positions `context/2 ..< context - 1` of one chunk, run in batches of `batch`
    /// tokens from an empty cache.
    public static func scoredLogits(model: TransformerModel, chunk: [Int], batch: Int) throws -> [[Float]] {
        let context = chunk.count, first = context / 2
        let cache = model.makeCache(capacity: context)
        var rows: [[Float]] = []
        var start = 0
        while start < context {
            let end = min(context, start + batch)
            let wanted = end > first
            let logits = try model.forward(Array(chunk[start..<end]), cache: cache, logits: wanted ? .all : .none)
            if wanted {
                for (offset, row) in logits.enumerated() where start + offset >= first && start + offset < context - 1 { rows.append(row) }
            }
            start = end
        }
        return rows
    }

    /// Running sums of negative log-likelihoods.
    public struct Accumulator: Sendable {
        public private(set) var sum: Double = 0
        public private(set) var sumOfSquares: Double = 0
        public private(set) var count = 0

        public init() {}

        /// -log softmax(logits)[target], as llama.cpp computes it (float max and logits, double sum of exps).
        public static func negativeLogLikelihood(_ logits: [Float], target: Int) -> Double {
            let m = logits.max() ?? 0
            var sumExp: Double = 0
            for v in logits { sumExp += Double(expf(v - m)) }
            return Double(m) + log(sumExp) - Double(logits[target])
        }

        public mutating func add(_ nll: Double) {
            sum += nll
            sumOfSquares += nll * nll
            count += 1
        }

        public var perplexity: Double { exp(sum / Double(count)) }

        /// The standard error of the estimate (llama.cpp's "PPL = x +/- e").
        public var standardError: Double {
            guard count > 1 else { return 0 }
            let mean = sum / Double(count)
            let variance = sumOfSquares / Double(count) - mean * mean
            return variance > 0 ? sqrt(variance / Double(count - 1)) * perplexity : 0
        }
    }

    // MARK: - llama.cpp's log-probability file

    /// Row width in UInt16 of the saved log-probabilities: a float scale and minimum, then one
    /// 16-bit level per vocabulary entry (rounded up to an even count).
    static func rowWidth(vocabulary: Int) -> Int { 2 * ((vocabulary + 1) / 2) + 4 }

    /// Writes llama.cpp's `_logits_` file: header, every chunk's tokens, then per scored position the
    /// log-probabilities quantized to 16 bits over [max - 16, max] of the logits.
    public final class LogProbabilityWriter {
        let handle: FileHandle
        let vocabulary: Int
        var row: [UInt16]

        public init(handle: FileHandle, context: Int, vocabulary: Int, chunks: [[Int]]) throws {
            self.handle = handle
            self.vocabulary = vocabulary
            row = [UInt16](repeating: 0, count: Perplexity.rowWidth(vocabulary: vocabulary))
            var header = Data("_logits_".utf8)
            for value in [Int32(context), Int32(vocabulary), Int32(chunks.count)] { withUnsafeBytes(of: value.littleEndian) { header.append(contentsOf: $0) } }
            for chunk in chunks { for id in chunk { withUnsafeBytes(of: Int32(id).littleEndian) { header.append(contentsOf: $0) } } }
            try handle.write(contentsOf: header)
        }

        /// One scored position.
        public func write(_ logits: [Float]) throws {
            var maxLogit = logits[0], minLogit = logits[0]
            for v in logits { maxLogit = max(maxLogit, v); minLogit = min(minLogit, v) }
            minLogit = max(minLogit, maxLogit - 16)
            var sumExp: Double = 0
            for v in logits { sumExp += Double(expf(v - maxLogit)) }
            let logSumExp = Float(log(sumExp))
            let minLogProbability = minLogit - maxLogit - logSumExp
            let scale = (maxLogit - minLogit) / 65535
            row.withUnsafeMutableBytes { raw in
                raw.storeBytes(of: scale.bitPattern.littleEndian, toByteOffset: 0, as: UInt32.self)
                raw.storeBytes(of: minLogProbability.bitPattern.littleEndian, toByteOffset: 4, as: UInt32.self)
            }
            if scale != 0 {
                let inverse = 1 / scale
                for i in 0..<vocabulary { row[4 + i] = logits[i] > minLogit ? UInt16(nearestInteger(inverse * (logits[i] - minLogit))) : 0 }
            } else {
                for i in 0..<vocabulary { row[4 + i] = 0 }
            }
            try row.withUnsafeBytes { try handle.write(contentsOf: Data($0)) }
        }

        /// llama.cpp's round-to-nearest through the float mantissa (ties to even).
        @inline(__always)
        static func nearestInteger(_ value: Float) -> Int {
            let bits = Int32(bitPattern: (value + 12_582_912).bitPattern)
            return Int((bits & 0x007F_FFFF) - 0x0040_0000)
        }
        func nearestInteger(_ value: Float) -> Int { Self.nearestInteger(value) }
    }

    /// A `_logits_` file read back: its context, vocabulary, chunk tokens, and rows on demand.
    public struct LogProbabilityFile {
        public let path: String
        public let context: Int
        public let vocabulary: Int
        public let chunks: [[Int]]
        let data: Data
        let rowsStart: Int

        public init(path: String) throws {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw MixtureError.invalidFile(path: path, reason: "cannot be read")
            }
            func int32(_ offset: Int) -> Int { Int(Int32(littleEndian: data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: Int32.self) })) }
            guard data.count >= 20, data.prefix(8) == Data("_logits_".utf8) else {
                throw MixtureError.invalidFile(path: path, reason: "not a log-probability file (llama-perplexity --kl-divergence-base or mixture perplexity --save-logits writes them)")
            }
            let context = int32(8), vocabulary = int32(12), chunkCount = int32(16)
            guard context >= 4, context <= PlausibleBounds.positions, vocabulary > 0, vocabulary <= PlausibleBounds.vocabulary,
                  chunkCount > 0, chunkCount <= PlausibleBounds.positions else {
                throw MixtureError.invalidFile(path: path, reason: "header claims context \(context), vocabulary \(vocabulary), \(chunkCount) chunks")
            }
            let rowsStart = 20 + 4 * context * chunkCount
            let expected = rowsStart + chunkCount * Perplexity.scoredPerChunk(context: context) * Perplexity.rowWidth(vocabulary: vocabulary) * 2
            guard data.count == expected else {
                throw MixtureError.invalidFile(path: path, reason: "is \(data.count) bytes; its header (context \(context), vocabulary \(vocabulary), \(chunkCount) chunks) needs \(expected)")
            }
            var chunks: [[Int]] = []
            for c in 0..<chunkCount { chunks.append((0..<context).map { int32(20 + 4 * (c * context + $0)) }) }
            self.path = path
            self.context = context
            self.vocabulary = vocabulary
            self.chunks = chunks
            self.data = data
            self.rowsStart = rowsStart
        }

        /// The base log-probabilities of scored position `position` of chunk `chunk`.
        public func logProbabilities(chunk: Int, position: Int) -> [Float] {
            let width = Perplexity.rowWidth(vocabulary: vocabulary)
            let offset = rowsStart + 2 * width * (chunk * Perplexity.scoredPerChunk(context: context) + position)
            return data.withUnsafeBytes { raw in
                let scale = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
                let minimum = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)))
                return (0..<vocabulary).map { i in
                    scale * Float(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 8 + 2 * i, as: UInt16.self))) + minimum
                }
            }
        }
    }

    // MARK: - KL divergence

    /// llama.cpp's KL-divergence statistics of a run against saved base log-probabilities.
    public struct Divergence: Sendable {
        public private(set) var count = 0
        var sumNLL: Double = 0, sumNLL2: Double = 0, sumBase: Double = 0, sumBase2: Double = 0, sumCross: Double = 0
        var sumKLD: Double = 0, sumKLD2: Double = 0
        var sumPDiff: Double = 0, sumPDiff2: Double = 0, sumPDiff4: Double = 0
        public private(set) var sameTop = 0
        public private(set) var values: [Float] = []
        public private(set) var probabilityDifferences: [Float] = []

        public init() {}

        /// One scored position: the run's logits, the base's log-probabilities, and the true next token.
        public mutating func add(logits: [Float], base: [Float], target: Int) {
            var maxLogit = logits[0], top = 0
            for i in 1..<logits.count where logits[i] > maxLogit { maxLogit = logits[i]; top = i }
            var sumExp: Double = 0
            for v in logits { sumExp += Double(expf(v - maxLogit)) }
            let logSumExp = Float(log(sumExp))
            let nll = maxLogit + logSumExp - logits[target]
            let nllBase = -base[target]
            sumNLL += Double(nll); sumNLL2 += Double(nll * nll)
            sumBase += Double(nllBase); sumBase2 += Double(nllBase * nllBase)
            sumCross += Double(nll * nllBase)
            let shift = maxLogit + logSumExp
            var kld: Double = 0
            var baseTop = 0
            for i in 0..<logits.count {
                let b = base[i]
                if i == 0 || b > base[baseTop] { baseTop = i }
                if b > -16 { kld += Double(expf(b) * (b - logits[i] + shift)) }
            }
            sumKLD += kld; sumKLD2 += kld * kld
            count += 1
            if top == baseTop { sameTop += 1 }
            let pDiff = expf(-nll) - expf(-nllBase)
            sumPDiff += Double(pDiff)
            let p2 = Double(pDiff * pDiff)
            sumPDiff2 += p2; sumPDiff4 += p2 * p2
            values.append(Float(kld))
            probabilityDifferences.append(pDiff)
        }

        func meanAndUncertainty(_ sum: Double, _ sum2: Double) -> (Double, Double) {
            guard count > 0 else { return (0, 0) }
            let f = sum / Double(count)
            let df = sum2 / Double(count) - f * f
            return (f, df > 0 && count > 10 ? sqrt(df / Double(count - 1)) : 0)
        }

        public var perplexity: (value: Double, error: Double) { let (m, e) = meanAndUncertainty(sumNLL, sumNLL2); return (exp(m), exp(m) * e) }
        public var basePerplexity: (value: Double, error: Double) { let (m, e) = meanAndUncertainty(sumBase, sumBase2); return (exp(m), exp(m) * e) }
        public var meanKLD: (value: Double, error: Double) { meanAndUncertainty(sumKLD, sumKLD2) }
        public var sameTopFraction: (value: Double, error: Double) {
            let p = Double(sameTop) / Double(max(1, count))
            return (p, count > 1 ? sqrt(p * (1 - p) / Double(count - 1)) : 0)
        }
        /// ln(PPL(Q)/PPL(base)) with its uncertainty (covariance of the two log-likelihoods included).
        public var logRatio: (value: Double, error: Double) {
            let q = meanAndUncertainty(sumNLL, sumNLL2), b = meanAndUncertainty(sumBase, sumBase2)
            let covariance = count < 10 ? 0 : (sumCross / Double(count) - q.0 * b.0) / Double(count - 1)
            return (q.0 - b.0, sqrt(max(0, q.1 * q.1 + b.1 * b.1 - 2 * covariance)))
        }
        public var rmsProbabilityDifference: (value: Double, error: Double) {
            let (m, e) = meanAndUncertainty(sumPDiff2, sumPDiff4)
            let rms = sqrt(m)
            return (rms, rms > 0 ? 0.5 / rms * e : 0)
        }

        /// llama.cpp's percentile: linear interpolation between sorted values.
        public static func percentile(_ sorted: [Float], _ fraction: Float) -> Float {
            if fraction <= 0 { return sorted.first! }
            if fraction >= 1 { return sorted.last! }
            var p = fraction * Float(sorted.count - 1)
            let i = Int(p); p -= Float(i)
            return (1 - p) * sorted[i] + p * sorted[min(i + 1, sorted.count - 1)]
        }
    }
}
