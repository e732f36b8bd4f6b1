/// MXFP4 (OCP microscaling): 32 FP4 (E2M1) weights sharing one E8M0 exponent byte. The E2M1 values
/// are stored doubled, so the scale is half of 2^(e − 127); w = scale · value.
/// Layout: e (1 byte), 16 nibble bytes as Q4_0.
public enum BlockMXFP4 {
    static let values: [Int8] = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12]

    /// 2^(e − 128) as ggml_e8m0_to_fp32_half computes it (subnormal for e < 2).
    @inline(__always)
    static func halfScale(_ e: UInt8) -> Float {
        Float(bitPattern: e < 2 ? UInt32(0x0020_0000) << UInt32(e) : UInt32(e - 1) << 23)
    }

    public static func dequantize(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = halfScale(byte(block, 0))
        for j in 0..<16 {
            let q = byte(block, 1 + j)
            out[j] = d * Float(values[Int(q & 0x0F)])
            out[j + 16] = d * Float(values[Int(q >> 4)])
        }
    }
}
