/// Q5_0: 32 weights as 5-bit q (low 4 bits as Q4_0's nibbles, the fifth bit of weight i is bit i of
/// a little-endian u32 qh); w = d · (q − 16). Layout: d (2 bytes), qh (4), 16 nibble bytes.
public enum BlockQ5_0 {
    public static func dequantize(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = halfToFloat(block, 0)
        let qh = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
        for j in 0..<16 {
            let q = byte(block, 6 + j)
            let low = Int(q & 0x0F) | Int((qh >> UInt32(j)) & 1) << 4
            let high = Int(q >> 4) | Int((qh >> UInt32(j + 16)) & 1) << 4
            out[j] = d * Float(low - 16)
            out[j + 16] = d * Float(high - 16)
        }
    }
}

/// Q5_1: 5-bit q as Q5_0 with a minimum m; w = d · q + m. Layout: d, m, qh (4), 16 nibble bytes.
public enum BlockQ5_1 {
    public static func dequantize(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = halfToFloat(block, 0), m = halfToFloat(block, 2)
        let qh = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        for j in 0..<16 {
            let q = byte(block, 8 + j)
            let low = UInt32(q & 0x0F) | ((qh >> UInt32(j)) & 1) << 4
            let high = UInt32(q >> 4) | ((qh >> UInt32(j + 16)) & 1) << 4
            out[j] = d * Float(low) + m
            out[j + 16] = d * Float(high) + m
        }
    }
}
