import Foundation

/// Rotary position embedding in the "rotate half" layout transformers uses: dimension `i` pairs
/// with `i + rotaryDim/2`.
public struct RotaryEmbedding: Sendable {
    /// Inverse frequency per pair, in Float as transformers computes it.
    public let inverseFrequencies: [Float]
    public let rotaryDimension: Int
    /// Multiplier applied to cos and sin (`attention_scaling`; 1 for default and llama3 scaling).
    public let attentionScaling: Float

    public struct Llama3Scaling: Sendable {
        public var factor: Double
        public var lowFrequencyFactor: Double
        public var highFrequencyFactor: Double
        public var originalMaxPositions: Double
        public init(factor: Double, lowFrequencyFactor: Double, highFrequencyFactor: Double, originalMaxPositions: Double) {
            self.factor = factor
            self.lowFrequencyFactor = lowFrequencyFactor
            self.highFrequencyFactor = highFrequencyFactor
            self.originalMaxPositions = originalMaxPositions
        }
    }

    public enum Scaling: Sendable {
        case none
        case linear(factor: Double)
        case llama3(Llama3Scaling)
        /// Each inverse frequency divided by its factor (llama.cpp's `rope_freqs` tensor, which its
        /// converter writes for llama3-style scaling).
        case frequencyFactors([Float])
    }

    public init(rotaryDimension: Int, theta: Double, scaling: Scaling = .none) {
        self.rotaryDimension = rotaryDimension
        self.attentionScaling = 1
        let half = rotaryDimension / 2
        // 1 / theta^(2i/d), exponent and power in Float like torch's int64 arange .float() / dim.
        var frequencies = (0..<half).map { i -> Float in
            let exponent = Float(2 * i) / Float(rotaryDimension)
            return 1 / Float(pow(Float(theta), exponent))
        }
        switch scaling {
        case .none:
            break
        case .linear(let factor):
            frequencies = frequencies.map { $0 / Float(factor) }
        case .frequencyFactors(let factors):
            for i in frequencies.indices where i < factors.count { frequencies[i] /= factors[i] }
        case .llama3(let s):
            let lowWavelength = s.originalMaxPositions / s.lowFrequencyFactor
            let highWavelength = s.originalMaxPositions / s.highFrequencyFactor
            frequencies = frequencies.map { f -> Float in
                // Float throughout, as transformers' _compute_llama3_parameters.
                let wavelength = 2 * Float.pi / f
                let scaled: Float = wavelength > Float(lowWavelength) ? f / Float(s.factor) : f
                let isMedium = !(wavelength < Float(highWavelength)) && !(wavelength > Float(lowWavelength))
                if !isMedium { return scaled }
                let smooth = (Float(s.originalMaxPositions) / wavelength - Float(s.lowFrequencyFactor))
                    / Float(s.highFrequencyFactor - s.lowFrequencyFactor)
                return (1 - smooth) * scaled / Float(s.factor) + smooth * scaled
            }
        }
        inverseFrequencies = frequencies
    }

    /// cos and sin for one position: `count = rotaryDimension / 2` each.
    public func angles(position: Int, cos: UnsafeMutablePointer<Float>, sin: UnsafeMutablePointer<Float>) {
        let p = Float(position)
        for i in 0..<inverseFrequencies.count {
            let angle = Double(p * inverseFrequencies[i])
            cos[i] = Float(Foundation.cos(angle)) * attentionScaling
            sin[i] = Float(Foundation.sin(angle)) * attentionScaling
        }
    }

    /// Rotates `heads` vectors of `headDimension` floats (only the first `rotaryDimension` of each).
    public func apply(_ x: UnsafeMutablePointer<Float>, heads: Int, headDimension: Int,
                      cos: UnsafePointer<Float>, sin: UnsafePointer<Float>) {
        let half = rotaryDimension / 2
        for h in 0..<heads {
            let v = x + h * headDimension
            for i in 0..<half {
                let a = v[i], b = v[i + half]
                v[i] = a * cos[i] - b * sin[i]
                v[i + half] = b * cos[i] + a * sin[i]
            }
        }
    }
}
