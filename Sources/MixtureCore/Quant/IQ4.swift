/// The non-linear 4-bit grid of IQ4_NL and IQ4_XS.
let iq4Values: [Int8] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]

/// IQ4_NL: 32 weights as 4-bit indices into `iq4Values`, with an F16 scale; w = d · value.
/// Layout: d, 16 nibble bytes as Q4_0.
public enum BlockIQ4_NL {
    public static func dequantize(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = halfToFloat(block, 0)
        for j in 0..<16 {
            let q = byte(block, 2 + j)
            out[j] = d * Float(iq4Values[Int(q & 0x0F)])
            out[j + 16] = d * Float(iq4Values[Int(q >> 4)])
        }
    }
}

/// IQ4_XS: 256 weights in 8 groups of 32 as IQ4_NL indices, with 6-bit signed group scales (offset 32:
/// low 4 bits in scales_l, high 2 in the u16 scales_h); w = (d · scale) · value.
/// Layout: d, scales_h (2), scales_l (4), qs (128): group j's weights are qs[16j ..< 16j + 16], low nibbles first.
public enum BlockIQ4_XS {
    public static func dequantize(_ block: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let d = halfToFloat(block, 0)
        let scalesHigh = UInt16(littleEndian: block.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
        for j in 0..<8 {
            let low = (byte(block, 4 + j / 2) >> UInt8(4 * (j % 2))) & 0x0F
            let high = UInt8((scalesHigh >> UInt16(2 * j)) & 0x03)
            let dl = d * Float(Int(Int8(bitPattern: low | high << 4)) - 32)
            for m in 0..<16 {
                let q = byte(block, 8 + j * 16 + m)
                out[j * 32 + m] = dl * Float(iq4Values[Int(q & 0x0F)])
                out[j * 32 + 16 + m] = dl * Float(iq4Values[Int(q >> 4)])
            }
        }
    }
}
