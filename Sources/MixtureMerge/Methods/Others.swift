import Foundation
import MixtureCore

/// Model Stock: interpolate between the base and the average of the fine-tunes with a ratio from
/// the mean angle between their task vectors (per tensor, or per row with `filter_wise`).
let modelStockMethod = MergeMethod(
    name: "model_stock",
    parameters: [ParameterSpec("filter_wise", .bool, default: .bool(false))],
    base: .required, minInputs: 3, optionalTensors: .baseOrSkip,
    kernel: { group, args in
        guard let w0 = group.base?.values else { return [] }
        let p = args.precision
        let ws = group.nonBase.map(\.values)
        let n = w0.count
        let rowLength = args.bool("filter_wise") ? (group.shape.last ?? n) : n
        let rows = rowLength == 0 ? 0 : n / rowLength
        var offsets = ws.map { ElementWise.difference($0, w0) }
        for k in offsets.indices { p.round(&offsets[k]) }
        let count = ws.count
        // sum(ws) / count, summed left to right as Python's sum() does.
        var average = ws[0]
        for w in ws.dropFirst() { for i in 0..<n { average[i] = p.round(average[i] + w[i]) } }
        for i in 0..<n { average[i] = p.round(average[i] / Float(count)) }
        var out = [Float](repeating: 0, count: n)
        for r in 0..<rows {
            let range = (r * rowLength)..<((r + 1) * rowLength)
            var cosSum = 0.0
            var pairs = 0
            for a in 0..<offsets.count {
                for b in (a + 1)..<offsets.count {
                    var dab = 0.0, naa = 0.0, nbb = 0.0
                    for i in range {
                        let x = offsets[a][i], y = offsets[b][i]
                        dab += Double(p.round(x * y)); naa += Double(x) * Double(x); nbb += Double(y) * Double(y)
                    }
                    let product = p.round(p.round(Float(naa.squareRoot())) * p.round(Float(nbb.squareRoot())))
                    cosSum += Double(min(1, max(-1, p.round(p.round(Float(dab)) / max(product, 1e-6)))))
                    pairs += 1
                }
            }
            let cosTheta = p.round(Float(cosSum / Double(pairs)))
            let denominator = p.round(1 + p.round(Float(count - 1) * cosTheta))
            let t: Float = abs(denominator) < 1e-6 ? 0 : p.round(p.round(Float(count) * cosTheta) / denominator)
            let rest = p.round(1 - t)
            for i in range {
                out[i] = p.round(p.round(t * average[i]) + p.round(rest * w0[i]))
            }
        }
        return out
    })

/// NearSwap: take the other model's value where it is within `t` of the base, interpolate
/// (weight t / |a - b|) where it is farther.
let nearswapMethod = MergeMethod(
    name: "nearswap",
    parameters: [ParameterSpec("t", .float)],
    base: .required, minInputs: 2, maxInputs: 2, optionalTensors: .passthroughBaseSingleton,
    kernel: { group, args in
        guard let a = group.base?.values, let b = group.nonBase.first?.values else { return [] }
        let p = args.precision
        let t = Float(args.double("t"))
        let floor = p.round(Float(1e-6))
        var out = [Float](repeating: 0, count: a.count)
        for i in 0..<a.count {
            let diff = max(abs(p.round(a[i] - b[i])), floor)
            // torch evaluates `t / x` as reciprocal(x) * t.
            let w = min(1, max(0, p.isReduced ? p.round(p.round(1 / diff) * t) : t / diff))
            out[i] = p.round(p.round(w * b[i]) + p.round(p.round(1 - w) * a[i]))
        }
        return out
    })

/// SCE: keep the elements where the task vectors vary most (`select_topk`), elect signs as TIES,
/// and weight each task vector by its mean squared magnitude.
let sceMethod = MergeMethod(
    name: "sce",
    parameters: [
        ParameterSpec("int8_mask", .bool, default: .bool(false)),
        ParameterSpec("select_topk", .float, default: .float(1)),
    ],
    base: .required,
    kernel: { group, args in
        guard let base = group.base?.values else { return [] }
        let p = args.precision
        let others = group.nonBase
        if others.isEmpty { return base }
        let n = base.count
        let m = others.count
        var tvs = others.map { ElementWise.difference($0.values, base) }
        for k in 0..<m { p.round(&tvs[k]) }
        let topk = args.double("select_topk")
        if topk < 1 {
            var keep = [Bool](repeating: false, count: n)
            if topk > 0 {
                var variance = [Float](repeating: 0, count: n)
                for i in 0..<n {
                    var mean = 0.0
                    for k in 0..<m { mean += Double(tvs[k][i]) }
                    mean /= Double(m)
                    var v = 0.0
                    for k in 0..<m { let d = Double(tvs[k][i]) - mean; v += d * d }
                    variance[i] = p.round(Float(v / Double(m)))
                }
                let nonzero = variance.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
                let k = Int(Double(nonzero) * topk)
                if k > 0 { keep = variance.withUnsafeBufferPointer { Sparsify.largestMagnitudeMask($0, keep: k, topk: true) } }
            }
            for k in 0..<m { for i in 0..<n where !keep[i] { tvs[k][i] = 0 } }
        }
        // Per-model weight: mean square of the task vector, normalised to sum to 1.
        var weights = tvs.map { tv -> Float in
            var s = 0.0
            for v in tv { s += Double(p.round(v * v)) }
            return p.round(Float(s / Double(max(1, n))))
        }
        let weightSum = p.round(Float(weights.reduce(0.0) { $0 + Double($1) }))
        weights = abs(weightSum) < 1e-6 ? [Float](repeating: p.round(1 / Float(m)), count: m) : weights.map { p.round($0 / weightSum) }
        var out = [Float](repeating: 0, count: n)
        for i in 0..<n {
            var total: Float = 0
            for k in 0..<m { total += tvs[k][i] }
            let positive = total >= 0
            var sum: Float = 0, div: Float = 0
            for k in 0..<m {
                let v = tvs[k][i]
                if positive ? v > 0 : v < 0 { sum += p.round(v * weights[k]); div += weights[k] }
            }
            out[i] = p.round(base[i] + p.round(p.round(sum) / max(p.round(div), 1e-6)))
        }
        return out
    })

/// Copies the one input, optionally scaled.
let passthroughMethod = MergeMethod(
    name: "passthrough",
    parameters: [ParameterSpec("scale", .optionalFloat, .input, default: ParameterValue.none)],
    maxInputs: 1,
    kernel: { group, args in
        let entry = group.entries[0]
        guard case .float(let scale) = args.value("scale", for: entry.model) else { return entry.values }
        let s = Float(scale)
        return entry.values.map { $0 * s }
    })

/// Arcee Fusion: take the fine-tune's change only where its importance (|Δ| times the KL
/// divergence of the rows' softmaxes) clears median + 1.5·IQR.
let arceeFusionMethod = MergeMethod(
    name: "arcee_fusion",
    parameters: [],
    base: .required, minInputs: 2, maxInputs: 2, optionalTensors: .passthroughSingleton,
    float32Result: true,
    kernel: { group, args in
        guard let base = group.base?.values, let tuned = group.nonBase.first?.values else { return [] }
        let pr = args.precision
        let n = base.count
        let rowLength = group.shape.last ?? n
        let rows = rowLength == 0 ? 0 : n / rowLength
        var importance = [Float](repeating: 0, count: n)
        var p = [Float](repeating: 0, count: rowLength), q = [Float](repeating: 0, count: rowLength)
        for r in 0..<rows {
            let start = r * rowLength
            softmax(tuned, start, rowLength, into: &p)
            softmax(base, start, rowLength, into: &q)
            var kl = 0.0
            for i in 0..<rowLength {
                let pi = pr.round(pr.round(p[i]) + 1e-8), qi = pr.round(pr.round(q[i]) + 1e-8)
                let term = pr.isReduced ? pr.round(pi * pr.round(log(pr.round(pi / qi)))) : pi * log(pi / qi)
                kl += Double(term)
            }
            let klValue = pr.round(Float(kl))
            for i in 0..<rowLength { importance[start + i] = pr.round(abs(pr.round(tuned[start + i] - base[start + i])) * klValue) }
        }
        // Exact quantiles (mergekit samples 1M entries of larger tensors).
        var scratch = importance
        func quantile(_ q: Float) -> Float { Select.kthSmallest(&scratch, Int(q * Float(n - 1))) }
        let q1 = quantile(0.25), median = quantile(0.5), q3 = quantile(0.75)
        let threshold = pr.round(median + pr.round(1.5 * pr.round(q3 - q1)))
        // The mask is float32, so with a BF16/F16 working dtype the result is float32.
        var out = base
        for i in 0..<n where importance[i] >= threshold { out[i] = base[i] + pr.round(tuned[i] - base[i]) }
        return out
    })

private func softmax(_ x: [Float], _ start: Int, _ count: Int, into out: inout [Float]) {
    var m = -Float.infinity
    for i in 0..<count { m = max(m, x[start + i]) }
    var s = 0.0
    for i in 0..<count { let e = exp(x[start + i] - m); out[i] = e; s += Double(e) }
    let total = Float(s)
    for i in 0..<count { out[i] /= total }
}

/// RAM: an element changed (|Δ| > ε) by one model takes that model's change; one changed by
/// several takes their average.
let ramMethod = MergeMethod(
    name: "ram",
    parameters: [ParameterSpec("epsilon", .float, default: .float(1e-5))],
    base: .required,
    kernel: { group, args in ram(group, epsilon: Float(args.double("epsilon")), r: nil, alpha: 0, precision: args.precision) })

/// RAM+ (tensor-local): as RAM, with each model's unique changes scaled up by 1 + r·clamp(ρ, 0, α),
/// ρ = its shared / unique change counts.
let ramplusMethod = MergeMethod(
    name: "ramplus_tl",
    parameters: [
        ParameterSpec("r", .float, default: .float(0.1)),
        ParameterSpec("alpha", .float, default: .float(0.2)),
        ParameterSpec("epsilon", .float, default: .float(1e-5)),
    ],
    base: .required, float32Result: true,
    kernel: { group, args in
        ram(group, epsilon: Float(args.double("epsilon")), r: Float(args.double("r")), alpha: Float(args.double("alpha")), precision: args.precision)
    })

private func ram(_ group: TensorGroup, epsilon: Float, r: Float?, alpha: Float, precision p: WorkingPrecision) -> [Float] {
    guard let base = group.base?.values else { return [] }
    let others = group.nonBase
    if others.isEmpty { return base }
    let n = base.count
    var tvs = others.map { ElementWise.difference($0.values, base) }
    for k in tvs.indices { p.round(&tvs[k]) }
    // torch compares with the scalar cast to the tensor's dtype.
    let eps = p.round(epsilon)
    var counts = [Int32](repeating: 0, count: n)
    for tv in tvs { for i in 0..<n where abs(tv[i]) > eps { counts[i] += 1 } }
    var lambdas = [Float](repeating: 1, count: tvs.count)
    if let r {
        for (k, tv) in tvs.enumerated() {
            var shared = 0, unique = 0
            for i in 0..<n where abs(tv[i]) > eps {
                if counts[i] > 1 { shared += 1 } else if counts[i] == 1 { unique += 1 }
            }
            let rho = Float(shared) / max(Float(unique), epsilon)
            lambdas[k] = 1 + r * min(alpha, max(0, rho))
        }
    }
    var out = [Float](repeating: 0, count: n)
    for i in 0..<n {
        var sum: Float = 0
        let c = counts[i]
        for (k, tv) in tvs.enumerated() {
            let v = abs(tv[i]) > eps ? tv[i] : 0
            let uniquePart = c == 1 ? v * lambdas[k] : 0
            let overlapPart = c > 1 ? p.round(v / Float(max(c, 1))) : 0
            sum += uniquePart + overlapPart
        }
        // RAM sums in the working dtype; RAM+ multiplies by a float32 λ, so its sum and result are float32.
        out[i] = r == nil ? p.round(base[i] + p.round(sum)) : base[i] + sum
    }
    return out
}
