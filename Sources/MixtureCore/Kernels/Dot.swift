import CMixtureSupport

/// Dot products between a weight row in its storage dtype and a `Float` activation vector.
/// Four independent accumulators hide FMA latency; the loads widen BF16/F16 on the fly, so a
/// matrix-vector product streams the weights at memory bandwidth.
public enum Dot {
    /// How far ahead (bytes) the 2-byte matrix-vector loops ask for weights. A 2048-column F16/BF16
    /// row is one 4 KB page and the hardware prefetchers stop at page boundaries; asking 1 KB ahead
    /// keeps the stream going across rows. Decode, same run A/B (`mixture bench`, OLMoE geometry):
    /// F16 +7%, BF16 +11%; 512 and 2048 bytes were slower than 1024.
    static let prefetchDistance = 1024

    @inline(__always)
    public static func product(_ weights: UnsafeRawPointer, _ dtype: DType, _ x: UnsafePointer<Float>, count: Int) -> Float {
        switch dtype {
        case .float32: return product(weights, x, count, as: Float32Storage.self)
        case .bfloat16: return product(weights, x, count, as: BFloat16Storage.self)
        case .float16: return product(weights, x, count, as: Float16Storage.self)
        }
    }

    /// One loop for every storage type; the generic parameter specialises it into a dedicated kernel.
    @inline(__always)
    static func product<S: WeightStorage>(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int, as _: S.Type) -> Float {
        let xr = UnsafeRawPointer(x)
        let size = S.byteSize
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
        var i = 0
        while i + 32 <= n {
            if size == 2 { mixture_prefetch(w + i * 2 + prefetchDistance) }
            a0.addProduct(S.load8(w + i * size), xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
            a1.addProduct(S.load8(w + (i + 8) * size), xr.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self))
            a2.addProduct(S.load8(w + (i + 16) * size), xr.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD8<Float>.self))
            a3.addProduct(S.load8(w + (i + 24) * size), xr.loadUnaligned(fromByteOffset: i * 4 + 96, as: SIMD8<Float>.self))
            i += 32
        }
        while i + 8 <= n {
            a0.addProduct(S.load8(w + i * size), xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
            i += 8
        }
        var sum = ((a0 + a1) + (a2 + a3)).sum()
        while i < n {
            sum += S.load1(w + i * size) * x[i]
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
            mixture_prefetch(w + i * 2 + prefetchDistance)
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
        product(UnsafeRawPointer(a), b, count, as: Float32Storage.self)
    }

    /// Scalar reference, kept for tests of the vector paths.
    public static func reference(_ weights: UnsafeRawPointer, _ dtype: DType, _ x: UnsafePointer<Float>, count: Int) -> Float {
        var sum: Double = 0
        for i in 0..<count { sum += Double(ScalarConversion.load(weights, i, as: dtype)) * Double(x[i]) }
        return Float(sum)
    }
}

/// A weight storage type: how to widen 8 (or 1) stored elements to Float.
protocol WeightStorage {
    static var byteSize: Int { get }
    static func load8(_ p: UnsafeRawPointer) -> SIMD8<Float>
    static func load1(_ p: UnsafeRawPointer) -> Float
}

enum Float32Storage: WeightStorage {
    static var byteSize: Int { 4 }
    @inline(__always) static func load8(_ p: UnsafeRawPointer) -> SIMD8<Float> { VectorLoad.float32x8(p) }
    @inline(__always) static func load1(_ p: UnsafeRawPointer) -> Float { p.loadUnaligned(as: Float.self) }
}

enum BFloat16Storage: WeightStorage {
    static var byteSize: Int { 2 }
    @inline(__always) static func load8(_ p: UnsafeRawPointer) -> SIMD8<Float> { VectorLoad.bfloat16x8(p) }
    @inline(__always) static func load1(_ p: UnsafeRawPointer) -> Float { ScalarConversion.float(fromBFloat16: p.loadUnaligned(as: UInt16.self)) }
}

enum Float16Storage: WeightStorage {
    static var byteSize: Int { 2 }
    @inline(__always) static func load8(_ p: UnsafeRawPointer) -> SIMD8<Float> { VectorLoad.float16x8(p) }
    @inline(__always) static func load1(_ p: UnsafeRawPointer) -> Float { ScalarConversion.float(fromFloat16: p.loadUnaligned(as: UInt16.self)) }
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
