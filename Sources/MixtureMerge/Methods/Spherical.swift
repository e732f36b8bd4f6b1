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
        var v0 = others[0].values, v1 = others[1].values
        let base = group.base?.values
        if let base {
            v0 = ElementWise.difference(v0, base)
            v1 = ElementWise.difference(v1, base)
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
            let d0 = max(Float(n0.squareRoot()), 1e-7), d1 = max(Float(n1.squareRoot()), 1e-7)
            var c = 0.0
            for k in 0..<length { c += Double(v0[index(k)] / d0) * Double(v1[index(k)] / d1) }
            let cosTheta = min(1, max(-1, Float(c)))
            let colinear = (1 - cosTheta * cosTheta) <= Float(1e-16)
            if colinear {
                for k in 0..<length { out[index(k)] = omt * v0[index(k)] + tf * v1[index(k)] }
            } else {
                let theta = acos(cosTheta)
                let s = sin(theta)
                let a = sin(omt * theta), b = sin(tf * theta)
                for k in 0..<length { out[index(k)] = (a * v0[index(k)] + b * v1[index(k)]) / s }
            }
        }
        if let base { ElementWise.accumulate(&out, base, scale: 1, baseFirst: false) }
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
        let base = group.base?.values
        let n = group.count
        let eps = Float(args.double("eps"))
        let vectors = others.map { base == nil ? $0.values : ElementWise.difference($0.values, base!) }
        var weights = others.map { Float(args.double("weight", for: $0.model)) }
        if args.bool("normalize_weights") {
            let sum = weights.reduce(0, +)
            weights = weights.map { $0 / sum }
        }
        let norms = vectors.map { Vec.norm($0) }
        let units = zip(vectors, norms).map { v, norm in v.map { $0 / (norm + eps) } }
        var mean = [Float](repeating: 0, count: n)
        for (u, w) in zip(units, weights) { for i in 0..<n { mean[i] += u[i] * w } }
        let meanNorm = Vec.norm(mean)
        if meanNorm < eps {
            if vectors.count == 2 {
                var out = [Float](repeating: 0, count: n)
                for i in 0..<n { out[i] = vectors[0][i] * weights[0] + vectors[1][i] * weights[1] }
                if let base { ElementWise.accumulate(&out, base, scale: 1) }
                return out
            }
            throw MixtureError.invalidArgument("\(group.name): multislerp: the weighted sum of the input tensors is zero (antipodal inputs with balancing weights); use different weights")
        }
        for i in 0..<n { mean[i] /= meanNorm }
        var tangent = [Float](repeating: 0, count: n)
        for (u, w) in zip(units, weights) {
            let d = Float(Vec.dot(u, mean))
            for i in 0..<n { tangent[i] += (u[i] - d * mean[i]) * w }
        }
        let tangentNorm = Vec.norm(tangent) + eps
        let c = cos(tangentNorm), s = sin(tangentNorm) / tangentNorm
        var averageNorm: Float = 0
        for (norm, w) in zip(norms, weights) { averageNorm += norm * w }
        var out = [Float](repeating: 0, count: n)
        for i in 0..<n { out[i] = (mean[i] * c + tangent[i] * s) * averageNorm }
        if let base { ElementWise.accumulate(&out, base, scale: 1) }
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
        let n = group.count
        let maxIter = args.int("max_iter")
        let tol = Float(args.double("tol"))
        let alphas = [Double](repeating: 1.0 / Double(tensors.count), count: tensors.count)
        let norms = tensors.map { Vec.norm($0) }
        let units = zip(tensors, norms).map { t, norm in norm == 0 ? [Float](repeating: 0, count: n) : t.map { $0 / norm } }
        let valid = norms.indices.filter { norms[$0] > tol }
        if valid.isEmpty { return [Float](repeating: 0, count: n) }
        let alphaSum = valid.reduce(0.0) { $0 + alphas[$1] }
        let weights = valid.map { Float(alphas[$0] / alphaSum) }
        let validUnits = valid.map { units[$0] }
        var mean = [Float](repeating: 0, count: n)
        for (w, u) in zip(weights, validUnits) { for i in 0..<n { mean[i] += w * u[i] } }
        let meanNorm = Vec.norm(mean)
        if meanNorm < tol { mean = validUnits[0] } else { for i in 0..<n { mean[i] /= meanNorm } }
        for _ in 0..<max(0, maxIter) {
            var tangent = [Float](repeating: 0, count: n)
            for (w, u) in zip(weights, validUnits) {
                let d = min(1, max(-1, Float(Vec.dot(mean, u))))
                let theta = acos(d)
                if theta < tol { continue }
                let scale = w * (theta / sin(theta))
                for i in 0..<n { tangent[i] += scale * (u[i] - d * mean[i]) }
            }
            let tangentNorm = Vec.norm(tangent)
            if tangentNorm < tol { break }
            let c = cos(tangentNorm), s = sin(tangentNorm)
            for i in 0..<n { mean[i] = c * mean[i] + s * (tangent[i] / tangentNorm) }
            let unitNorm = Vec.norm(mean)
            if unitNorm > tol { for i in 0..<n { mean[i] /= unitNorm } }
        }
        var scale: Float = 0
        for (a, norm) in zip(alphas, norms) { scale += Float(a) * norm }
        return mean.map { $0 * scale }
    })
