/// Q4_0: 32 weights as 4-bit q with one F16 scale d; w = d · (q − 8).
/// Layout: d (2 bytes), then 16 bytes whose low nibbles are weights 0-15 and high nibbles 16-31.
public enum BlockQ4_0 {
    public static func dequantize(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = halfToFloat(block, 0)
        for j in 0..<16 {
            let q = byte(block, 2 + j)
            out[j] = d * Float(Int(q & 0x0F) - 8)
            out[j + 16] = d * Float(Int(q >> 4) - 8)
        }
    }
}

/// Q4_1: 4-bit q with an F16 scale d and minimum m; w = d · q + m. Layout: d, m, 16 nibble bytes as Q4_0.
public enum BlockQ4_1 {
    public static func dequantize(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = halfToFloat(block, 0), m = halfToFloat(block, 2)
        for j in 0..<16 {
            let q = byte(block, 4 + j)
            out[j] = d * Float(q & 0x0F) + m
            out[j + 16] = d * Float(q >> 4) + m
        }
    }
}
