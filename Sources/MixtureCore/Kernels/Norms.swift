import Foundation

public enum Norms {
    /// RMSNorm as transformers computes it: `weight * x / sqrt(mean(x²) + eps)`, in Float.
    public static func rms(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, eps: Float,
                           output: UnsafeMutablePointer<Float>, count: Int) {
        var sumSquares = SIMD8<Float>()
        var i = 0
        let xr = UnsafeRawPointer(x)
        while i + 8 <= count {
            let v = xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            sumSquares.addProduct(v, v)
            i += 8
        }
        var total = sumSquares.sum()
        while i < count { total += x[i] * x[i]; i += 1 }
        let scale = 1 / (total / Float(count) + eps).squareRoot()
        for j in 0..<count { output[j] = weight[j] * (x[j] * scale) }
    }

    /// LayerNorm: `(x - mean) / sqrt(var + eps) * weight + bias`.
    public static func layer(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, eps: Float,
                             output: UnsafeMutablePointer<Float>, count: Int) {
        var mean: Float = 0
        for j in 0..<count { mean += x[j] }
        mean /= Float(count)
        var variance: Float = 0
        for j in 0..<count { let d = x[j] - mean; variance += d * d }
        variance /= Float(count)
        let scale = 1 / (variance + eps).squareRoot()
        for j in 0..<count {
            output[j] = (x[j] - mean) * scale * weight[j] + (bias?[j] ?? 0)
        }
    }
}

public enum Activations {
    @inline(__always)
    public static func silu(_ x: Float) -> Float { x / (1 + Foundation.exp(-x)) }

    @inline(__always)
    public static func sigmoid(_ x: Float) -> Float { 1 / (1 + Foundation.exp(-x)) }

    /// `gate[i] = silu(gate[i]) * up[i]`, the gated MLP's inner product.
    public static func siluGate(_ gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { gate[i] = silu(gate[i]) * up[i] }
    }

    /// Exact GELU (erf form), as `hidden_act: gelu` in transformers.
    @inline(__always)
    public static func gelu(_ x: Float) -> Float { 0.5 * x * (1 + Foundation.erf(x * 0.70710678118654752)) }
}

public enum Softmax {
    /// In-place softmax over `count` values, max-subtracted for stability.
    public static func inPlace(_ x: UnsafeMutablePointer<Float>, count: Int) {
        guard count > 0 else { return }
        var maximum = -Float.infinity
        for i in 0..<count { maximum = max(maximum, x[i]) }
        var total: Float = 0
        for i in 0..<count {
            let e = Foundation.exp(x[i] - maximum)
            x[i] = e
            total += e
        }
        let inverse = 1 / total
        for i in 0..<count { x[i] *= inverse }
    }

    public static func of(_ values: [Float]) -> [Float] {
        var copy = values
        copy.withUnsafeMutableBufferPointer { inPlace($0.baseAddress!, count: $0.count) }
        return copy
    }
}

public enum TopK {
    /// Indices of the `k` largest values, largest first; ties go to the lower index (as torch.topk does on CPU).
    public static func indices(_ values: UnsafePointer<Float>, count: Int, k: Int) -> [Int] {
        var chosen: [Int] = []
        chosen.reserveCapacity(k)
        for i in 0..<count {
            let v = values[i]
            if chosen.count == k && !(v > values[chosen[k - 1]]) { continue }
            var position = chosen.count
            while position > 0 && v > values[chosen[position - 1]] { position -= 1 }
            chosen.insert(i, at: position)
            if chosen.count > k { chosen.removeLast() }
        }
        return chosen
    }

    public static func indices(_ values: [Float], k: Int) -> [Int] {
        values.withUnsafeBufferPointer { indices($0.baseAddress!, count: $0.count, k: k) }
    }
}
