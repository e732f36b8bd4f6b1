import Foundation
import MixtureCore

/// Weighted average: Σ wᵢ·xᵢ (÷ Σ wᵢ with `normalize`).
let linearMethod = MergeMethod(
    name: "linear",
    parameters: [
        ParameterSpec("weight", .float, .input),
        ParameterSpec("normalize", .bool, default: .bool(true)),
    ],
    kernel: { group, args in
        let n = group.count
        var result = [Float](repeating: 0, count: n)
        var denominator: Float = 0
        for entry in group.entries {
            let w = Float(args.double("weight", for: entry.model))
            denominator += w
            ElementWise.accumulate(&result, entry.values, scale: w)
        }
        if args.bool("normalize") {
            ElementWise.map(&result) { $0 / denominator }
        }
        return result
    })

/// Task arithmetic and its sparsified / sign-consensus variants (TIES, DARE, breadcrumbs, DELLA):
/// base + λ · Σ wᵢ·sparsify(xᵢ - base) [÷ Σ wᵢ, per element under consensus].
func gta(_ name: String, sparsification: Sparsification?, consensus: Bool, normalize: Bool, rescale: Bool) -> MergeMethod {
    var parameters = [
        ParameterSpec("int8_mask", .bool, default: .bool(false)),
        ParameterSpec("normalize", .bool, default: .bool(normalize)),
        ParameterSpec("rescale", .bool, default: .bool(rescale)),
        ParameterSpec("lambda", .float, default: .float(1)),
        ParameterSpec("weight", .float, .nonBase),
        ParameterSpec("density", .float, .nonBase, default: .float(1)),
    ]
    if sparsification == .magnitudeOutliers { parameters.append(ParameterSpec("gamma", .float, .nonBase, default: .float(0.01))) }
    if sparsification == .dellaMagprune { parameters.append(ParameterSpec("epsilon", .float, .nonBase, default: .float(0.15))) }
    return MergeMethod(
        name: name, parameters: parameters, base: .required,
        stochastic: sparsification == .random || sparsification == .dellaMagprune,
        kernel: { group, args in
            guard let base = group.base else { return [] }
            let others = group.nonBase
            if others.isEmpty { return base.values }
            let n = group.count
            // In a BF16/F16 working dtype torch rounds after every operation; so do we.
            let precision = args.precision
            let reduced = precision.isReduced
            // Weighted (and thinned) task vectors, one after another in one buffer. Large tensors
            // work on the inputs concurrently, each input's steps in sequence.
            let m = others.count
            var stacked = [Float](repeating: 0, count: n * m)
            let weights = others.map { precision.round(Float(args.double("weight", for: $0.model))) }
            let rescale = args.bool("rescale")
            var failure: Error?
            let lock = NSLock()
            stacked.withUnsafeMutableBufferPointer { sb in
                let ps = sb.baseAddress!
                base.values.withUnsafeBufferPointer { bb in
                    let pb = bb.baseAddress!
                    let work = { (index: Int) in
                        let entry = others[index]
                        let d = UnsafeMutableBufferPointer(start: ps + index * n, count: n)
                        entry.values.withUnsafeBufferPointer { e in
                            for i in 0..<n { d[i] = e[i] - pb[i] }
                        }
                        precision.round(d.baseAddress!, count: n)
                        if let sparsification {
                            do {
                                try Sparsify.apply(sparsification, to: d, shape: group.shape,
                                                   density: args.double("density", for: entry.model),
                                                   gamma: args.perInput[entry.model]?["gamma"]?.double ?? 0,
                                                   epsilon: args.perInput[entry.model]?["epsilon"]?.double ?? 0,
                                                   rescale: rescale,
                                                   seed: SeededGenerator.derive(args.seed, group.name, index), tensor: group.name,
                                                   precision: precision)
                            } catch {
                                lock.lock(); failure = error; lock.unlock()
                            }
                        }
                        let w = weights[index]
                        for i in 0..<n { d[i] *= w }
                        precision.round(d.baseAddress!, count: n)
                    }
                    if m > 1 && n >= ElementWise.grain && Parallel.threadCount > 1 {
                        Parallel.run(shares: m, work)
                    } else {
                        for index in 0..<m { work(index) }
                    }
                }
            }
            if let failure { throw failure }
            var mixed = [Float](repeating: 0, count: n)
            let doNormalize = args.bool("normalize")
            if consensus {
                var divisor = [Float](repeating: 0, count: n)
                ElementWise.signConsensus(stacked, count: others.count, weights: weights, mixed: &mixed, divisor: &divisor)
                if reduced {
                    precision.round(&mixed)
                    precision.round(&divisor)
                    ElementWise.map(&divisor) { $0 == 0 ? 1 : $0 }
                }
                if doNormalize {
                    ElementWise.divide(&mixed, by: divisor)
                    precision.round(&mixed)
                }
            } else {
                stacked.withUnsafeBufferPointer { s in
                    mixed.withUnsafeMutableBufferPointer { mb in
                        let ps = s.baseAddress!, pm = mb.baseAddress!
                        let m = others.count
                        Parallel.forRanges(n, alignment: 16, minimumPerThread: ElementWise.grain) { r in
                            for i in r {
                                var sum: Float = 0
                                for k in 0..<m { sum += ps[k * n + i] }
                                pm[i] = sum
                            }
                        }
                    }
                }
                precision.round(&mixed)
                var divisor = precision.round(weights.reduce(0, +))
                if abs(divisor) < 1e-8 { divisor = 1 }
                if doNormalize {
                    ElementWise.map(&mixed) { $0 / divisor }
                    precision.round(&mixed)
                }
            }
            let lambda = args.double("lambda")
            if lambda != 1 {
                let l = Float(lambda)
                ElementWise.map(&mixed) { $0 * l }
                precision.round(&mixed)
            }
            ElementWise.accumulate(&mixed, base.values, scale: 1, baseFirst: true)
            return mixed
        })
}

/// Element-wise loops, split over the worker threads for large tensors.
enum ElementWise {
    static let grain = 1 << 16

    static func map(_ values: inout [Float], _ f: (Float) -> Float) {
        values.withUnsafeMutableBufferPointer { v in
            let p = v.baseAddress!
            Parallel.forRanges(v.count, alignment: 16, minimumPerThread: grain) { r in
                for i in r { p[i] = f(p[i]) }
            }
        }
    }

    /// `acc += x · scale` (`baseFirst`: `acc = x + acc`, the operand order of `base + mixed`).
    static func accumulate(_ acc: inout [Float], _ x: [Float], scale: Float, baseFirst: Bool = false) {
        acc.withUnsafeMutableBufferPointer { a in
            x.withUnsafeBufferPointer { xb in
                let pa = a.baseAddress!, px = xb.baseAddress!
                Parallel.forRanges(a.count, alignment: 16, minimumPerThread: grain) { r in
                    if scale == 1 {
                        if baseFirst { for i in r { pa[i] = px[i] + pa[i] } } else { for i in r { pa[i] += px[i] } }
                    } else {
                        for i in r { pa[i] += px[i] * scale }
                    }
                }
            }
        }
    }

    static func difference(_ a: [Float], _ b: [Float]) -> [Float] {
        var out = [Float](repeating: 0, count: a.count)
        out.withUnsafeMutableBufferPointer { o in
            a.withUnsafeBufferPointer { ab in
                b.withUnsafeBufferPointer { bb in
                    let po = o.baseAddress!, pa = ab.baseAddress!, pb = bb.baseAddress!
                    Parallel.forRanges(o.count, alignment: 16, minimumPerThread: grain) { r in
                        for i in r { po[i] = pa[i] - pb[i] }
                    }
                }
            }
        }
        return out
    }

    static func divide(_ values: inout [Float], by divisor: [Float]) {
        values.withUnsafeMutableBufferPointer { v in
            divisor.withUnsafeBufferPointer { d in
                let pv = v.baseAddress!, pd = d.baseAddress!
                Parallel.forRanges(v.count, alignment: 16, minimumPerThread: grain) { r in
                    for i in r { pv[i] = pv[i] / pd[i] }
                }
            }
        }
    }

    /// TIES sign election: per element the sign of Σ deltas wins (ties go positive); only deltas
    /// with that sign are summed, and `divisor` gets the sum of their weights (1 where none).
    static func signConsensus(_ stacked: [Float], count m: Int, weights: [Float], mixed: inout [Float], divisor: inout [Float]) {
        let n = mixed.count
        stacked.withUnsafeBufferPointer { sb in
            mixed.withUnsafeMutableBufferPointer { mb in
                divisor.withUnsafeMutableBufferPointer { db in
                    let ps = sb.baseAddress!, pm = mb.baseAddress!, pd = db.baseAddress!
                    weights.withUnsafeBufferPointer { wb in
                        let pw = wb.baseAddress!
                        Parallel.forRanges(n, alignment: 16, minimumPerThread: grain) { r in
                            var i = r.lowerBound
                            while i + 8 <= r.upperBound {
                                var total = SIMD8<Float>()
                                for k in 0..<m { total += UnsafeRawPointer(ps + k * n + i).loadUnaligned(as: SIMD8<Float>.self) }
                                let positive = total .>= 0
                                var sum = SIMD8<Float>(), div = SIMD8<Float>()
                                for k in 0..<m {
                                    let v = UnsafeRawPointer(ps + k * n + i).loadUnaligned(as: SIMD8<Float>.self)
                                    let agrees = (positive .& (v .> 0)) .| (.!positive .& (v .< 0))
                                    sum += v.replacing(with: 0, where: .!agrees)
                                    div += SIMD8<Float>(repeating: pw[k]).replacing(with: 0, where: .!agrees)
                                }
                                UnsafeMutableRawPointer(pm + i).storeBytes(of: sum, as: SIMD8<Float>.self)
                                UnsafeMutableRawPointer(pd + i).storeBytes(of: div.replacing(with: 1, where: div .== 0), as: SIMD8<Float>.self)
                                i += 8
                            }
                            while i < r.upperBound {
                                var total: Float = 0
                                for k in 0..<m { total += ps[k * n + i] }
                                let positive = total >= 0
                                var sum: Float = 0, div: Float = 0
                                for k in 0..<m {
                                    let v = ps[k * n + i]
                                    if positive ? v > 0 : v < 0 { sum += v; div += pw[k] }
                                }
                                pm[i] = sum
                                pd[i] = div == 0 ? 1 : div
                                i += 1
                            }
                        }
                    }
                }
            }
        }
    }

}
