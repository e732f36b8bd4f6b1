import Foundation

/// ggml's quantizers onto non-linear grids: IQ4_NL and IQ4_XS (both through ggml's
/// quantize_row_iq4_nl_impl with its 7-step scale search, weighted by x² without importance
/// weights), and MXFP4 (its reference rounding; importance weights are ignored, as ggml does).
enum QuantizeNonLinear {
    static func row(_ type: GGMLType, _ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, perRow: Int,
                    importance: UnsafePointer<Float>?) {
        if type == .mxfp4 {
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { values in
                for i in 0..<16 { values[i] = Float(BlockMXFP4.values[i]) }
                for b in 0..<(perRow / 32) { mxfp4(x + 32 * b, y + 17 * b, values.baseAddress!) }
            }
            return
        }
        let superBlock = type == .iq4_XS ? 256 : 32
        let bytes = type.blockGeometry.bytes
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 16 + 32 + 8) { floats in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { codes in
                let values = floats.baseAddress!
                for i in 0..<16 { values[i] = Float(iq4Values[i]) }
                let weight = values + 16, scales = values + 48, L = codes.baseAddress!
                for b in 0..<(perRow / superBlock) {
                    iq4(superBlock, x + superBlock * b, y + bytes * b, importance.map { $0 + superBlock * b },
                        values, weight, scales, L)
                }
            }
        }
    }

    /// ggml's best_index_int8: the index of the grid value nearest x (ties to the upper one only when
    /// strictly nearer), `values` ascending (the int8 grid as floats).
    @inline(__always)
    static func bestIndex(_ values: UnsafePointer<Float>, _ x: Float) -> Int {
        if x <= values[0] { return 0 }
        if x >= values[15] { return 15 }
        var ml = 0, mu = 15
        while mu - ml > 1 {
            let mav = (ml + mu) / 2
            if x < values[mav] { mu = mav } else { ml = mav }
        }
        return x - values[mu - 1] < values[mu] - x ? mu - 1 : mu
    }

    /// One IQ4_NL block (superBlock 32: d, qs) or IQ4_XS super-block (256: d, scales_h, scales_l, qs).
    static func iq4(_ superBlock: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ qw: UnsafePointer<Float>?,
                    _ values: UnsafePointer<Float>, _ weight: UnsafeMutablePointer<Float>,
                    _ scales: UnsafeMutablePointer<Float>, _ L: UnsafeMutablePointer<UInt8>) {
        let ntry = 7
        var sigma2: Float = 0
        for j in 0..<superBlock { sigma2 += x[j] * x[j] }
        sigma2 *= 2 / Float(superBlock)

        let blocks = superBlock / 32
        var maxScale: Float = 0, amaxScale: Float = 0
        for ib in 0..<blocks {
            let xb = x + 32 * ib, Lb = L + 32 * ib
            if let qw {
                for j in 0..<32 { weight[j] = qw[32 * ib + j] * (sigma2 + xb[j] * xb[j]).squareRoot() }
            } else {
                for j in 0..<32 { weight[j] = xb[j] * xb[j] }
            }
            var amax: Float = 0, max: Float = 0
            for j in 0..<32 {
                let ax = abs(xb[j])
                if ax > amax { amax = ax; max = xb[j] }
            }
            if amax < QuantizeK.groupMaxEps {
                scales[ib] = 0
                continue
            }
            var d = -max / values[0]
            var id = 1 / d
            var sumqx: Float = 0, sumq2: Float = 0
            for j in 0..<32 {
                let l = bestIndex(values, id * xb[j])
                Lb[j] = UInt8(truncatingIfNeeded: l)
                let q = values[l], w = weight[j]
                sumqx += w * q * xb[j]
                sumq2 += w * q * q
            }
            d = sumq2 > 0 ? sumqx / sumq2 : 0
            var best = d * sumqx
            for itry in -ntry..<(ntry + 1) {
                id = (Float(itry) + values[0]) / max
                sumqx = 0
                sumq2 = 0
                for j in 0..<32 {
                    let q = values[bestIndex(values, id * xb[j])], w = weight[j]
                    sumqx += w * q * xb[j]
                    sumq2 += w * q * q
                }
                if sumq2 > 0 && sumqx * sumqx > best * sumq2 {
                    d = sumqx / sumq2
                    best = d * sumqx
                }
            }
            scales[ib] = d
            let absD = abs(d)
            if absD > amaxScale { amaxScale = absD; maxScale = d }
        }

        let qs: Int
        if blocks > 1 {
            let d = -maxScale / 32
            y.storeBytes(of: GGMLQuantize.half(d), as: UInt16.self)
            let id: Float = d != 0 ? 1 / d : 0
            var scalesHigh: UInt16 = 0
            for ib in 0..<blocks {
                var l = QuantizeK.clamp(QuantizeK.nearestInt(id * scales[ib]), -32, 31)
                let dl = d * Float(l)
                let idl: Float = dl != 0 ? 1 / dl : 0
                let xb = x + 32 * ib, Lb = L + 32 * ib
                for j in 0..<32 { Lb[j] = UInt8(truncatingIfNeeded: bestIndex(values, idl * xb[j])) }
                l += 32
                let low = UInt8(truncatingIfNeeded: l & 0xF), high = UInt16(truncatingIfNeeded: l >> 4)
                if ib % 2 == 0 {
                    y.storeBytes(of: low, toByteOffset: 4 + ib / 2, as: UInt8.self)
                } else {
                    let prior = y.load(fromByteOffset: 4 + ib / 2, as: UInt8.self)
                    y.storeBytes(of: prior | (low << 4), toByteOffset: 4 + ib / 2, as: UInt8.self)
                }
                scalesHigh |= high << UInt16(2 * (ib % 8))
            }
            y.storeBytes(of: scalesHigh.littleEndian, toByteOffset: 2, as: UInt16.self)
            qs = 8
        } else {
            y.storeBytes(of: GGMLQuantize.half(scales[0]), as: UInt16.self)
            let id: Float = scales[0] != 0 ? 1 / scales[0] : 0
            for j in 0..<superBlock { L[j] = UInt8(truncatingIfNeeded: bestIndex(values, id * x[j])) }
            qs = 2
        }
        for i in 0..<(superBlock / 32) {
            for j in 0..<16 {
                y.storeBytes(of: L[32 * i + j] | (L[32 * i + 16 + j] << 4), toByteOffset: qs + 16 * i + j, as: UInt8.self)
            }
        }
    }

    /// C's float-to-integer cast on x86 (cvttss2si): truncation, 0x80000000 for NaN or out of range.
    @inline(__always)
    static func truncated(_ value: Float) -> Int32 {
        guard value.isFinite, value > -2147483648, value < 2147483648 else { return Int32.min }
        return Int32(value)
    }

    /// ggml's quantize_row_mxfp4_ref for one block of 32: the shared exponent from the largest
    /// magnitude, each weight the nearest doubled E2M1 value (the first on ties).
    static func mxfp4(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ values: UnsafePointer<Float>) {
        var amax: Float = 0
        for j in 0..<32 where amax < abs(x[j]) { amax = abs(x[j]) }
        let e: UInt8 = amax > 0 ? UInt8(truncatingIfNeeded: truncated(log2(amax).rounded(.down) - 2 + 127)) : 0
        let d = BlockMXFP4.halfScale(e)
        y.storeBytes(of: e, as: UInt8.self)
        @inline(__always) func nearest(_ v: Float) -> UInt8 {
            var best = 0
            var bestError = abs(values[0] * d - v)
            for i in 1..<16 {
                let error = abs(values[i] * d - v)
                if error < bestError { best = i; bestError = error }
            }
            return UInt8(truncatingIfNeeded: best)
        }
        for j in 0..<16 {
            y.storeBytes(of: nearest(x[j]) | (nearest(x[16 + j]) << 4), toByteOffset: 1 + j, as: UInt8.self)
        }
    }
}
