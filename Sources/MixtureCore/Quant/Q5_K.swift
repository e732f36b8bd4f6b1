/// Q5_K: Q4_K with a fifth bit per weight: bit j of qh[l] for weight l of group j.
/// Layout: d, dmin, scales (12), qh (32), qs (128).
public enum BlockQ5_K {
    public static func dequantize(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = halfToFloat(block, 0), dmin = halfToFloat(block, 2)
        for j in 0..<8 {
            let (scale, minimum) = BlockQ4_K.scaleAndMinimum(block + 4, j)
            let dj = d * Float(scale), mj = dmin * Float(minimum)
            let chunk = j / 2, shift = UInt8(4 * (j % 2))
            for l in 0..<32 {
                let low = (byte(block, 48 + chunk * 32 + l) >> shift) & 0x0F
                let high = (byte(block, 16 + l) >> UInt8(j)) & 1
                out[j * 32 + l] = dj * Float(low | high << 4) - mj
            }
        }
    }
}
