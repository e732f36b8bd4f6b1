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
        let xr = UnsafeRawPointer(x)
        let vectorEnd = count & ~7
        var sum8 = SIMD8<Float>()
        var j = 0
        while j < vectorEnd { sum8 += xr.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self); j += 8 }
        var mean = sum8.sum()
        while j < count { mean += x[j]; j += 1 }
        mean /= Float(count)
        var squares8 = SIMD8<Float>()
        j = 0
        while j < vectorEnd {
            let d = xr.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self) - mean
            squares8.addProduct(d, d)
            j += 8
        }
        var variance = squares8.sum()
        while j < count { let d = x[j] - mean; variance += d * d; j += 1 }
        variance /= Float(count)
        let scale = 1 / (variance + eps).squareRoot()
        if let bias {
            for j in 0..<count { output[j] = (x[j] - mean) * scale * weight[j] + bias[j] }
        } else {
            for j in 0..<count { output[j] = (x[j] - mean) * scale * weight[j] }
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

    /// GELU over a buffer, eight lanes at a time. erf is Abramowitz & Stegun 7.1.26 (absolute
    /// error below 1.5e-7, about one Float ulp of erf near ±1) with a vector exp, instead of a
    /// libm call per element.
    public static func gelu(_ p: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count {
            let x = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(p + i).storeBytes(of: gelu8(x), as: SIMD8<Float>.self)
            i += 8
        }
        while i < count { p[i] = gelu(p[i]); i += 1 }
    }

    @inline(__always)
    static func gelu8(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let z = x * 0.70710678118654752
        let a = unsafeBitCast(unsafeBitCast(z, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: SIMD8<Float>.self)
        let one = SIMD8<Float>(repeating: 1)
        let t = one / (one + 0.3275911 * a)
        var poly = SIMD8<Float>(repeating: 1.061405429)
        poly = poly * t - 1.453152027
        poly = poly * t + 1.421413741
        poly = poly * t - 0.284496736
        poly = poly * t + 0.254829592
        poly = poly * t
        let erfAbs = one - poly * exp8(SIMD8<Float>() - a * a)
        let erf = erfAbs.replacing(with: 0 - erfAbs, where: z .< SIMD8<Float>())
        return 0.5 * x * (one + erf)
    }

    /// e^x for x in [-87, 88] (clamped), relative error about 2e-7: x = n·ln 2 + r with
    /// |r| ≤ ln 2 / 2, a degree-6 polynomial for e^r, 2^n from the exponent bits.
    @inline(__always)
    static func exp8(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let lo = SIMD8<Float>(repeating: -87), hi = SIMD8<Float>(repeating: 88)
        let x = x.replacing(with: lo, where: x .< lo).replacing(with: hi, where: x .> hi)
        let n = (x * 1.4426950408889634).rounded(.toNearestOrEven)
        let r = x - n * 0.693359375 + n * 2.12194440e-4
        let c6: Float = 1.0 / 720, c5: Float = 1.0 / 120, c4: Float = 1.0 / 24, c3: Float = 1.0 / 6
        var p = SIMD8<Float>(repeating: c6)
        p = p * r + c5
        p = p * r + c4
        p = p * r + c3
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        // 2^n: n + 1.5·2^23 puts n in the low mantissa bits; shift it into the exponent field.
        let shifted = unsafeBitCast(n + 12_582_912, to: SIMD8<Int32>.self) &- 0x4B40_0000
        let bits = (shifted &+ 127) &<< 23
        return p * unsafeBitCast(bits, to: SIMD8<Float>.self)
    }
}

public enum Softmax {
    /// In-place softmax over `count` values, max-subtracted for stability.
    public static func inPlace(_ x: UnsafeMutablePointer<Float>, count: Int) {
        guard count > 0 else { return }
        var maximum = -Float.infinity
        for i in 0..<count { maximum = max(maximum, x[i]) }
        var total8 = SIMD8<Float>()
        var i = 0
        while i + 8 <= count {
            let e = Activations.exp8(UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self) - maximum)
            UnsafeMutableRawPointer(x + i).storeBytes(of: e, as: SIMD8<Float>.self)
            total8 += e
            i += 8
        }
        var total = total8.sum()
        while i < count {
            let e = Foundation.exp(x[i] - maximum)
            x[i] = e
            total += e
            i += 1
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
