/// Q6_K: 256 weights in 16 groups of 16, 6-bit q (4 low bits in ql, 2 high in qh) offset by 32, with
/// signed 8-bit group scales; w = (d · scale) · (q − 32). Layout: ql (128), qh (64), scales (16), d.
/// Weight 128·h + 64·n + m has nibble n of ql[64·h + m]; weight 128·h + 32·s + l has bits 2s..2s+1 of qh[32·h + l].
public enum BlockQ6_K {
    public static func dequantize(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = halfToFloat(block, 208)
        for e in 0..<256 {
            let half = e / 128, within = e % 128
            let low = (byte(block, half * 64 + within % 64) >> UInt8(4 * (within / 64))) & 0x0F
            let high = (byte(block, 128 + half * 32 + within % 32) >> UInt8(2 * (within / 32))) & 0x03
            let q = Int(Int8(bitPattern: low | high << 4)) - 32
            let scale = d * Float(Int8(bitPattern: byte(block, 192 + e / 16)))
            out[e] = scale * Float(q)
        }
    }
}
