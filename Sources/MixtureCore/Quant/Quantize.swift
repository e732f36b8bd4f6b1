/// Float rows into ggml blocks, as ggml's `ggml_quantize_chunk` writes them (the function
/// llama-quantize calls): with no importance weights, each type's deterministic reference
/// quantizer (`quantize_row_*_ref`); with weights (an importance matrix's column), its weighted
/// search (`quantize_row_*_impl`). Each is written to give ggml's bytes bit for bit: the same
/// float32 operations in the same order, no fused multiply-add (ggml-base is built without one).
public enum GGMLQuantize {
    /// The types `quantize` writes.
    public static let quantizable: [GGMLType] = [.f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K,
                                                 .q5_K, .q6_K, .iq4_NL, .iq4_XS, .mxfp4]

    /// Quantizes `rows` rows of `perRow` floats at `source` into `rows` rows of blocks at
    /// `destination` (`type.byteCount(elements: perRow)` bytes each). `importance`, when given,
    /// holds `perRow` non-negative weights shared by every row. `perRow` must be a whole number of
    /// the type's blocks. Returns false for a type not in `quantizable`.
    @discardableResult
    public static func quantize(_ type: GGMLType, _ source: UnsafePointer<Float>, rows: Int, perRow: Int,
                                into destination: UnsafeMutableRawPointer, importance: UnsafePointer<Float>? = nil) -> Bool {
        guard let rowBytes = type.byteCount(elements: perRow) else { return false }
        let (perBlock, blockBytes) = type.blockGeometry
        let blocks = perRow / perBlock
        for r in 0..<rows {
            let x = source + r * perRow, y = destination + r * rowBytes
            switch type {
            case .f32:
                y.copyMemory(from: x, byteCount: perRow * 4)
            case .f16:
                for i in 0..<perRow { y.storeBytes(of: Float16(x[i]).bitPattern, toByteOffset: 2 * i, as: UInt16.self) }
            case .bf16:
                for i in 0..<perRow { y.storeBytes(of: bf16RoundingNearestEven(x[i]), toByteOffset: 2 * i, as: UInt16.self) }
            case .q8_0:
                for b in 0..<blocks { QuantizeLegacy.q8_0(x + 32 * b, y + blockBytes * b) }
            case .q4_0, .q4_1, .q5_0, .q5_1:
                QuantizeLegacy.row(type, x, y, perRow: perRow, importance: importance)
            case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K:
                QuantizeK.row(type, x, y, perRow: perRow, importance: importance)
            case .iq4_NL, .iq4_XS, .mxfp4:
                QuantizeNonLinear.row(type, x, y, perRow: perRow, importance: importance)
            default:
                return false
            }
        }
        return true
    }

    /// ggml's `ggml_compute_fp32_to_bf16`: NaN kept quiet, otherwise round to nearest even.
    @inline(__always)
    static func bf16RoundingNearestEven(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if bits & 0x7fff_ffff > 0x7f80_0000 { return UInt16(truncatingIfNeeded: (bits >> 16) | 64) }
        return UInt16(truncatingIfNeeded: (bits &+ (0x7fff &+ ((bits >> 16) & 1))) >> 16)
    }

    /// ggml's `nearest_int`: round half to even through the 1.5·2^23 trick (|x| ≤ 4194303).
    @inline(__always)
    static func nearestInt(_ value: Float) -> Int32 {
        let shifted = value + 12582912
        return Int32(bitPattern: shifted.bitPattern & 0x007f_ffff) - 0x0040_0000
    }

    /// ggml's GGML_FP32_TO_FP16 (round to nearest even), as raw bits.
    @inline(__always)
    static func half(_ value: Float) -> UInt16 { Float16(value).bitPattern }
}
