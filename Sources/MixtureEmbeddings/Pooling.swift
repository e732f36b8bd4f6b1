import Foundation
import MixtureCore
import MixtureFormats

/// The sentence-transformers Pooling module: token embeddings of one sequence → one sentence
/// embedding. Several modes concatenate their results in the order listed.
public struct Pooling: Sendable, Equatable {
    public enum Mode: String, Sendable, CaseIterable {
        /// The first token ([CLS]).
        case cls
        /// Element-wise maximum over tokens.
        case max
        /// Mean over tokens.
        case mean
        /// Sum over tokens divided by √(token count).
        case meanSqrtLengthTokens = "mean_sqrt_len_tokens"
        /// Mean weighted by position, 1 for the first token up to n for the last.
        case weightedMean = "weightedmean"
        /// The last token.
        case lastToken = "lasttoken"
    }

    /// The legacy boolean keys of `1_Pooling/config.json`, in the order sentence-transformers reads them.
    static let legacyKeys: [(key: String, mode: Mode)] = [
        ("pooling_mode_cls_token", .cls), ("pooling_mode_max_tokens", .max), ("pooling_mode_mean_tokens", .mean),
        ("pooling_mode_mean_sqrt_len_tokens", .meanSqrtLengthTokens),
        ("pooling_mode_weightedmean_tokens", .weightedMean), ("pooling_mode_lasttoken", .lastToken),
    ]

    public let modes: [Mode]
    public let embeddingDimension: Int

    public init(modes: [Mode], embeddingDimension: Int) {
        precondition(!modes.isEmpty, "pooling needs at least one mode")
        self.modes = modes
        self.embeddingDimension = embeddingDimension
    }

    /// Reads `1_Pooling/config.json`, in the current form (`pooling_mode`: a name or a list of names)
    /// or the legacy one (`pooling_mode_*_tokens` booleans; none set means mean).
    public init(config c: JSONConfig) throws {
        let dimensionKey = c.has("embedding_dimension") ? "embedding_dimension" : "word_embedding_dimension"
        embeddingDimension = try c.int(dimensionKey)
        let valid = Mode.allCases.map(\.rawValue).joined(separator: ", ")
        func mode(_ name: String) throws -> Mode {
            guard let m = Mode(rawValue: name) else {
                throw MixtureError.invalidConfig(path: c.path, field: "pooling_mode",
                                                 reason: "unknown pooling mode '\(name)' (valid: \(valid))")
            }
            return m
        }
        if c.has("pooling_mode") {
            if let name = c.values["pooling_mode"] as? String {
                modes = [try mode(name)]
            } else if let names = c.values["pooling_mode"] as? [String], !names.isEmpty {
                modes = try names.map(mode)
            } else {
                throw MixtureError.invalidConfig(path: c.path, field: "pooling_mode",
                                                 reason: "expected a mode name or a non-empty list of names (valid: \(valid))")
            }
        } else {
            for key in c.values.keys where key.hasPrefix("pooling_mode_") && !Self.legacyKeys.contains(where: { $0.key == key }) {
                if try c.bool(key, default: false) {
                    throw MixtureError.invalidConfig(path: c.path, field: key, reason: "unknown pooling mode (valid: \(valid))")
                }
            }
            let chosen = try Self.legacyKeys.filter { try c.bool($0.key, default: false) }.map(\.mode)
            modes = chosen.isEmpty ? [.mean] : chosen
        }
    }

    /// Length of the pooled vector.
    public var outputDimension: Int { modes.count * embeddingDimension }

    /// Pools `count` rows of `width` floats (one sequence's token embeddings, no padding).
    public func pool(_ rows: UnsafePointer<Float>, count n: Int, width: Int) -> [Float] {
        precondition(n > 0)
        var result: [Float] = []
        result.reserveCapacity(modes.count * width)
        func row(_ t: Int) -> UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: rows + t * width, count: width) }
        func weightedSum(_ weight: (Int) -> Float) -> [Float] {
            var sum = [Float](repeating: 0, count: width)
            for t in 0..<n { axpy(weight(t), rows + t * width, &sum, count: width) }
            return sum
        }
        for mode in modes {
            switch mode {
            case .cls:
                result += row(0)
            case .lastToken:
                result += row(n - 1)
            case .max:
                var maximum = Array(row(0))
                for t in 1..<max(1, n) { for (j, value) in row(t).enumerated() { maximum[j] = Swift.max(maximum[j], value) } }
                result += maximum
            case .mean:
                result += weightedSum { _ in 1 }.map { $0 / Float(n) }
            case .meanSqrtLengthTokens:
                result += weightedSum { _ in 1 }.map { $0 / Float(n).squareRoot() }
            case .weightedMean:
                let totalWeight = Float(n * (n + 1) / 2)
                result += weightedSum { Float($0 + 1) }.map { $0 / totalWeight }
            }
        }
        return result
    }
}

/// The Normalize module: divides by the L2 norm (at least 1e-12, as `torch.nn.functional.normalize`).
public func l2Normalized(_ vector: [Float]) -> [Float] {
    var squares: Float = 0
    for v in vector { squares += v * v }
    let norm = Swift.max(squares.squareRoot(), 1e-12)
    return vector.map { $0 / norm }
}
