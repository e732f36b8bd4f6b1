/// ggml's K-quant quantizers (Q2_K … Q6_K, 256-weight super-blocks), and the scale searches that
/// ggml's other quantizers share with them. Without importance weights each type follows its
/// reference quantizer (`quantize_row_qN_K_ref`), with them its weighted search
/// (`quantize_row_qN_K_impl`), float operation for float operation: products and sums in ggml's
/// order, integer codes truncated and clamped as its C casts do.
enum QuantizeK {
    /// ggml's GROUP_MAX_EPS: a group whose largest magnitude is below this quantizes to zero.
    static let groupMaxEps: Float = 1e-15

    static func row(_ type: GGMLType, _ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, perRow: Int,
                    importance: UnsafePointer<Float>?) {
        let bytes = type.blockGeometry.bytes
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 96) { floats in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 320) { codes in
                withUnsafeTemporaryAllocation(of: Int8.self, capacity: 272) { signed in
                    let s = Scratch(floats: floats.baseAddress!, codes: codes.baseAddress!, signed: signed.baseAddress!)
                    for b in 0..<(perRow / 256) {
                        let xb = x + 256 * b, yb = y + bytes * b
                        let qw = importance.map { $0 + 256 * b }
                        switch type {
                        case .q2_K: if let qw { q2_KWeighted(xb, yb, qw, s) } else { q2_K(xb, yb, s) }
                        case .q3_K: if let qw { q3_KWeighted(xb, yb, qw, s) } else { q3_K(xb, yb, s) }
                        case .q4_K: if let qw { q4_KWeighted(xb, yb, qw, s) } else { q4_K(xb, yb, s) }
                        case .q5_K: if let qw { q5_KWeighted(xb, yb, qw, s) } else { q5_K(xb, yb, s) }
                        default: q6_K(xb, yb, qw, s)
                        }
                    }
                }
            }
        }
    }

    /// Per-block working memory, carved from one row's stack allocations.
    struct Scratch {
        let scales: UnsafeMutablePointer<Float>   // 16
        let mins: UnsafeMutablePointer<Float>     // 16
        let sw: UnsafeMutablePointer<Float>       // 16
        let weights: UnsafeMutablePointer<Float>  // 32
        let L: UnsafeMutablePointer<UInt8>        // 256
        let Laux: UnsafeMutablePointer<UInt8>     // 32
        let Ls: UnsafeMutablePointer<UInt8>       // 16
        let Lm: UnsafeMutablePointer<UInt8>       // 16
        let signedL: UnsafeMutablePointer<Int8>   // 256
        let signedLs: UnsafeMutablePointer<Int8>  // 16

        init(floats: UnsafeMutablePointer<Float>, codes: UnsafeMutablePointer<UInt8>, signed: UnsafeMutablePointer<Int8>) {
            scales = floats
            mins = floats + 16
            sw = floats + 32
            weights = floats + 48
            L = codes
            Laux = codes + 256
            Ls = codes + 288
            Lm = codes + 304
            signedL = signed
            signedLs = signed + 256
        }
    }

    // MARK: - Shared helpers

    /// GGMLQuantize.nearestInt, repeated so that it inlines here in builds without whole-module optimization.
    @inline(__always)
    static func nearestInt(_ value: Float) -> Int32 {
        let shifted = value + 12582912
        return Int32(bitPattern: shifted.bitPattern & 0x007f_ffff) - 0x0040_0000
    }

    @inline(__always)
    static func clamp(_ v: Int32, _ lo: Int32, _ hi: Int32) -> Int32 { Swift.max(lo, Swift.min(hi, v)) }

    @inline(__always)
    static func toFloat(_ h: UInt16) -> Float { Float(Float16(bitPattern: h)) }

    @inline(__always)
    static func store(_ y: UnsafeMutableRawPointer, _ offset: Int, _ v: UInt8) {
        y.storeBytes(of: v, toByteOffset: offset, as: UInt8.self)
    }

    @inline(__always)
    static func load(_ y: UnsafeMutableRawPointer, _ offset: Int) -> UInt8 { y.load(fromByteOffset: offset, as: UInt8.self) }

    /// ggml's make_qx_quants: a symmetric scale for codes in −nmax..<nmax (stored offset by nmax in L),
    /// `rmseType` choosing the error weights when `qw` is nil (1: x², 2: 1, 3: |x|, else √|x|; negative:
    /// one refinement step only; 0: no search).
    static func makeQxQuants(_ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<Int8>,
                             _ rmseType: Int, _ qw: UnsafePointer<Float>?) -> Float {
        var max: Float = 0, amax: Float = 0
        for i in 0..<n {
            let ax = abs(x[i])
            if ax > amax { amax = ax; max = x[i] }
        }
        if amax < groupMaxEps {
            for i in 0..<n { L[i] = 0 }
            return 0
        }
        let fmax = Float(nmax)
        var iscale = Float(-nmax) / max
        if rmseType == 0 {
            for i in 0..<n {
                let l = nearestInt(iscale * x[i])
                L[i] = Int8(truncatingIfNeeded: nmax + clamp(l, -nmax, nmax - 1))
            }
            return 1 / iscale
        }
        let type = rmseType < 0 ? -rmseType : rmseType
        let returnEarly = rmseType < 0
        @inline(__always) func weight(_ i: Int) -> Float {
            if let qw { return qw[i] }
            switch type {
            case 1: return x[i] * x[i]
            case 2: return 1
            case 3: return abs(x[i])
            default: return abs(x[i]).squareRoot()
            }
        }
        var sumlx: Float = 0, suml2: Float = 0
        for i in 0..<n {
            let l = clamp(nearestInt(iscale * x[i]), -nmax, nmax - 1)
            L[i] = Int8(truncatingIfNeeded: l + nmax)
            let w = weight(i), fl = Float(l)
            sumlx += w * x[i] * fl
            suml2 += w * fl * fl
        }
        var scale: Float = suml2 != 0 ? sumlx / suml2 : 0
        if returnEarly { return suml2 > 0 ? 0.5 * (scale + 1 / iscale) : 1 / iscale }
        var best = scale * sumlx
        for step in -9..<10 where step != 0 {
            iscale = -(fmax + 0.1 * Float(step)) / max
            sumlx = 0
            suml2 = 0
            for i in 0..<n {
                let l = clamp(nearestInt(iscale * x[i]), -nmax, nmax - 1)
                let w = weight(i), fl = Float(l)
                sumlx += w * x[i] * fl
                suml2 += w * fl * fl
            }
            if suml2 > 0 && sumlx * sumlx > best * suml2 {
                for i in 0..<n {
                    let l = nearestInt(iscale * x[i])
                    L[i] = Int8(truncatingIfNeeded: nmax + clamp(l, -nmax, nmax - 1))
                }
                scale = sumlx / suml2
                best = scale * sumlx
            }
        }
        return scale
    }

    /// ggml's make_q3_quants: make_qx_quants' symmetric scale refined one code at a time (x² weights).
    static func makeQ3Quants(_ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<Int8>,
                             rmse: Bool) -> Float {
        var max: Float = 0, amax: Float = 0
        for i in 0..<n {
            let ax = abs(x[i])
            if ax > amax { amax = ax; max = x[i] }
        }
        if amax < groupMaxEps {
            for i in 0..<n { L[i] = 0 }
            return 0
        }
        let iscale = Float(-nmax) / max
        if rmse {
            var sumlx: Float = 0, suml2: Float = 0
            for i in 0..<n {
                let l = clamp(nearestInt(iscale * x[i]), -nmax, nmax - 1)
                L[i] = Int8(truncatingIfNeeded: l)
                let w = x[i] * x[i], fl = Float(l)
                sumlx += w * x[i] * fl
                suml2 += w * fl * fl
            }
            for _ in 0..<5 {
                var changed = 0
                for i in 0..<n {
                    let w = x[i] * x[i], li = Float(L[i])
                    var slx = sumlx - w * x[i] * li
                    if slx > 0 {
                        var sl2 = suml2 - w * li * li
                        let newL = clamp(nearestInt(x[i] * sl2 / slx), -nmax, nmax - 1)
                        if newL != Int32(L[i]) {
                            let fl = Float(newL)
                            slx += w * x[i] * fl
                            sl2 += w * fl * fl
                            if sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2 {
                                L[i] = Int8(truncatingIfNeeded: newL)
                                sumlx = slx
                                suml2 = sl2
                                changed += 1
                            }
                        }
                    }
                }
                if changed == 0 { break }
            }
            for i in 0..<n { L[i] = L[i] &+ Int8(truncatingIfNeeded: nmax) }
            return suml2 > 0 ? sumlx / suml2 : 0
        }
        for i in 0..<n {
            let l = clamp(nearestInt(iscale * x[i]), -nmax, nmax - 1)
            L[i] = Int8(truncatingIfNeeded: l + nmax)
        }
        return 1 / iscale
    }

    /// ggml's make_qkx2_quants (`optionalWeights` nil never) and make_qkx3_quants (nil: x² weights):
    /// an asymmetric scale and minimum for codes 0...nmax, searched over nstep + 1 trial scales.
    /// The two differ only in that degenerate test (`max == min` against `max <= min`).
    @inline(__always)
    static func makeQkxQuants(_ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ weights: UnsafePointer<Float>?,
                              _ L: UnsafeMutablePointer<UInt8>, _ theMin: inout Float, _ Laux: UnsafeMutablePointer<UInt8>,
                              _ rmin: Float, _ rdelta: Float, _ nstep: Int, _ useMad: Bool, x3: Bool) -> Float {
        @inline(__always) func weight(_ i: Int) -> Float { weights.map { $0[i] } ?? x[i] * x[i] }
        var min = x[0], max = x[0]
        var sumW = weight(0)
        var sumX = sumW * x[0]
        for i in 1..<n {
            if x[i] < min { min = x[i] }
            if x[i] > max { max = x[i] }
            let w = weight(i)
            sumW += w
            sumX += w * x[i]
        }
        if min > 0 { min = 0 }
        if x3 ? max <= min : max == min {
            for i in 0..<n { L[i] = 0 }
            theMin = -min
            return 0
        }
        let fmax = Float(nmax)
        var iscale = fmax / (max - min)
        var scale = 1 / iscale
        var bestError: Float = 0
        for i in 0..<n {
            let l = nearestInt(iscale * (x[i] - min))
            L[i] = UInt8(truncatingIfNeeded: clamp(l, 0, nmax))
            var diff = scale * Float(L[i]) + min - x[i]
            diff = useMad ? abs(diff) : diff * diff
            bestError += weight(i) * diff
        }
        if nstep < 1 {
            theMin = -min
            return scale
        }
        for step in 0..<(nstep + 1) {
            iscale = (rmin + rdelta * Float(step) + fmax) / (max - min)
            var sumL: Float = 0, sumL2: Float = 0, sumXL: Float = 0
            for i in 0..<n {
                let l = clamp(nearestInt(iscale * (x[i] - min)), 0, nmax)
                Laux[i] = UInt8(truncatingIfNeeded: l)
                let w = weight(i), fl = Float(l)
                sumL += w * fl
                sumL2 += w * fl * fl
                sumXL += w * fl * x[i]
            }
            let D = sumW * sumL2 - sumL * sumL
            if D > 0 {
                var thisScale = (sumW * sumXL - sumX * sumL) / D
                var thisMin = (sumL2 * sumX - sumL * sumXL) / D
                if thisMin > 0 {
                    thisMin = 0
                    thisScale = sumXL / sumL2
                }
                var error: Float = 0
                for i in 0..<n {
                    var diff = thisScale * Float(Laux[i]) + thisMin - x[i]
                    diff = useMad ? abs(diff) : diff * diff
                    error += weight(i) * diff
                }
                if error < bestError {
                    for i in 0..<n { L[i] = Laux[i] }
                    bestError = error
                    scale = thisScale
                    min = thisMin
                }
            }
        }
        theMin = -min
        return scale
    }

    static func makeQkx2Quants(_ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ weights: UnsafePointer<Float>,
                               _ L: UnsafeMutablePointer<UInt8>, _ theMin: inout Float, _ Laux: UnsafeMutablePointer<UInt8>,
                               _ rmin: Float, _ rdelta: Float, _ nstep: Int, _ useMad: Bool) -> Float {
        makeQkxQuants(n, nmax, x, weights, L, &theMin, Laux, rmin, rdelta, nstep, useMad, x3: false)
    }

    static func makeQkx3Quants(_ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ weights: UnsafePointer<Float>?,
                               _ L: UnsafeMutablePointer<UInt8>, _ theMin: inout Float, _ Laux: UnsafeMutablePointer<UInt8>,
                               _ rmin: Float, _ rdelta: Float, _ nstep: Int, _ useMad: Bool) -> Float {
        makeQkxQuants(n, nmax, x, weights, L, &theMin, Laux, rmin, rdelta, nstep, useMad, x3: true)
    }

    /// ggml's make_qp_quants: a scale for non-negative values (the sub-block scales and minimums)
    /// as codes 0...nmax, weighted by `qw`.
    static func makeQpQuants(_ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<UInt8>,
                             _ qw: UnsafePointer<Float>) -> Float {
        var max: Float = 0
        for i in 0..<n { max = max > x[i] ? max : x[i] }
        if max < groupMaxEps {
            for i in 0..<n { L[i] = 0 }
            return 0
        }
        let fmax = Float(nmax)
        var iscale = fmax / max
        for i in 0..<n { L[i] = UInt8(truncatingIfNeeded: nearestInt(iscale * x[i])) }
        let scale = 1 / iscale
        var bestMSE: Float = 0
        for i in 0..<n {
            let diff = x[i] - scale * Float(L[i])
            bestMSE += qw[i] * diff * diff
        }
        for step in -4..<5 where step != 0 {
            let iscaleStep = (0.1 * Float(step) + fmax) / max
            let scaleStep = 1 / iscaleStep
            var mse: Float = 0
            for i in 0..<n {
                let l = Swift.min(nmax, nearestInt(iscaleStep * x[i]))
                let diff = x[i] - scaleStep * Float(l)
                mse += qw[i] * diff * diff
            }
            if mse < bestMSE {
                bestMSE = mse
                iscale = iscaleStep
            }
        }
        var sumlx: Float = 0, suml2: Float = 0
        for i in 0..<n {
            let l = Swift.min(nmax, nearestInt(iscale * x[i]))
            L[i] = UInt8(truncatingIfNeeded: l)
            let w = qw[i], fl = Float(l)
            sumlx += w * x[i] * fl
            suml2 += w * fl * fl
        }
        for _ in 0..<5 {
            var changed = 0
            for i in 0..<n {
                let w = qw[i], li = Float(L[i])
                var slx = sumlx - w * x[i] * li
                var sl2 = suml2 - w * li * li
                if slx > 0 && sl2 > 0 {
                    let newL = Swift.min(nmax, nearestInt(x[i] * sl2 / slx))
                    if newL != Int32(L[i]) {
                        let fl = Float(newL)
                        slx += w * x[i] * fl
                        sl2 += w * fl * fl
                        if slx * slx * suml2 > sumlx * sumlx * sl2 {
                            L[i] = UInt8(truncatingIfNeeded: newL)
                            sumlx = slx
                            suml2 = sl2
                            changed += 1
                        }
                    }
                }
            }
            if changed == 0 { break }
        }
        return suml2 > 0 ? sumlx / suml2 : 0
    }

    /// The 2-bit codes of 256 weights into 64 bytes: weight 128h + 32s + l at bits 2s of byte 32h + l.
    @inline(__always)
    static func pack2(_ L: UnsafePointer<UInt8>, _ q: UnsafeMutableRawPointer) {
        for j in stride(from: 0, to: 256, by: 128) {
            for l in 0..<32 {
                store(q, j / 4 + l, L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6))
            }
        }
    }

    /// The sum of squares of the 256 weights at x, in order.
    @inline(__always)
    static func sumOfSquares(_ x: UnsafePointer<Float>) -> Float {
        var sum: Float = 0
        for j in 0..<256 { sum += x[j] * x[j] }
        return sum
    }

    // MARK: - Q2_K (scales 0..<16, qs 16..<80, d 80, dmin 82)

    static func q2_K(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ s: Scratch) {
        let L = s.L, weights = s.weights, scales = s.scales, mins = s.mins
        var maxScale: Float = 0, maxMin: Float = 0
        for j in 0..<16 {
            for l in 0..<16 { weights[l] = abs(x[16 * j + l]) }
            scales[j] = makeQkx2Quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], s.Laux, -0.5, 0.1, 15, true)
            if scales[j] > maxScale { maxScale = scales[j] }
            if mins[j] > maxMin { maxMin = mins[j] }
        }
        if maxScale > 0 {
            let iscale = 15 / maxScale
            for j in 0..<16 { store(y, j, UInt8(truncatingIfNeeded: nearestInt(iscale * scales[j]))) }
            y.storeBytes(of: GGMLQuantize.half(maxScale / 15), toByteOffset: 80, as: UInt16.self)
        } else {
            for j in 0..<16 { store(y, j, 0) }
            y.storeBytes(of: GGMLQuantize.half(0), toByteOffset: 80, as: UInt16.self)
        }
        if maxMin > 0 {
            let iscale = 15 / maxMin
            for j in 0..<16 {
                let l = nearestInt(iscale * mins[j])
                store(y, j, load(y, j) | UInt8(truncatingIfNeeded: l << 4))
            }
            y.storeBytes(of: GGMLQuantize.half(maxMin / 15), toByteOffset: 82, as: UInt16.self)
        } else {
            y.storeBytes(of: GGMLQuantize.half(0), toByteOffset: 82, as: UInt16.self)
        }
        q2_KFinish(x, y, L,
                   d: toFloat(y.load(fromByteOffset: 80, as: UInt16.self)),
                   dmin: toFloat(y.load(fromByteOffset: 82, as: UInt16.self)))
    }

    static func q2_KWeighted(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ qw: UnsafePointer<Float>, _ s: Scratch) {
        let L = s.L, weight = s.weights, scales = s.scales, mins = s.mins, sw = s.sw
        let sigma2 = sumOfSquares(x) / 256
        for j in 0..<16 {
            for l in 0..<16 { weight[l] = qw[16 * j + l] * (sigma2 + x[16 * j + l] * x[16 * j + l]).squareRoot() }
            var sum: Float = 0
            for l in 0..<16 { sum += weight[l] }
            sw[j] = sum
            scales[j] = makeQkx3Quants(16, 3, x + 16 * j, weight, L + 16 * j, &mins[j], s.Laux, -0.9, 0.05, 36, false)
        }
        let dm = makeQpQuants(16, 15, scales, s.Ls, sw)
        let mm = makeQpQuants(16, 15, mins, s.Lm, sw)
        let dh = GGMLQuantize.half(dm), mh = GGMLQuantize.half(mm)
        y.storeBytes(of: dh, toByteOffset: 80, as: UInt16.self)
        y.storeBytes(of: mh, toByteOffset: 82, as: UInt16.self)
        for j in 0..<16 { store(y, j, s.Ls[j] | (s.Lm[j] << 4)) }
        q2_KFinish(x, y, L, d: toFloat(dh), dmin: toFloat(mh))
    }

    /// Requantizes against the stored scales and packs the codes.
    @inline(__always)
    static func q2_KFinish(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ L: UnsafeMutablePointer<UInt8>,
                           d dh: Float, dmin: Float) {
        for j in 0..<16 {
            let sc = load(y, j)
            let d = dh * Float(sc & 0xF)
            if d == 0 { continue }
            let dm = dmin * Float(sc >> 4)
            for ii in 0..<16 {
                let l = nearestInt((x[16 * j + ii] + dm) / d)
                L[16 * j + ii] = UInt8(truncatingIfNeeded: clamp(l, 0, 3))
            }
        }
        pack2(L, y + 16)
    }

    // MARK: - Q3_K (hmask 0..<32, qs 32..<96, scales 96..<108, d 108)

    static func q3_K(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ s: Scratch) {
        let L = s.signedL, scales = s.scales
        var maxScale: Float = 0, amax: Float = 0
        for j in 0..<16 {
            scales[j] = makeQ3Quants(16, 4, x + 16 * j, L + 16 * j, rmse: true)
            let scale = abs(scales[j])
            if scale > amax { amax = scale; maxScale = scales[j] }
        }
        for j in 0..<12 { store(y, 96 + j, 0) }
        if maxScale != 0 {
            let iscale = -32 / maxScale
            for j in 0..<16 {
                let l8 = Int8(truncatingIfNeeded: nearestInt(iscale * scales[j]))
                q3_KPackScale(y, j, clamp(Int32(l8), -32, 31) + 32)
            }
            y.storeBytes(of: GGMLQuantize.half(1 / iscale), toByteOffset: 108, as: UInt16.self)
        } else {
            y.storeBytes(of: GGMLQuantize.half(0), toByteOffset: 108, as: UInt16.self)
        }
        q3_KFinish(x, y, L)
    }

    static func q3_KWeighted(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ qw: UnsafePointer<Float>, _ s: Scratch) {
        let L = s.signedL, scales = s.scales, weight = s.weights, sw = s.sw
        let sigma2 = 2 * sumOfSquares(x) / 256
        for j in 0..<16 {
            for l in 0..<16 { weight[l] = qw[16 * j + l] * (sigma2 + x[16 * j + l] * x[16 * j + l]).squareRoot() }
            var sum: Float = 0
            for l in 0..<16 { sum += weight[l] }
            sw[j] = sum
            scales[j] = makeQxQuants(16, 4, x + 16 * j, L + 16 * j, 1, weight)
        }
        for j in 0..<12 { store(y, 96 + j, 0) }
        let dBlock = makeQxQuants(16, 32, scales, s.signedLs, 1, sw)
        for j in 0..<16 { q3_KPackScale(y, j, Int32(s.signedLs[j])) }
        y.storeBytes(of: GGMLQuantize.half(dBlock), toByteOffset: 108, as: UInt16.self)
        q3_KFinish(x, y, L)
    }

    /// Stores the 6-bit scale code `l` of group j: low 4 bits in scales[j % 8] (high nibble for j ≥ 8),
    /// high 2 bits in scales[8 + j % 4] at bit 2(j / 4).
    @inline(__always)
    static func q3_KPackScale(_ y: UnsafeMutableRawPointer, _ j: Int, _ l: Int32) {
        let low = UInt8(truncatingIfNeeded: l & 0xF)
        if j < 8 {
            store(y, 96 + j, low)
        } else {
            store(y, 96 + j - 8, load(y, 96 + j - 8) | (low << 4))
        }
        let high = UInt8(truncatingIfNeeded: (l >> 4) << Int32(2 * (j / 4)))
        store(y, 96 + 8 + j % 4, load(y, 96 + 8 + j % 4) | high)
    }

    @inline(__always)
    static func q3_KFinish(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ L: UnsafeMutablePointer<Int8>) {
        let dh = toFloat(y.load(fromByteOffset: 108, as: UInt16.self))
        for j in 0..<16 {
            let low = j < 8 ? load(y, 96 + j) & 0xF : load(y, 96 + j - 8) >> 4
            let sc = Int32(Int8(truncatingIfNeeded: low | (((load(y, 96 + 8 + j % 4) >> UInt8(2 * (j / 4))) & 3) << 4))) - 32
            let d = dh * Float(Int8(truncatingIfNeeded: sc))
            if d == 0 { continue }
            for ii in 0..<16 {
                let l = clamp(nearestInt(x[16 * j + ii] / d), -4, 3)
                L[16 * j + ii] = Int8(truncatingIfNeeded: l + 4)
            }
        }
        for j in 0..<32 { store(y, j, 0) }
        var m = 0
        var hm: UInt8 = 1
        for j in 0..<256 {
            if L[j] > 3 {
                store(y, m, load(y, m) | hm)
                L[j] -= 4
            }
            m += 1
            if m == 32 { m = 0; hm <<= 1 }
        }
        for j in stride(from: 0, to: 256, by: 128) {
            for l in 0..<32 {
                let v = Int32(L[j + l]) | (Int32(L[j + l + 32]) << 2) | (Int32(L[j + l + 64]) << 4) | (Int32(L[j + l + 96]) << 6)
                store(y, 32 + j / 4 + l, UInt8(truncatingIfNeeded: v))
            }
        }
    }

    // MARK: - Q4_K and Q5_K (d 0, dmin 2, scales 4..<16; Q4_K qs 16..<144; Q5_K qh 16..<48, qs 48..<176)

    /// Packs the 6-bit scale and minimum codes of group j into the 12 scale bytes at y + 4.
    @inline(__always)
    static func packScaleMin(_ y: UnsafeMutableRawPointer, _ j: Int, _ ls: UInt8, _ lm: UInt8) {
        let sc = y + 4
        if j < 4 {
            store(sc, j, ls)
            store(sc, j + 4, lm)
        } else {
            store(sc, j + 4, (ls & 0xF) | ((lm & 0xF) << 4))
            store(sc, j - 4, load(sc, j - 4) | ((ls >> 4) << 6))
            store(sc, j, load(sc, j) | ((lm >> 4) << 6))
        }
    }

    /// ggml's Q4_K/Q5_K reference search: per group of 32, weights av_x + |x| and make_qkx2_quants,
    /// then the group scales and minimums as 6-bit codes of the largest.
    @inline(__always)
    static func k45Scales(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ s: Scratch, nmax: Int32,
                          rmin: Float, nstep: Int) {
        let weights = s.weights, scales = s.scales, mins = s.mins
        var maxScale: Float = 0, maxMin: Float = 0
        for j in 0..<8 {
            var sumX2: Float = 0
            for l in 0..<32 { sumX2 += x[32 * j + l] * x[32 * j + l] }
            let avX = (sumX2 / 32).squareRoot()
            for l in 0..<32 { weights[l] = avX + abs(x[32 * j + l]) }
            scales[j] = makeQkx2Quants(32, nmax, x + 32 * j, weights, s.L + 32 * j, &mins[j], s.Laux, rmin, 0.1, nstep, false)
            if scales[j] > maxScale { maxScale = scales[j] }
            if mins[j] > maxMin { maxMin = mins[j] }
        }
        let invScale: Float = maxScale > 0 ? 63 / maxScale : 0
        let invMin: Float = maxMin > 0 ? 63 / maxMin : 0
        for j in 0..<8 {
            let ls = Swift.min(63, UInt8(truncatingIfNeeded: nearestInt(invScale * scales[j])))
            let lm = Swift.min(63, UInt8(truncatingIfNeeded: nearestInt(invMin * mins[j])))
            packScaleMin(y, j, ls, lm)
        }
        y.storeBytes(of: GGMLQuantize.half(maxScale / 63), toByteOffset: 0, as: UInt16.self)
        y.storeBytes(of: GGMLQuantize.half(maxMin / 63), toByteOffset: 2, as: UInt16.self)
    }

    /// ggml's Q4_K/Q5_K weighted search: weights w·√(σ² + x²), make_qkx3_quants per group, and
    /// make_qp_quants for the group scales and minimums. `clampCodes`: Q5_K's extra MIN(63, ·).
    @inline(__always)
    static func k45WeightedScales(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ qw: UnsafePointer<Float>,
                                  _ s: Scratch, nmax: Int32, clampCodes: Bool) {
        let weights = s.weights, scales = s.scales, mins = s.mins, sw = s.sw
        let sigma2 = 2 * sumOfSquares(x) / 256
        for j in 0..<8 {
            for l in 0..<32 { weights[l] = qw[32 * j + l] * (sigma2 + x[32 * j + l] * x[32 * j + l]).squareRoot() }
            var sum: Float = 0
            for l in 0..<32 { sum += weights[l] }
            sw[j] = sum
            scales[j] = makeQkx3Quants(32, nmax, x + 32 * j, weights, s.L + 32 * j, &mins[j], s.Laux, -0.9, 0.05, 36, false)
        }
        let dBlock = makeQpQuants(8, 63, scales, s.Ls, sw)
        let mBlock = makeQpQuants(8, 63, mins, s.Lm, sw)
        for j in 0..<8 {
            let ls = clampCodes ? Swift.min(63, s.Ls[j]) : s.Ls[j]
            let lm = clampCodes ? Swift.min(63, s.Lm[j]) : s.Lm[j]
            packScaleMin(y, j, ls, lm)
        }
        y.storeBytes(of: GGMLQuantize.half(dBlock), toByteOffset: 0, as: UInt16.self)
        y.storeBytes(of: GGMLQuantize.half(mBlock), toByteOffset: 2, as: UInt16.self)
    }

    /// Requantizes every group of 32 against its stored scale and minimum (codes 0...nmax).
    @inline(__always)
    static func k45Requantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ L: UnsafeMutablePointer<UInt8>,
                              nmax: Int32) {
        let dh = toFloat(y.load(fromByteOffset: 0, as: UInt16.self))
        let mh = toFloat(y.load(fromByteOffset: 2, as: UInt16.self))
        for j in 0..<8 {
            let (sc, m) = BlockQ4_K.scaleAndMinimum(UnsafeRawPointer(y + 4), j)
            let d = dh * Float(sc)
            if d == 0 { continue }
            let dm = mh * Float(m)
            for ii in 0..<32 {
                let l = nearestInt((x[32 * j + ii] + dm) / d)
                L[32 * j + ii] = UInt8(truncatingIfNeeded: clamp(l, 0, nmax))
            }
        }
    }

    @inline(__always)
    static func q4_KPack(_ y: UnsafeMutableRawPointer, _ L: UnsafePointer<UInt8>) {
        for j in stride(from: 0, to: 256, by: 64) {
            for l in 0..<32 { store(y, 16 + j / 2 + l, L[j + l] | (L[j + l + 32] << 4)) }
        }
    }

    @inline(__always)
    static func q5_KPack(_ y: UnsafeMutableRawPointer, _ L: UnsafePointer<UInt8>) {
        for j in 0..<32 { store(y, 16 + j, 0) }
        var m1: UInt8 = 1, m2: UInt8 = 2
        for n in stride(from: 0, to: 256, by: 64) {
            for j in 0..<32 {
                var l1 = Int32(L[n + j])
                if l1 > 15 { l1 -= 16; store(y, 16 + j, load(y, 16 + j) | m1) }
                var l2 = Int32(L[n + j + 32])
                if l2 > 15 { l2 -= 16; store(y, 16 + j, load(y, 16 + j) | m2) }
                store(y, 48 + n / 2 + j, UInt8(truncatingIfNeeded: l1 | (l2 << 4)))
            }
            m1 <<= 2
            m2 <<= 2
        }
    }

    static func q4_K(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ s: Scratch) {
        k45Scales(x, y, s, nmax: 15, rmin: -1, nstep: 20)
        k45Requantize(x, y, s.L, nmax: 15)
        q4_KPack(y, s.L)
    }

    static func q4_KWeighted(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ qw: UnsafePointer<Float>, _ s: Scratch) {
        k45WeightedScales(x, y, qw, s, nmax: 15, clampCodes: false)
        k45Requantize(x, y, s.L, nmax: 15)
        q4_KPack(y, s.L)
    }

    static func q5_K(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ s: Scratch) {
        k45Scales(x, y, s, nmax: 31, rmin: -0.5, nstep: 15)
        k45Requantize(x, y, s.L, nmax: 31)
        q5_KPack(y, s.L)
    }

    static func q5_KWeighted(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ qw: UnsafePointer<Float>, _ s: Scratch) {
        k45WeightedScales(x, y, qw, s, nmax: 31, clampCodes: true)
        k45Requantize(x, y, s.L, nmax: 31)
        q5_KPack(y, s.L)
    }

    // MARK: - Q6_K (ql 0..<128, qh 128..<192, scales 192..<208, d 208)

    /// The reference (qw nil) and weighted searches differ only in make_qx_quants' weights.
    static func q6_K(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ qw: UnsafePointer<Float>?, _ s: Scratch) {
        let L = s.signedL, scales = s.scales
        var maxScale: Float = 0, maxAbsScale: Float = 0
        for ib in 0..<16 {
            let scale = makeQxQuants(16, 32, x + 16 * ib, L + 16 * ib, 1, qw.map { $0 + 16 * ib })
            scales[ib] = scale
            let absScale = abs(scale)
            if absScale > maxAbsScale { maxAbsScale = absScale; maxScale = scale }
        }
        if maxAbsScale < groupMaxEps {
            y.initializeMemory(as: UInt8.self, repeating: 0, count: 210)
            y.storeBytes(of: GGMLQuantize.half(0), toByteOffset: 208, as: UInt16.self)
            return
        }
        let iscale = -128 / maxScale
        let dh = GGMLQuantize.half(1 / iscale)
        y.storeBytes(of: dh, toByteOffset: 208, as: UInt16.self)
        for ib in 0..<16 {
            let l = Swift.min(127, nearestInt(iscale * scales[ib]))
            store(y, 192 + ib, UInt8(truncatingIfNeeded: l))
        }
        let dScale = toFloat(dh)
        for j in 0..<16 {
            let d = dScale * Float(Int8(bitPattern: load(y, 192 + j)))
            if d == 0 { continue }
            for ii in 0..<16 {
                let l = clamp(nearestInt(x[16 * j + ii] / d), -32, 31)
                L[16 * j + ii] = Int8(truncatingIfNeeded: l + 32)
            }
        }
        for j in stride(from: 0, to: 256, by: 128) {
            let ql = j / 2, qh = 128 + j / 4
            for l in 0..<32 {
                let a = UInt8(bitPattern: L[j + l]), b = UInt8(bitPattern: L[j + l + 32])
                let c = UInt8(bitPattern: L[j + l + 64]), e = UInt8(bitPattern: L[j + l + 96])
                store(y, ql + l, (a & 0xF) | ((c & 0xF) << 4))
                store(y, ql + l + 32, (b & 0xF) | ((e & 0xF) << 4))
                let high = Int32(L[j + l] >> 4) | (Int32(L[j + l + 32] >> 4) << 2) | (Int32(L[j + l + 64] >> 4) << 4)
                    | (Int32(L[j + l + 96] >> 4) << 6)
                store(y, qh + l, UInt8(truncatingIfNeeded: high))
            }
        }
    }
}
