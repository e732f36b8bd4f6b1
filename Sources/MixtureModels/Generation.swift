import Foundation
import MixtureCore

/// Timings and counts of one generation.
public struct GenerationResult: Sendable {
    public var tokens: [Int]
    public var promptTokens: Int
    public var prefillSeconds: Double
    public var decodeSeconds: Double
    public var stoppedAtEndOfSequence: Bool

    public var prefillTokensPerSecond: Double { prefillSeconds > 0 ? Double(promptTokens) / prefillSeconds : 0 }
    /// Tokens after the first, over the time spent decoding them.
    public var decodeTokensPerSecond: Double { decodeSeconds > 0 ? Double(max(0, tokens.count - 1)) / decodeSeconds : 0 }
}

extension TransformerModel {
    /// Generates up to `maxTokens` tokens after `prompt`. `onToken` sees each new token as it is chosen
    /// (return false to stop). Generation stops early at any id in `stopTokens`.
    public func generate(prompt: [Int], maxTokens: Int, sampling: SamplingParameters = .greedy,
                         stopTokens: Set<Int> = [], routing observer: RoutingObserver? = nil,
                         onToken: ((Int) -> Bool)? = nil) throws -> GenerationResult {
        guard !prompt.isEmpty else { throw MixtureError.invalidArgument("the prompt is empty: give at least one token") }
        guard maxTokens >= 0 else { throw MixtureError.invalidArgument("--max-tokens must be ≥ 0") }
        try sampling.validate()
        var sampler = Sampler(sampling)
        let cache = makeCache(capacity: prompt.count + maxTokens + 1)
        var result = GenerationResult(tokens: [], promptTokens: prompt.count, prefillSeconds: 0, decodeSeconds: 0,
                                      stoppedAtEndOfSequence: false)
        guard maxTokens > 0 else { return result }
        let clock = ContinuousClock()
        var began = clock.now
        var logits = try forward(prompt, cache: cache, logits: .last, routing: observer)[0]
        result.prefillSeconds = (clock.now - began).seconds
        began = clock.now
        while result.tokens.count < maxTokens {
            let next = sampler.next(logits)
            result.tokens.append(next)
            if result.tokens.count == 1 { began = clock.now }
            if let onToken = onToken, !onToken(next) { break }
            if stopTokens.contains(next) { result.stoppedAtEndOfSequence = true; break }
            if result.tokens.count == maxTokens { break }
            logits = try forward([next], cache: cache, logits: .last, routing: observer)[0]
        }
        result.decodeSeconds = (clock.now - began).seconds
        return result
    }
}

extension Duration {
    public var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) * 1e-18
    }
}

extension TransformerModel {
    /// The ids generation stops at by default, as transformers' `generate` does: `eos_token_id` from
    /// `generation_config.json`, else from `config.json` (an integer or a list).
    public var endOfSequenceTokens: Set<Int> {
        func ids(in url: URL) -> Set<Int>? {
            guard let data = FileManager.default.contents(atPath: url.path),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let value = object["eos_token_id"], !(value is NSNull) else { return nil }
            if let list = value as? [Any] { return Set(list.compactMap { $0 as? Int }) }
            if let id = value as? Int { return [id] }
            return nil
        }
        if let gguf = source as? GGUFWeights { return gguf.endOfSequenceTokens }
        guard let folder else { return [] }
        return ids(in: folder.url.appendingPathComponent("generation_config.json"))
            ?? ids(in: folder.configURL) ?? []
    }
}
