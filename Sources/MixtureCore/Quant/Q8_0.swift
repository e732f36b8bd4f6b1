/// Q8_0: 32 weights as signed bytes with one F16 scale; w = q · d. Layout: d (2 bytes), 32 int8.
public enum BlockQ8_0 {
    public static func dequantize(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = halfToFloat(block, 0)
        for j in 0..<32 {
            out[j] = Float(Int8(bitPattern: byte(block, 2 + j))) * d
        }
    }
}
