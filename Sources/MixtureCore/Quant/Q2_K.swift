/// Q2_K: 256 weights in 16 groups of 16, 2-bit q; each group has a 4-bit scale and a 4-bit minimum
/// (one byte: scale low, minimum high) applied through the F16 super-scales d and dmin:
/// w = (d · scale) · q − (dmin · min). Layout: scales (16), qs (64), d, dmin. Weight 128·h + 32·s + l
/// is bits 2s..2s+1 of qs[32·h + l].
public enum BlockQ2_K {
    public static func dequantize(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = halfToFloat(block, 80), dmin = halfToFloat(block, 82)
        for e in 0..<256 {
            let half = e / 128, shift = (e % 128) / 32, l = e % 32
            let q = (byte(block, 16 + half * 32 + l) >> UInt8(2 * shift)) & 3
            let scale = byte(block, e / 16)
            let dl = d * Float(scale & 0x0F), ml = dmin * Float(scale >> 4)
            out[e] = dl * Float(q) - ml
        }
    }
}
