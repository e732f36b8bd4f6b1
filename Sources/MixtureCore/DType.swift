/// Element types that weights may be stored in. Computation is always in `Float`.
public enum DType: String, Sendable, CaseIterable, CustomStringConvertible {
    case float32 = "F32"
    case float16 = "F16"
    case bfloat16 = "BF16"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .float32: return 4
        case .float16, .bfloat16: return 2
        }
    }

    public var description: String { rawValue }

    /// The name transformers uses in `config.json` (`torch_dtype` / `dtype`).
    public var torchName: String {
        switch self {
        case .float32: return "float32"
        case .float16: return "float16"
        case .bfloat16: return "bfloat16"
        }
    }

    /// Parses a safetensors dtype code or a torch dtype name.
    public init?(name: String) {
        switch name.lowercased() {
        case "f32", "float32", "float": self = .float32
        case "f16", "float16", "half": self = .float16
        case "bf16", "bfloat16": self = .bfloat16
        default: return nil
        }
    }
}

/// Scalar conversions between the storage types and `Float`.
public enum ScalarConversion {
    @inline(__always)
    public static func float(fromBFloat16 bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// Round-to-nearest-even, as torch does when casting float32 to bfloat16.
    @inline(__always)
    public static func bfloat16Bits(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: (bits >> 16) | 0x0040) }
        let rounding = ((bits >> 16) & 1) &+ 0x7FFF
        return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
    }

    @inline(__always)
    public static func float(fromFloat16 bits: UInt16) -> Float {
        Float(Float16(bitPattern: bits))
    }

    @inline(__always)
    public static func float16Bits(from value: Float) -> UInt16 {
        Float16(value).bitPattern
    }

    /// Reads element `index` of a buffer stored as `dtype`.
    @inline(__always)
    public static func load(_ base: UnsafeRawPointer, _ index: Int, as dtype: DType) -> Float {
        switch dtype {
        case .float32: return base.loadUnaligned(fromByteOffset: index * 4, as: Float.self)
        case .float16: return float(fromFloat16: base.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self))
        case .bfloat16: return float(fromBFloat16: base.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self))
        }
    }

    /// Converts `count` elements stored as `dtype` into `Float`s.
    public static func convert(_ source: UnsafeRawPointer, dtype: DType, count: Int, into destination: UnsafeMutablePointer<Float>) {
        var i = 0
        switch dtype {
        case .float32:
            destination.update(from: source.assumingMemoryBound(to: Float.self), count: count)
            return
        case .bfloat16:
            while i + 8 <= count {
                let v = VectorLoad.bfloat16x8(source + i * 2)
                UnsafeMutableRawPointer(destination + i).storeBytes(of: v, as: SIMD8<Float>.self)
                i += 8
            }
        case .float16:
            while i + 8 <= count {
                let v = VectorLoad.float16x8(source + i * 2)
                UnsafeMutableRawPointer(destination + i).storeBytes(of: v, as: SIMD8<Float>.self)
                i += 8
            }
        }
        while i < count {
            destination[i] = load(source, i, as: dtype)
            i += 1
        }
    }
}

/// Eight-lane loads that widen the storage type to `Float`.
public enum VectorLoad {
    @inline(__always)
    public static func float32x8(_ p: UnsafeRawPointer) -> SIMD8<Float> {
        p.loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always)
    public static func bfloat16x8(_ p: UnsafeRawPointer) -> SIMD8<Float> {
        // Spelled element by element: the generic widening initialiser is an out-of-line call across
        // modules, while this folds into one vpmovzxwd.
        let h = p.loadUnaligned(as: SIMD8<UInt16>.self)
        let widened = SIMD8<UInt32>(UInt32(h[0]), UInt32(h[1]), UInt32(h[2]), UInt32(h[3]),
                                    UInt32(h[4]), UInt32(h[5]), UInt32(h[6]), UInt32(h[7])) &<< 16
        return unsafeBitCast(widened, to: SIMD8<Float>.self)
    }

    @inline(__always)
    public static func float16x8(_ p: UnsafeRawPointer) -> SIMD8<Float> {
        // Element by element for the same reason as bfloat16x8: folds into one vcvtph2ps.
        let h = p.loadUnaligned(as: SIMD8<Float16>.self)
        return SIMD8<Float>(Float(h[0]), Float(h[1]), Float(h[2]), Float(h[3]), Float(h[4]), Float(h[5]), Float(h[6]), Float(h[7]))
    }
}
