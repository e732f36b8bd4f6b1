/// The tensor element types of GGUF files (ggml's `ggml_type`, the numbers stored in the file),
/// with their block geometry. Each quantized block format has its own file here holding its layout
/// and a scalar dequantizer, written to give gguf-py's `dequantize` bit for bit (same float32
/// operations in the same order).
public enum GGMLType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9
    case q2_K = 10, q3_K = 11, q4_K = 12, q5_K = 13, q6_K = 14, q8_K = 15
    case iq2_XXS = 16, iq2_XS = 17, iq3_XXS = 18, iq1_S = 19, iq4_NL = 20, iq3_S = 21, iq2_S = 22, iq4_XS = 23
    case i8 = 24, i16 = 25, i32 = 26, i64 = 27, f64 = 28, iq1_M = 29, bf16 = 30
    case tq1_0 = 34, tq2_0 = 35, mxfp4 = 39, nvfp4 = 40, q1_0 = 41

    /// ggml's name (`Q4_K`, `IQ4_XS`, ...).
    public var description: String {
        switch self {
        case .f32: return "F32"
        case .f16: return "F16"
        case .q4_0: return "Q4_0"
        case .q4_1: return "Q4_1"
        case .q5_0: return "Q5_0"
        case .q5_1: return "Q5_1"
        case .q8_0: return "Q8_0"
        case .q8_1: return "Q8_1"
        case .q2_K: return "Q2_K"
        case .q3_K: return "Q3_K"
        case .q4_K: return "Q4_K"
        case .q5_K: return "Q5_K"
        case .q6_K: return "Q6_K"
        case .q8_K: return "Q8_K"
        case .iq2_XXS: return "IQ2_XXS"
        case .iq2_XS: return "IQ2_XS"
        case .iq3_XXS: return "IQ3_XXS"
        case .iq1_S: return "IQ1_S"
        case .iq4_NL: return "IQ4_NL"
        case .iq3_S: return "IQ3_S"
        case .iq2_S: return "IQ2_S"
        case .iq4_XS: return "IQ4_XS"
        case .i8: return "I8"
        case .i16: return "I16"
        case .i32: return "I32"
        case .i64: return "I64"
        case .f64: return "F64"
        case .iq1_M: return "IQ1_M"
        case .bf16: return "BF16"
        case .tq1_0: return "TQ1_0"
        case .tq2_0: return "TQ2_0"
        case .mxfp4: return "MXFP4"
        case .nvfp4: return "NVFP4"
        case .q1_0: return "Q1_0"
        }
    }

    /// Elements per block and bytes per block (gguf-py's GGML_QUANT_SIZES).
    public var blockGeometry: (elements: Int, bytes: Int) {
        let k = 256
        switch self {
        case .f32, .i32: return (1, 4)
        case .f16, .bf16, .i16: return (1, 2)
        case .f64, .i64: return (1, 8)
        case .i8: return (1, 1)
        case .q4_0: return (32, 2 + 16)
        case .q4_1: return (32, 2 + 2 + 16)
        case .q5_0: return (32, 2 + 4 + 16)
        case .q5_1: return (32, 2 + 2 + 4 + 16)
        case .q8_0: return (32, 2 + 32)
        case .q8_1: return (32, 4 + 4 + 32)
        case .q2_K: return (k, 2 + 2 + k / 16 + k / 4)
        case .q3_K: return (k, 2 + k / 4 + k / 8 + 12)
        case .q4_K: return (k, 2 + 2 + k / 2 + 12)
        case .q5_K: return (k, 2 + 2 + k / 2 + k / 8 + 12)
        case .q6_K: return (k, 2 + k / 2 + k / 4 + k / 16)
        case .q8_K: return (k, 4 + k + k / 8)
        case .iq2_XXS: return (k, 2 + k / 4)
        case .iq2_XS: return (k, 2 + k / 4 + k / 32)
        case .iq3_XXS: return (k, 2 + k / 4 + k / 8)
        case .iq1_S: return (k, 2 + k / 8 + k / 16)
        case .iq4_NL: return (32, 2 + 16)
        case .iq3_S: return (k, 2 + k / 4 + k / 8 + k / 32 + 4)
        case .iq2_S: return (k, 2 + k / 4 + k / 16)
        case .iq4_XS: return (k, 2 + 2 + k / 2 + k / 64)
        case .iq1_M: return (k, k / 8 + k / 16 + k / 32)
        case .tq1_0: return (k, 2 + 4 * 13)
        case .tq2_0: return (k, 2 + 64)
        case .mxfp4: return (32, 1 + 16)
        case .nvfp4: return (64, 4 + 32)
        case .q1_0: return (128, 2 + 16)
        }
    }

    /// Bytes of `elements` elements (a whole number of blocks), or nil when `elements` is not one
    /// or the size overflows.
    public func byteCount(elements: Int) -> Int? {
        let (perBlock, bytes) = blockGeometry
        guard elements >= 0, elements % perBlock == 0 else { return nil }
        let (total, overflow) = (elements / perBlock).multipliedReportingOverflow(by: bytes)
        return overflow ? nil : total
    }

    /// Converts `count` elements (whole blocks) starting at `source` into Float, or returns false for
    /// a type without a dequantizer here.
    @discardableResult
    public func dequantize(_ source: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>) -> Bool {
        let (perBlock, bytes) = blockGeometry
        let blocks = count / perBlock
        func each(_ body: (UnsafeRawPointer, UnsafeMutablePointer<Float>) -> Void) {
            for b in 0..<blocks { body(source + b * bytes, output + b * perBlock) }
        }
        switch self {
        case .f32:
            UnsafeMutableRawPointer(output).copyMemory(from: source, byteCount: count * 4)
        case .f16:
            for i in 0..<count { output[i] = Float(Float16(bitPattern: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
        case .bf16:
            for i in 0..<count { output[i] = Float(bitPattern: UInt32(source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16) }
        case .q4_0: each(BlockQ4_0.dequantize)
        case .q4_1: each(BlockQ4_1.dequantize)
        case .q5_0: each(BlockQ5_0.dequantize)
        case .q5_1: each(BlockQ5_1.dequantize)
        case .q8_0: each(BlockQ8_0.dequantize)
        case .q2_K: each(BlockQ2_K.dequantize)
        case .q3_K: each(BlockQ3_K.dequantize)
        case .q4_K: each(BlockQ4_K.dequantize)
        case .q5_K: each(BlockQ5_K.dequantize)
        case .q6_K: each(BlockQ6_K.dequantize)
        case .iq4_NL: each(BlockIQ4_NL.dequantize)
        case .iq4_XS: each(BlockIQ4_XS.dequantize)
        case .mxfp4: each(BlockMXFP4.dequantize)
        default: return false
        }
        return true
    }

    /// The types `dequantize` converts.
    public static let dequantizable: [GGMLType] = [.f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K,
                                                   .q5_K, .q6_K, .iq4_NL, .iq4_XS, .mxfp4]
}

@inline(__always)
func halfToFloat(_ block: UnsafeRawPointer, _ offset: Int) -> Float {
    Float(Float16(bitPattern: block.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
}

@inline(__always)
func byte(_ block: UnsafeRawPointer, _ offset: Int) -> UInt8 {
    block.load(fromByteOffset: offset, as: UInt8.self)
}
