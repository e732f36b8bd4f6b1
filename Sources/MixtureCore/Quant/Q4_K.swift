/// Q4_K: 256 weights in 8 groups of 32, 4-bit q; each group has a 6-bit scale and a 6-bit minimum
/// packed in 12 bytes, applied through the F16 super-scales: w = (d · scale) · q − (dmin · min).
/// Layout: d, dmin, scales (12), qs (128): group 2c + n is nibble n of qs[32c ..< 32c + 32].
public enum BlockQ4_K {
    /// The 6-bit scale and minimum of group j (0..<8) from the 12 packed bytes at `scales`.
    @inline(__always)
    static func scaleAndMinimum(_ scales: UnsafeRawPointer, _ j: Int) -> (scale: UInt8, minimum: UInt8) {
        if j < 4 {
            return (byte(scales, j) & 0x3F, byte(scales, 4 + j) & 0x3F)
        }
        let packed = byte(scales, 8 + j - 4)
        return ((packed & 0x0F) | ((byte(scales, j - 4) >> 2) & 0x30), (packed >> 4) | ((byte(scales, j) >> 2) & 0x30))
    }

    public static func dequantize(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = halfToFloat(block, 0), dmin = halfToFloat(block, 2)
        for j in 0..<8 {
            let (scale, minimum) = scaleAndMinimum(block + 4, j)
            let dj = d * Float(scale), mj = dmin * Float(minimum)
            let chunk = j / 2, shift = UInt8(4 * (j % 2))
            for l in 0..<32 {
                let q = (byte(block, 16 + chunk * 32 + l) >> shift) & 0x0F
                out[j * 32 + l] = dj * Float(q) - mj
            }
        }
    }
}
