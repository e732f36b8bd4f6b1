/// Q3_K: 256 weights in 16 groups of 16, 3-bit q (2 low bits in qs, the third in hmask, stored
/// inverted: a set bit means no −4 offset) and 6-bit signed group scales (offset 32) packed in 12
/// bytes; w = (d · scale) · q. Layout: hmask (32), qs (64), scales (12), d.
public enum BlockQ3_K {
    public static func dequantize(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = halfToFloat(block, 108)
        var dl = [Float](repeating: 0, count: 16)
        for i in 0..<16 {
            let low = (byte(block, 96 + i % 8) >> UInt8(4 * (i / 8))) & 0x0F
            let high = (byte(block, 96 + 8 + i % 4) >> UInt8(2 * (i / 4))) & 0x03
            let scale = Int(Int8(bitPattern: low | high << 4)) - 32
            dl[i] = d * Float(scale)
        }
        for e in 0..<256 {
            let half = e / 128, shift = (e % 128) / 32, l = e % 32
            let low = Int((byte(block, 32 + half * 32 + l) >> UInt8(2 * shift)) & 3)
            let bit = Int((byte(block, l) >> UInt8(e / 32)) & 1) ^ 1
            out[e] = dl[e / 16] * Float(low - (bit << 2))
        }
    }
}
