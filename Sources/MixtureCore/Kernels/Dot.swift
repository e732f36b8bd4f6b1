/// Dot products between a weight row in its storage dtype and a `Float` activation vector.
/// Four independent accumulators hide FMA latency; the loads widen BF16/F16 on the fly, so a
/// matrix-vector product streams the weights at memory bandwidth.
public enum Dot {
    @inline(__always)
    public static func product(_ weights: UnsafeRawPointer, _ dtype: DType, _ x: UnsafePointer<Float>, count: Int) -> Float {
        switch dtype {
        case .float32: return float32(weights, x, count)
        case .bfloat16: return bfloat16(weights, x, count)
        case .float16: return float16(weights, x, count)
        }
    }

    @inline(__always)
    static func float32(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
        let xr = UnsafeRawPointer(x)
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
        var i = 0
        while i + 32 <= n {
            a0.addProduct(VectorLoad.float32x8(w + i * 4), VectorLoad.float32x8(xr + i * 4))
            a1.addProduct(VectorLoad.float32x8(w + i * 4 + 32), VectorLoad.float32x8(xr + i * 4 + 32))
            a2.addProduct(VectorLoad.float32x8(w + i * 4 + 64), VectorLoad.float32x8(xr + i * 4 + 64))
            a3.addProduct(VectorLoad.float32x8(w + i * 4 + 96), VectorLoad.float32x8(xr + i * 4 + 96))
            i += 32
        }
        while i + 8 <= n {
            a0.addProduct(VectorLoad.float32x8(w + i * 4), VectorLoad.float32x8(xr + i * 4))
            i += 8
        }
        var sum = ((a0 + a1) + (a2 + a3)).sum()
        while i < n {
            sum += w.loadUnaligned(fromByteOffset: i * 4, as: Float.self) * x[i]
            i += 1
        }
        return sum
    }

    @inline(__always)
    static func bfloat16(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
        let xr = UnsafeRawPointer(x)
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
        var i = 0
        while i + 32 <= n {
            a0.addProduct(VectorLoad.bfloat16x8(w + i * 2), VectorLoad.float32x8(xr + i * 4))
            a1.addProduct(VectorLoad.bfloat16x8(w + i * 2 + 16), VectorLoad.float32x8(xr + i * 4 + 32))
            a2.addProduct(VectorLoad.bfloat16x8(w + i * 2 + 32), VectorLoad.float32x8(xr + i * 4 + 64))
            a3.addProduct(VectorLoad.bfloat16x8(w + i * 2 + 48), VectorLoad.float32x8(xr + i * 4 + 96))
            i += 32
        }
        while i + 8 <= n {
            a0.addProduct(VectorLoad.bfloat16x8(w + i * 2), VectorLoad.float32x8(xr + i * 4))
            i += 8
        }
        var sum = ((a0 + a1) + (a2 + a3)).sum()
        while i < n {
            sum += ScalarConversion.float(fromBFloat16: w.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) * x[i]
            i += 1
        }
        return sum
    }

    @inline(__always)
    static func float16(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
        let xr = UnsafeRawPointer(x)
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
        var i = 0
        while i + 32 <= n {
            a0.addProduct(VectorLoad.float16x8(w + i * 2), VectorLoad.float32x8(xr + i * 4))
            a1.addProduct(VectorLoad.float16x8(w + i * 2 + 16), VectorLoad.float32x8(xr + i * 4 + 32))
            a2.addProduct(VectorLoad.float16x8(w + i * 2 + 32), VectorLoad.float32x8(xr + i * 4 + 64))
            a3.addProduct(VectorLoad.float16x8(w + i * 2 + 48), VectorLoad.float32x8(xr + i * 4 + 96))
            i += 32
        }
        while i + 8 <= n {
            a0.addProduct(VectorLoad.float16x8(w + i * 2), VectorLoad.float32x8(xr + i * 4))
            i += 8
        }
        var sum = ((a0 + a1) + (a2 + a3)).sum()
        while i < n {
            sum += ScalarConversion.float(fromFloat16: w.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) * x[i]
            i += 1
        }
        return sum
    }

    /// BF16 row · x, where `permuted` holds x reordered per block of 16 as the 8 even then the 8 odd
    /// elements (see `permuteForBFloat16`). Loading 16 weights as 8 UInt32 lanes then gives the even
    /// weights by a shift and the odd ones by a mask: no widening shuffle, one load for 16 weights.
    @inline(__always)
    public static func bfloat16Permuted(_ w: UnsafeRawPointer, _ permuted: UnsafePointer<Float>, _ x: UnsafePointer<Float>, count n: Int) -> Float {
        let xr = UnsafeRawPointer(permuted)
        let high = SIMD8<UInt32>(repeating: 0xFFFF_0000)
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
        var i = 0
        while i + 32 <= n {
            let v0 = w.loadUnaligned(fromByteOffset: i * 2, as: SIMD8<UInt32>.self)
            let v1 = w.loadUnaligned(fromByteOffset: i * 2 + 32, as: SIMD8<UInt32>.self)
            a0.addProduct(unsafeBitCast(v0 &<< 16, to: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
            a1.addProduct(unsafeBitCast(v0 & high, to: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self))
            a2.addProduct(unsafeBitCast(v1 &<< 16, to: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD8<Float>.self))
            a3.addProduct(unsafeBitCast(v1 & high, to: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 96, as: SIMD8<Float>.self))
            i += 32
        }
        while i + 16 <= n {
            let v0 = w.loadUnaligned(fromByteOffset: i * 2, as: SIMD8<UInt32>.self)
            a0.addProduct(unsafeBitCast(v0 &<< 16, to: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
            a1.addProduct(unsafeBitCast(v0 & high, to: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self))
            i += 16
        }
        var sum = ((a0 + a1) + (a2 + a3)).sum()
        while i < n {
            sum += ScalarConversion.float(fromBFloat16: w.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) * x[i]
            i += 1
        }
        return sum
    }

    /// Reorders each full block of 16 of `x` as its 8 even then 8 odd elements (the tail is copied as is).
    public static func permuteForBFloat16(_ x: UnsafePointer<Float>, count n: Int, into out: UnsafeMutablePointer<Float>) {
        var i = 0
        while i + 16 <= n {
            for j in 0..<8 {
                out[i + j] = x[i + 2 * j]
                out[i + 8 + j] = x[i + 2 * j + 1]
            }
            i += 16
        }
        while i < n { out[i] = x[i]; i += 1 }
    }

    /// `Float` · `Float`, for attention scores.
    @inline(__always)
    public static func product(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        float32(UnsafeRawPointer(a), b, count)
    }

    /// Scalar reference, kept for tests of the vector paths.
    public static func reference(_ weights: UnsafeRawPointer, _ dtype: DType, _ x: UnsafePointer<Float>, count: Int) -> Float {
        var sum: Double = 0
        for i in 0..<count { sum += Double(ScalarConversion.load(weights, i, as: dtype)) * Double(x[i]) }
        return Float(sum)
    }
}

extension SIMD8 where Scalar == Float {
    /// `self += a * b` as one fused multiply-add.
    @inline(__always)
    mutating func addProduct(_ a: SIMD8<Float>, _ b: SIMD8<Float>) {
        self = self.addingProduct(a, b)
    }
}

/// `y[i] += alpha * x[i]`.
@inline(__always)
public func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
    var i = 0
    let a = SIMD8<Float>(repeating: alpha)
    let xr = UnsafeRawPointer(x), yr = UnsafeMutableRawPointer(y)
    while i + 8 <= count {
        let v = yr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self).addingProduct(a, xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
        yr.storeBytes(of: v, toByteOffset: i * 4, as: SIMD8<Float>.self)
        i += 8
    }
    while i < count {
        y[i] += alpha * x[i]
        i += 1
    }
}
