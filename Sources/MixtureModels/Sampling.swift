import Foundation
import MixtureCore

/// How the next token is picked from logits. `temperature == 0` is greedy (argmax). Otherwise the
/// filters apply in transformers' order: temperature, top-k, top-p, min-p; then one draw from the
/// seeded generator, so the same seed gives the same output.
public struct SamplingParameters: Sendable {
    public var temperature: Float
    /// Keep only the `topK` most likely tokens (0 = off).
    public var topK: Int
    /// Keep the smallest set of tokens whose probability reaches `topP` (1 = off).
    public var topP: Float
    /// Drop tokens less likely than `minP` × the most likely one's probability (0 = off).
    public var minP: Float
    public var seed: UInt64

    public init(temperature: Float = 0, topK: Int = 0, topP: Float = 1, minP: Float = 0, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.seed = seed
    }

    public static let greedy = SamplingParameters()

    public func validate() throws {
        guard temperature >= 0, temperature.isFinite else { throw MixtureError.invalidArgument("--temperature must be ≥ 0, got \(temperature)") }
        guard topK >= 0 else { throw MixtureError.invalidArgument("--top-k must be ≥ 0, got \(topK)") }
        guard topP > 0, topP <= 1 else { throw MixtureError.invalidArgument("--top-p must be in (0, 1], got \(topP)") }
        guard minP >= 0, minP <= 1 else { throw MixtureError.invalidArgument("--min-p must be in [0, 1], got \(minP)") }
    }
}

public struct Sampler: Sendable {
    public let parameters: SamplingParameters
    private var generator: SeededGenerator

    public init(_ parameters: SamplingParameters) {
        self.parameters = parameters
        generator = SeededGenerator(seed: parameters.seed)
    }

    public static func argmax(_ logits: [Float]) -> Int {
        var best = 0
        for i in 1..<logits.count where logits[i] > logits[best] { best = i }
        return best
    }

    public mutating func next(_ logits: [Float]) -> Int {
        let p = parameters
        if p.temperature == 0 { return Self.argmax(logits) }
        // Candidates sorted by logit, highest first (ties: lower id first).
        var order = Array(logits.indices)
        order.sort { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
        if p.topK > 0 && p.topK < order.count { order.removeSubrange(p.topK...) }
        let maximum = Double(logits[order[0]]) / Double(p.temperature)
        var probabilities = order.map { Foundation.exp(Double(logits[$0]) / Double(p.temperature) - maximum) }
        var total = probabilities.reduce(0, +)
        probabilities = probabilities.map { $0 / total }
        if p.topP < 1 {
            var cumulative = 0.0
            var keep = probabilities.count
            for (i, q) in probabilities.enumerated() {
                cumulative += q
                if cumulative >= Double(p.topP) { keep = i + 1; break }
            }
            order.removeSubrange(keep...)
            probabilities.removeSubrange(keep...)
        }
        if p.minP > 0 {
            let threshold = Double(p.minP) * probabilities[0]
            let keep = max(1, probabilities.firstIndex { $0 < threshold } ?? probabilities.count)
            order.removeSubrange(keep...)
            probabilities.removeSubrange(keep...)
        }
        total = probabilities.reduce(0, +)
        var draw = generator.nextUnit() * total
        for (i, q) in probabilities.enumerated() {
            draw -= q
            if draw < 0 { return order[i] }
        }
        return order[order.count - 1]
    }
}
