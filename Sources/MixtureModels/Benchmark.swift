import Foundation
import MixtureCore

/// Prefill and decode speed, measured like llama-bench: prefill = one forward over `promptTokens`
/// random tokens keeping the last position's logits; decode = `decodeTokens` single-token forwards
/// from an empty context. Decode is compared against the memory-bandwidth bound.
public struct BenchmarkReport: Sendable {
    public var promptTokens: Int
    public var decodeTokens: Int
    public var threads: Int
    public var prefillTokensPerSecond: [Double]
    public var decodeTokensPerSecond: [Double]
    /// Weight bytes one decoded token reads: attention, router, the k chosen experts (or the dense MLP), the LM head.
    public var bytesReadPerDecodedToken: Int
    /// Measured in the same run (bytes/s), or nil if skipped.
    public var bandwidth: Double?
    public var peakResidentBytes: Int
    public var mappedBytes: Int

    public static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    public var medianPrefill: Double { Self.median(prefillTokensPerSecond) }
    public var medianDecode: Double { Self.median(decodeTokensPerSecond) }
    /// tokens/s if every weight byte streamed at the measured bandwidth.
    public var decodeBound: Double? { bandwidth.map { $0 / Double(bytesReadPerDecodedToken) } }
    public var decodeFractionOfBound: Double? { decodeBound.map { medianDecode / $0 } }

    public var text: String {
        var lines: [String] = []
        lines.append(String(format: "threads %d, prefill %d tokens, decode %d tokens, %d repetitions", threads, promptTokens, decodeTokens, prefillTokensPerSecond.count))
        lines.append(String(format: "prefill: %.1f tok/s (median; runs: %@)", medianPrefill, prefillTokensPerSecond.map { String(format: "%.1f", $0) }.joined(separator: " ")))
        lines.append(String(format: "decode:  %.1f tok/s (median; runs: %@)", medianDecode, decodeTokensPerSecond.map { String(format: "%.1f", $0) }.joined(separator: " ")))
        lines.append(String(format: "weights read per decoded token: %.1f MB", Double(bytesReadPerDecodedToken) / 1e6))
        if let bw = bandwidth, let bound = decodeBound, let fraction = decodeFractionOfBound {
            lines.append(String(format: "read bandwidth (same run, dot product, %d threads): %.2f GB/s -> decode bound %.1f tok/s", threads, bw / 1e9, bound))
            lines.append(String(format: "decode reaches %.1f%% of the bandwidth bound", fraction * 100))
        }
        lines.append(String(format: "memory: peak RSS %.1f MB, mapped %.1f MB", Double(peakResidentBytes) / 1e6, Double(mappedBytes) / 1e6))
        return lines.joined(separator: "\n")
    }

    public var jsonObject: [String: Any] {
        var o: [String: Any] = [
            "prompt_tokens": promptTokens, "decode_tokens": decodeTokens, "threads": threads,
            "prefill_tokens_per_second": prefillTokensPerSecond, "decode_tokens_per_second": decodeTokensPerSecond,
            "prefill_median": medianPrefill, "decode_median": medianDecode,
            "bytes_read_per_decoded_token": bytesReadPerDecodedToken,
            "peak_rss_bytes": peakResidentBytes, "mapped_bytes": mappedBytes,
        ]
        if let bw = bandwidth { o["bandwidth_bytes_per_second"] = bw }
        if let b = decodeBound { o["decode_bound_tokens_per_second"] = b }
        if let f = decodeFractionOfBound { o["decode_fraction_of_bound"] = f }
        return o
    }
}

extension TransformerModel {
    /// Weight bytes a single decoded token streams through.
    public var bytesReadPerDecodedToken: Int {
        let a = architecture
        var bytes = weights.languageModelHead.byteCount + weights.embedding.rowBytes
        for layer in weights.layers {
            let attention = layer.attention
            bytes += attention.query.weight.byteCount + attention.key.weight.byteCount + attention.value.weight.byteCount + attention.output.weight.byteCount
            switch layer.feedForward {
            case .dense(let mlp):
                bytes += mlp.gate.weight.byteCount + mlp.up.weight.byteCount + mlp.down.weight.byteCount
            case .sparse(let moe):
                let expert = moe.experts[0]
                let perExpert = expert.gate.weight.byteCount + expert.up.weight.byteCount + expert.down.weight.byteCount
                bytes += moe.router.byteCount + a.moe!.expertsPerToken * perExpert
                if let shared = moe.sharedExpert {
                    bytes += shared.gate.weight.byteCount + shared.up.weight.byteCount + shared.down.weight.byteCount
                }
            }
        }
        return bytes
    }

    public func benchmark(promptTokens: Int = 128, decodeTokens: Int = 64, repetitions: Int = 3,
                          measureBandwidth: Bool = true, progress: ((String) -> Void)? = nil) throws -> BenchmarkReport {
        var generator = SeededGenerator(seed: 42)
        let vocabulary = architecture.vocabularySize
        func randomTokens(_ n: Int) -> [Int] { (0..<n).map { _ in Int(generator.next() % UInt64(vocabulary)) } }
        let clock = ContinuousClock()
        // One untimed warm-up pass faults in the mapped weights.
        progress?("warm-up")
        _ = try forward(randomTokens(min(promptTokens, 16)), cache: makeCache(), logits: .last)
        var prefill: [Double] = [], decode: [Double] = []
        for r in 0..<repetitions {
            progress?("repetition \(r + 1)/\(repetitions): prefill")
            let prompt = randomTokens(promptTokens)
            if promptTokens > 0 {
                let cache = makeCache(capacity: promptTokens)
                let began = clock.now
                _ = try forward(prompt, cache: cache, logits: .last)
                prefill.append(Double(promptTokens) / (clock.now - began).seconds)
            }
            progress?("repetition \(r + 1)/\(repetitions): decode")
            if decodeTokens > 0 {
                let cache = makeCache(capacity: decodeTokens)
                let tokens = randomTokens(decodeTokens)
                let began = clock.now
                for t in tokens { _ = try forward([t], cache: cache, logits: .last) }
                decode.append(Double(decodeTokens) / (clock.now - began).seconds)
            }
        }
        // The model's peak, read before the bandwidth pass allocates its own buffer.
        let peakResident = ProcessMemory.residentBytes().peak
        var bandwidth: Double?
        if measureBandwidth {
            progress?("measuring read bandwidth")
            bandwidth = MemoryBandwidth.measure()
        }
        return BenchmarkReport(promptTokens: promptTokens, decodeTokens: decodeTokens, threads: Parallel.threadCount,
                               prefillTokensPerSecond: prefill, decodeTokensPerSecond: decode,
                               bytesReadPerDecodedToken: bytesReadPerDecodedToken, bandwidth: bandwidth,
                               peakResidentBytes: peakResident, mappedBytes: source.mappedBytes)
    }
}
