import Foundation
import MixtureCore

/// Vector helpers in the precision mergekit uses (Float values, sums accumulated wider).
enum Vec {
    static func dot(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>) -> Double {
        var s = 0.0
        for i in 0..<a.count { s += Double(a[i]) * Double(b[i]) }
        return s
    }
    static func norm(_ a: UnsafeBufferPointer<Float>) -> Float { Float(dot(a, a).squareRoot()) }
    static func norm(_ a: [Float]) -> Float { a.withUnsafeBufferPointer { norm($0) } }
    static func dot(_ a: [Float], _ b: [Float]) -> Double {
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in dot(pa, pb) } }
    }
}

/// Spherical interpolation from the base (t = 0) to the other model (t = 1), over each tensor as
/// one flat vector; nearly parallel tensors fall back to linear interpolation.
let slerpMethod = MergeMethod(
    name: "slerp",
    parameters: [ParameterSpec("t", .float)],
    base: .required, minInputs: 2, maxInputs: 2, optionalTensors: .passthroughSingleton,
    kernel: { group, args in
        guard let base = group.base, let other = group.nonBase.first else { return [] }
        let t = Float(args.double("t"))
        let a = base.values, b = other.values
        if a.isEmpty { return [] }
        var na = Vec.norm(a), nb = Vec.norm(b)
        if !(na > 1e-8) { na = 1 }
        if !(nb > 1e-8) { nb = 1 }
        var dotSum = 0.0
        for i in 0..<a.count { dotSum += Double(a[i] / na) * Double(b[i] / nb) }
        let dot = min(1, max(-1, Float(dotSum)))
        let ca: Float, cb: Float
        if abs(dot) > 0.9995 {
            ca = 1 - t
            cb = t
        } else {
            let theta = acos(dot)
            let s = sin(theta)
            ca = sin((1 - t) * theta) / s
            cb = sin(t * theta) / s
        }
        var out = [Float](repeating: 0, count: a.count)
        for i in 0..<a.count { out[i] = ca * a[i] + cb * b[i] }
        return out
    })

/// Slerp between two models (relative to the base when there is one), at t = w₂ / (w₁ + w₂);
/// over the whole tensor (`nuslerp_flatten`), or per row / per column.
let nuslerpMethod = MergeMethod(
    name: "nuslerp",
    parameters: [
        ParameterSpec("weight", .float, .nonBase),
        ParameterSpec("nuslerp_row_wise", .bool, default: .bool(false)),
        ParameterSpec("nuslerp_flatten", .bool, default: .bool(true)),
    ],
    base: .optional, minNonBase: 2, maxNonBase: 2, optionalTensors: .passthroughSingleton,
    kernel: { group, args in
        let others = group.nonBase
        let w0 = args.double("weight", for: others[0].model), w1 = args.double("weight", for: others[1].model)
        let total = w0 + w1
        let t = abs(total) < 1e-6 ? 0.5 : w1 / total
        let p = args.precision
        var v0 = others[0].values, v1 = others[1].values
        let base = group.base?.values
        if let base {
            v0 = ElementWise.difference(v0, base)
            v1 = ElementWise.difference(v1, base)
            p.round(&v0)
            p.round(&v1)
        }
        let flatten = args.bool("nuslerp_flatten")
        let rowWise = args.bool("nuslerp_row_wise")
        let n = v0.count
        // Vectors: the whole tensor, or along the last axis, or along the first axis (row_wise).
        let length: Int, stride: Int, vectors: Int
        if flatten || group.shape.count <= 1 {
            length = n; stride = 1; vectors = 1
        } else if rowWise {
            length = group.shape[0]; stride = n / max(1, group.shape[0]); vectors = stride
        } else {
            length = group.shape.last!; stride = 1; vectors = n / max(1, length)
        }
        var out = [Float](repeating: 0, count: n)
        let tf = Float(t), omt = Float(1 - t)
        for v in 0..<vectors {
            let start = stride == 1 ? v * length : v
            func index(_ k: Int) -> Int { start + k * stride }
            var n0 = 0.0, n1 = 0.0
            for k in 0..<length {
                n0 += Double(v0[index(k)]) * Double(v0[index(k)])
                n1 += Double(v1[index(k)]) * Double(v1[index(k)])
            }
            let d0 = max(p.round(Float(n0.squareRoot())), 1e-7), d1 = max(p.round(Float(n1.squareRoot())), 1e-7)
            var c = 0.0
            for k in 0..<length { c += Double(p.round(p.round(v0[index(k)] / d0) * p.round(v1[index(k)] / d1))) }
            let cosTheta = min(1, max(-1, p.round(Float(c))))
            let colinear = p.round(1 - p.round(cosTheta * cosTheta)) <= Float(1e-16)
            if colinear {
                for k in 0..<length { out[index(k)] = p.round(p.round(omt * v0[index(k)]) + p.round(tf * v1[index(k)])) }
            } else {
                let theta = p.round(acos(cosTheta))
                let s = p.round(sin(theta))
                let a = p.round(sin(p.round(omt * theta))), b = p.round(sin(p.round(tf * theta)))
                for k in 0..<length {
                    out[index(k)] = p.round(p.round(p.round(a * v0[index(k)]) + p.round(b * v1[index(k)])) / s)
                }
            }
        }
        if let base {
            ElementWise.accumulate(&out, base, scale: 1, baseFirst: false)
            p.round(&out)
        }
        return out
    })

/// Barycentric interpolation on the hypersphere: project the (base-relative) models onto the unit
/// sphere, average in the tangent space at their weighted mean, map back, restore the mean norm.
let multislerpMethod = MergeMethod(
    name: "multislerp",
    parameters: [
        ParameterSpec("weight", .float, .nonBase),
        ParameterSpec("normalize_weights", .bool, default: .bool(true)),
        ParameterSpec("eps", .float, default: .float(1e-8)),
    ],
    base: .optional, minNonBase: 1,
    kernel: { group, args in
        let others = group.nonBase
        if others.count == 1 { return others[0].values }
        let p = args.precision
        let base = group.base?.values
        let n = group.count
        let eps = Float(args.double("eps"))
        var vectors = others.map { base == nil ? $0.values : ElementWise.difference($0.values, base!) }
        for k in vectors.indices { p.round(&vectors[k]) }
        var weights = others.map { p.round(Float(args.double("weight", for: $0.model))) }
        if args.bool("normalize_weights") {
            let sum = p.round(weights.reduce(0, +))
            weights = weights.map { p.round($0 / sum) }
        }
        let norms = vectors.map { p.round(Vec.norm($0)) }
        let units = zip(vectors, norms).map { v, norm in v.map { p.round($0 / p.round(norm + eps)) } }
        func weightedSum(_ xs: [[Float]]) -> [Float] {
            var out = [Float](repeating: 0, count: n)
            for (x, w) in zip(xs, weights) { for i in 0..<n { out[i] += p.round(x[i] * w) } }
            p.round(&out)
            return out
        }
        var mean = weightedSum(units)
        let meanNorm = p.round(Vec.norm(mean))
        if meanNorm < eps {
            if vectors.count == 2 {
                var out = [Float](repeating: 0, count: n)
                for i in 0..<n { out[i] = p.round(p.round(vectors[0][i] * weights[0]) + p.round(vectors[1][i] * weights[1])) }
                if let base { ElementWise.accumulate(&out, base, scale: 1); p.round(&out) }
                return out
            }
            throw MixtureError.invalidArgument("\(group.name): multislerp: the weighted sum of the input tensors is zero (antipodal inputs with balancing weights); use different weights")
        }
        for i in 0..<n { mean[i] = p.round(mean[i] / meanNorm) }
        let tangents = units.map { u -> [Float] in
            var d = 0.0
            for i in 0..<n { d += Double(p.round(u[i] * mean[i])) }
            let dot = p.round(Float(d))
            return (0..<n).map { p.round(u[$0] - p.round(dot * mean[$0])) }
        }
        let tangent = weightedSum(tangents)
        let tangentNorm = p.round(p.round(Vec.norm(tangent)) + eps)
        let c = p.round(cos(tangentNorm)), s = p.round(p.round(sin(tangentNorm)) / tangentNorm)
        var averageNorm = 0.0
        for (norm, w) in zip(norms, weights) { averageNorm += Double(p.round(norm * w)) }
        let average = p.round(Float(averageNorm))
        var out = [Float](repeating: 0, count: n)
        for i in 0..<n { out[i] = p.round(p.round(p.round(mean[i] * c) + p.round(tangent[i] * s)) * average) }
        if let base { ElementWise.accumulate(&out, base, scale: 1); p.round(&out) }
        return out
    })

/// The weighted Karcher (Riemannian) mean of the inputs' directions on the unit sphere, scaled by
/// their mean norm.
let karcherMethod = MergeMethod(
    name: "karcher",
    parameters: [
        ParameterSpec("max_iter", .int, default: .int(10)),
        ParameterSpec("tol", .float, default: .float(1e-5)),
    ],
    kernel: { group, args in
        let tensors = group.entries.map(\.values)
        if tensors.count == 1 { return tensors[0] }
        // Norms in float32; the unit vectors and the mean live in the working dtype (rounded
        // after each operation when it is BF16/F16), as in mergekit.
        let p = args.precision
        let n = group.count
        let maxIter = args.int("max_iter")
        let tol = Float(args.double("tol"))
        let alphas = [Double](repeating: 1.0 / Double(tensors.count), count: tensors.count)
        let norms = tensors.map { Vec.norm($0) }
        let units = zip(tensors, norms).map { t, norm in norm == 0 ? [Float](repeating: 0, count: n) : t.map { p.round($0 / norm) } }
        let valid = norms.indices.filter { norms[$0] > tol }
        if valid.isEmpty { return [Float](repeating: 0, count: n) }
        let alphaSum = valid.reduce(0.0) { $0 + alphas[$1] }
        let weights = valid.map { Float(alphas[$0] / alphaSum) }
        let validUnits = valid.map { units[$0] }
        var mean = [Float](repeating: 0, count: n)
        for (w, u) in zip(weights, validUnits) { for i in 0..<n { mean[i] = p.round(mean[i] + p.round(w * u[i])) } }
        let meanNorm = Vec.norm(mean)
        if meanNorm < tol { mean = validUnits[0] } else { for i in 0..<n { mean[i] = p.round(mean[i] / meanNorm) } }
        for _ in 0..<max(0, maxIter) {
            var tangent = [Float](repeating: 0, count: n)
            for (w, u) in zip(weights, validUnits) {
                var d = 0.0
                for i in 0..<n { d += Double(mean[i]) * Double(u[i]) }
                let dot = min(1, max(-1, p.round(Float(d))))
                let theta = p.round(acos(dot))
                if theta < tol { continue }
                let scale = p.round(w * p.round(theta / p.round(sin(theta))))
                for i in 0..<n { tangent[i] = p.round(tangent[i] + p.round(scale * p.round(u[i] - p.round(dot * mean[i])))) }
            }
            let tangentNorm = Vec.norm(tangent)
            if tangentNorm < tol { break }
            // torch casts a 0-dim float32 factor to the tensor's dtype before multiplying
            // (dividing by one keeps it float32).
            let c = p.round(cos(tangentNorm)), s = p.round(sin(tangentNorm))
            for i in 0..<n { mean[i] = p.round(p.round(c * mean[i]) + p.round(s * p.round(tangent[i] / tangentNorm))) }
            let unitNorm = Vec.norm(mean)
            if unitNorm > tol { for i in 0..<n { mean[i] = p.round(mean[i] / unitNorm) } }
        }
        var scale: Float = 0
        for (a, norm) in zip(alphas, norms) { scale += Float(a) * norm }
        let factor = p.round(scale)
        return mean.map { p.round($0 * factor) }
    })
