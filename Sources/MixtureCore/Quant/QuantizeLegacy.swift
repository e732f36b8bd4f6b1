/// ggml's block quantizers for the 32-element types: Q8_0 (always its reference rounding), and
/// Q4_0, Q4_1, Q5_0, Q5_1 (reference rounding without importance weights, ggml's weighted search
/// with them).
enum QuantizeLegacy {
    /// C's float-to-integer cast as x86 performs it (cvttss2si): truncation toward zero, and
    /// 0x80000000 for NaN or a value out of range, so odd input never traps here.
    @inline(__always)
    static func truncated(_ value: Float) -> Int32 {
        guard value.isFinite, value > -2147483648, value < 2147483648 else { return Int32.min }
        return Int32(value)
    }

    /// C's `MIN(n, (int8_t)v)` stored into a uint8_t, as ggml writes its 4- and 5-bit codes.
    @inline(__always)
    static func clamp15(_ v: Int32) -> UInt8 { UInt8(truncatingIfNeeded: Swift.min(15, Int8(truncatingIfNeeded: v))) }
    @inline(__always)
    static func clamp31(_ v: Int32) -> UInt8 { UInt8(truncatingIfNeeded: Swift.min(31, Int8(truncatingIfNeeded: v))) }

    /// The absolute maximum of 32 values and the signed value that has it (the first one, as ggml).
    @inline(__always)
    static func signedMaximum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var amax: Float = 0, max: Float = 0
        for j in 0..<n where amax < abs(x[j]) {
            amax = abs(x[j])
            max = x[j]
        }
        return max
    }

    static func q8_0(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer) {
        var amax: Float = 0
        for j in 0..<32 { amax = Swift.max(amax, abs(x[j])) }
        let d = amax / 127
        let id: Float = d != 0 ? 1 / d : 0
        y.storeBytes(of: GGMLQuantize.half(d), as: UInt16.self)
        for j in 0..<32 {
            y.storeBytes(of: UInt8(truncatingIfNeeded: truncated((x[j] * id).rounded())), toByteOffset: 2 + j, as: UInt8.self)
        }
    }

    static func row(_ type: GGMLType, _ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, perRow: Int,
                    importance: UnsafePointer<Float>?) {
        let bytes = type.blockGeometry.bytes
        if let importance {
            weightedRow(type, x, y, perRow: perRow, importance: importance)
            return
        }
        for b in 0..<(perRow / 32) {
            let xb = x + 32 * b, yb = y + bytes * b
            switch type {
            case .q4_0: q4_0(xb, yb)
            case .q4_1: q4_1(xb, yb)
            case .q5_0: q5_0(xb, yb)
            default: q5_1(xb, yb)
            }
        }
    }

    static func q4_0(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer) {
        let d = signedMaximum(x, 32) / -8
        let id: Float = d != 0 ? 1 / d : 0
        y.storeBytes(of: GGMLQuantize.half(d), as: UInt16.self)
        for j in 0..<16 {
            let lo = clamp15(truncated(x[j] * id + 8.5))
            let hi = clamp15(truncated(x[16 + j] * id + 8.5))
            y.storeBytes(of: lo | hi << 4, toByteOffset: 2 + j, as: UInt8.self)
        }
    }

    /// The minimum and maximum of 32 values, as ggml's Q4_1/Q5_1 search them.
    @inline(__always)
    static func range(_ x: UnsafePointer<Float>) -> (min: Float, max: Float) {
        var min = Float.greatestFiniteMagnitude, max = -Float.greatestFiniteMagnitude
        for j in 0..<32 {
            if x[j] < min { min = x[j] }
            if x[j] > max { max = x[j] }
        }
        return (min, max)
    }

    static func q4_1(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer) {
        let (min, max) = range(x)
        let d = (max - min) / 15
        let id: Float = d != 0 ? 1 / d : 0
        y.storeBytes(of: GGMLQuantize.half(d), as: UInt16.self)
        y.storeBytes(of: GGMLQuantize.half(min), toByteOffset: 2, as: UInt16.self)
        for j in 0..<16 {
            let lo = clamp15(truncated((x[j] - min) * id + 0.5))
            let hi = clamp15(truncated((x[16 + j] - min) * id + 0.5))
            y.storeBytes(of: lo | hi << 4, toByteOffset: 4 + j, as: UInt8.self)
        }
    }

    static func q5_0(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer) {
        let d = signedMaximum(x, 32) / -16
        let id: Float = d != 0 ? 1 / d : 0
        y.storeBytes(of: GGMLQuantize.half(d), as: UInt16.self)
        var qh: UInt32 = 0
        for j in 0..<16 {
            let lo = clamp31(truncated(x[j] * id + 16.5))
            let hi = clamp31(truncated(x[16 + j] * id + 16.5))
            y.storeBytes(of: (lo & 0x0F) | (hi & 0x0F) << 4, toByteOffset: 6 + j, as: UInt8.self)
            qh |= UInt32((lo & 0x10) >> 4) << j
            qh |= UInt32((hi & 0x10) >> 4) << (j + 16)
        }
        y.storeBytes(of: qh.littleEndian, toByteOffset: 2, as: UInt32.self)
    }

    static func q5_1(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer) {
        let (min, max) = range(x)
        let d = (max - min) / 31
        let id: Float = d != 0 ? 1 / d : 0
        y.storeBytes(of: GGMLQuantize.half(d), as: UInt16.self)
        y.storeBytes(of: GGMLQuantize.half(min), toByteOffset: 2, as: UInt16.self)
        var qh: UInt32 = 0
        for j in 0..<16 {
            let lo = UInt8(truncatingIfNeeded: truncated((x[j] - min) * id + 0.5))
            let hi = UInt8(truncatingIfNeeded: truncated((x[16 + j] - min) * id + 0.5))
            y.storeBytes(of: (lo & 0x0F) | (hi & 0x0F) << 4, toByteOffset: 8 + j, as: UInt8.self)
            qh |= UInt32((lo & 0x10) >> 4) << j
            qh |= UInt32((hi & 0x10) >> 4) << (j + 16)
        }
        y.storeBytes(of: qh.littleEndian, toByteOffset: 4, as: UInt32.self)
    }

    /// ggml's weighted search (quantize_row_q*_impl): element weights w·sqrt(σ² + x²), σ² the
    /// row's mean square; Q4_0/Q5_0 search a symmetric scale (make_qx_quants), Q4_1/Q5_1 a scale
    /// and minimum (make_qkx3_quants).
    static func weightedRow(_ type: GGMLType, _ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, perRow: Int,
                            importance: UnsafePointer<Float>) {
        var sumOfSquares: Float = 0
        for j in 0..<perRow { sumOfSquares += x[j] * x[j] }
        let sigma2 = sumOfSquares / Float(perRow)
        let bytes = type.blockGeometry.bytes
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 32) { weight in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { codes in
                let w = weight.baseAddress!, L = codes.baseAddress!, aux = L + 32
                for b in 0..<(perRow / 32) {
                    let xb = x + 32 * b, qw = importance + 32 * b, yb = y + bytes * b
                    for j in 0..<32 { w[j] = qw[j] * (sigma2 + xb[j] * xb[j]).squareRoot() }
                    var d: Float, minimum: Float = 0
                    switch type {
                    case .q4_0, .q5_0:
                        d = L.withMemoryRebound(to: Int8.self, capacity: 32) {
                            QuantizeK.makeQxQuants(32, type == .q4_0 ? 8 : 16, xb, $0, 1, w)
                        }
                    default:
                        d = QuantizeK.makeQkx3Quants(32, type == .q4_1 ? 15 : 31, xb, w, L, &minimum, aux, -0.9, 0.05, 36, false)
                    }
                    yb.storeBytes(of: GGMLQuantize.half(d), as: UInt16.self)
                    var offset = 2
                    if type == .q4_1 || type == .q5_1 {
                        yb.storeBytes(of: GGMLQuantize.half(-minimum), toByteOffset: 2, as: UInt16.self)
                        offset = 4
                    }
                    if type == .q4_0 || type == .q4_1 {
                        for j in 0..<16 { yb.storeBytes(of: L[j] | L[j + 16] << 4, toByteOffset: offset + j, as: UInt8.self) }
                        continue
                    }
                    var qh: UInt32 = 0
                    for j in 0..<16 {
                        let lo = L[j], hi = L[j + 16]
                        yb.storeBytes(of: (lo & 0x0F) | (hi & 0x0F) << 4, toByteOffset: offset + 4 + j, as: UInt8.self)
                        qh |= UInt32((lo & 0x10) >> 4) << j
                        qh |= UInt32((hi & 0x10) >> 4) << (j + 16)
                    }
                    yb.storeBytes(of: qh.littleEndian, toByteOffset: offset, as: UInt32.self)
                }
            }
        }
    }
}
