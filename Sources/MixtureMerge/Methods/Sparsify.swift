import Foundation
import MixtureCore

/// How a task vector is thinned before merging (mergekit's SparsificationMethod).
enum Sparsification: Sendable {
    /// Keep the `density` fraction of largest magnitudes (TIES).
    case magnitude
    /// Keep each entry with probability `density` (DARE).
    case random
    /// Drop the `gamma` fraction of largest magnitudes, then the smallest, keeping `density` (breadcrumbs).
    case magnitudeOutliers
    /// Keep with a probability that grows with the magnitude rank within a row (DELLA).
    case dellaMagprune
}

enum Sparsify {
    /// Thins `delta` in place. `rescale`: match the L1 norm of the original (DARE/DELLA's rescaling).
    static func apply(_ method: Sparsification, to delta: UnsafeMutableBufferPointer<Float>, shape: [Int], density: Double,
                      gamma: Double, epsilon: Double, rescale: Bool, seed: UInt64, tensor: String,
                      precision: WorkingPrecision = .float32) throws {
        switch method {
        case .magnitude:
            if density >= 1 { return }
            if density <= 0 || delta.isEmpty { delta.update(repeating: 0); return }
            let k = max(1, Int(density * Double(delta.count)))
            let keep = largestMagnitudeMask(UnsafeBufferPointer(delta), keep: k)
            applyMask(delta, keep, rescale: rescale, precision: precision)
        case .magnitudeOutliers:
            if density >= 1 { return }
            let n = delta.count
            let target = Int(density * Double(n))
            let top = Int(gamma * Double(n))
            let bottom = max(0, n - target - top)
            let keep = rankWindowMask(UnsafeBufferPointer(delta), from: bottom, count: min(target, n - bottom))
            applyMask(delta, keep, rescale: rescale, precision: precision)
        case .random:
            if density >= 1 { return }
            var rng = SeededGenerator(seed: seed)
            let p = precision.round(Float(density))
            var keep = [Bool](repeating: false, count: delta.count)
            for i in 0..<delta.count { keep[i] = rng.nextUnitFloat() < p }
            applyMask(delta, keep, rescale: rescale, precision: precision)
        case .dellaMagprune:
            if density >= 1 { return }
            if density <= 0 { delta.update(repeating: 0); return }
            guard density + epsilon < 1, density - epsilon > 0 else {
                throw MixtureError.invalidArgument("\(tensor): epsilon must be chosen so that density ± epsilon stays in (0, 1) (density \(density), epsilon \(epsilon))")
            }
            let keep = dellaMask(UnsafeBufferPointer(delta), shape: shape, density: density, epsilon: epsilon, seed: seed)
            applyMask(delta, keep, rescale: rescale, precision: precision)
        }
    }

    /// Zeroes the dropped entries; with `rescale`, scales the kept ones so the L1 norm is unchanged.
    static func applyMask(_ d: UnsafeMutableBufferPointer<Float>, _ keep: [Bool], rescale: Bool, precision: WorkingPrecision = .float32) {
        if !rescale {
            for i in 0..<d.count where !keep[i] { d[i] = 0 }
            return
        }
        var before = 0.0, after = 0.0
        for i in 0..<d.count {
            let a = Double(abs(d[i]))
            before += a
            if keep[i] { after += a } else { d[i] = 0 }
        }
        let b = precision.round(Float(before)), a = precision.round(Float(after))
        guard rescale, b >= 1e-7, a >= 1e-7 else { return }
        let factor = precision.round(b / a)
        for i in 0..<d.count { d[i] = precision.round(d[i] * factor) }
    }

    /// Marks the `k` entries of largest magnitude, breaking ties as torch's argsort does (or as
    /// torch.topk does, with `topk`).
    static func largestMagnitudeMask(_ values: UnsafeBufferPointer<Float>, keep k: Int, topk: Bool = false) -> [Bool] {
        let n = values.count
        if k >= n { return [Bool](repeating: true, count: n) }
        // torch.topk: std::nth_element when k > n / 64 (std::partial_sort below that, whose heap
        // order among ties is not replayed here).
        let order = TorchSortOrder.order(magnitudesOf: values, descending: true, boundaries: [k], finalRun: topk && k * 64 > n ? 3 : 16)
        var keep = [Bool](repeating: false, count: n)
        for i in 0..<k { keep[Int(order[i])] = true }
        return keep
    }

    /// Marks the entries whose ascending magnitude rank is in `from ..< from + count` (torch's
    /// order among equal magnitudes).
    static func rankWindowMask(_ values: UnsafeBufferPointer<Float>, from start: Int, count: Int) -> [Bool] {
        let n = values.count
        var keep = [Bool](repeating: false, count: n)
        guard count > 0 else { return keep }
        let order = TorchSortOrder.order(magnitudesOf: values, descending: false, boundaries: [start, start + count])
        for i in start..<(start + count) { keep[Int(order[i])] = true }
        return keep
    }

    /// DELLA's MagPrune: along dimension 1 (the columns of a matrix; a vector is one row), the
    /// entry of magnitude rank r (1 = smallest) of m is kept with probability
    /// density - ε + 2ε·(r-1)/(m-1).
    static func dellaMask(_ values: UnsafeBufferPointer<Float>, shape: [Int], density: Double, epsilon: Double, seed: UInt64) -> [Bool] {
        let dims = shape.count < 2 ? [1, values.count] : shape
        let outer = dims[0]
        let m = dims[1]
        let inner = dims.count > 2 ? dims[2...].reduce(1, *) : 1
        var keep = [Bool](repeating: false, count: values.count)
        var rng = SeededGenerator(seed: seed)
        let low = Float(density - epsilon)
        let span = Float(2 * epsilon)
        var order = [Int](repeating: 0, count: m)
        var probability = [Float](repeating: 0, count: values.count)
        for o in 0..<outer {
            for j in 0..<inner {
                let base = o * m * inner + j
                for r in 0..<m { order[r] = r }
                order.sort { abs(values[base + $0 * inner]) < abs(values[base + $1 * inner]) }
                for (rank, r) in order.enumerated() {
                    let norm: Float = m > 1 ? Float(rank) / Float(m - 1) : 0.5
                    probability[base + r * inner] = low + norm * span
                }
            }
        }
        for i in 0..<values.count { keep[i] = rng.nextUnitFloat() < probability[i] }
        return keep
    }
}

/// Masks come from `SeededGenerator` streams (SplitMix64): same seed, same masks, whatever the
/// thread count.
extension SeededGenerator {
    /// Uniform in [0, 1) with 24 bits.
    mutating func nextUnitFloat() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }

    /// A seed for one stream, mixed from the run's seed and a name.
    static func derive(_ seed: UInt64, _ name: String, _ index: Int = 0) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in name.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        var mix = SeededGenerator(seed: seed ^ h ^ (UInt64(index) &* 0x9E37_79B9_7F4A_7C15))
        return mix.next()
    }
}

enum Select {
    /// The value that would be at index `k` of `values` sorted ascending (quickselect; reorders
    /// `values`). NaN-free input assumed (magnitudes of weights).
    static func kthSmallest(_ values: inout [Float], _ k: Int) -> Float {
        precondition(k >= 0 && k < values.count)
        return values.withUnsafeMutableBufferPointer { a -> Float in
            var lo = 0, hi = a.count - 1
            while hi - lo > 16 {
                // Median of three as pivot.
                let mid = lo + (hi - lo) / 2
                if a[mid] < a[lo] { a.swapAt(mid, lo) }
                if a[hi] < a[lo] { a.swapAt(hi, lo) }
                if a[hi] < a[mid] { a.swapAt(hi, mid) }
                let pivot = a[mid]
                var i = lo, j = hi
                while i <= j {
                    while a[i] < pivot { i += 1 }
                    while a[j] > pivot { j -= 1 }
                    if i <= j { a.swapAt(i, j); i += 1; j -= 1 }
                }
                if k <= j { hi = j } else if k >= i { lo = i } else { return a[k] }
            }
            // Small range: insertion sort.
            if lo < hi {
                for x in (lo + 1)...hi {
                    let v = a[x]
                    var y = x - 1
                    while y >= lo && a[y] > v { a[y + 1] = a[y]; y -= 1 }
                    a[y + 1] = v
                }
            }
            return a[k]
        }
    }
}

/// Which elements torch's `sort` / `argsort` (CPU, not stable) puts in given position ranges,
/// ties included. torch sorts with libstdc++'s introsort (median-of-three pivot moved to the front,
/// unguarded partition, insertion sort of the final runs of ≤ 16). Its choice among equal values
/// depends on that exact sequence of swaps, so this replays it, but only down the partitions that
/// contain a boundary: the sets on either side of a partition never change afterwards, and the
/// final insertion sort is stable and never moves an element across runs. Linear time on average.
///
/// Keys are non-negative (magnitudes): their IEEE bits order like their values, so each element is
/// one UInt64 (key bits high, index low) and a swap moves 8 bytes.
enum TorchSortOrder {
    /// Returns the original indices in torch's order, correct as sets between consecutive
    /// `boundaries` (positions into the sorted order).
    static func order(_ keys: [Float], descending: Bool, boundaries: [Int]) -> [Int32] {
        keys.withUnsafeBufferPointer { order(magnitudesOf: $0, descending: descending, boundaries: boundaries, absolute: false) }
    }

    /// As `order`, with the keys |values[i]|.
    /// `finalRun` is the size below which libstdc++ stops partitioning: 16 for `std::sort`
    /// (torch.sort / argsort), 3 for `std::nth_element` (torch.topk when k > n / 64).
    static func order(magnitudesOf values: UnsafeBufferPointer<Float>, descending: Bool, boundaries: [Int], absolute: Bool = true,
                      finalRun: Int = 16) -> [Int32] {
        let n = values.count
        guard n > 1 else { return (0..<n).map { Int32($0) } }
        let packed = UnsafeMutablePointer<UInt64>.allocate(capacity: n)
        defer { packed.deallocate() }
        for i in 0..<n {
            let bits = absolute ? (values[i].bitPattern & 0x7FFF_FFFF) : values[i].bitPattern
            packed[i] = UInt64(bits) << 32 | UInt64(i)
        }
        if descending {
            Replay<Descending>(v: packed, boundaries: boundaries, finalRun: finalRun).run(n)
        } else {
            Replay<Ascending>(v: packed, boundaries: boundaries, finalRun: finalRun).run(n)
        }
        return (0..<n).map { Int32(truncatingIfNeeded: packed[$0] & 0xFFFF_FFFF) }
    }

    protocol Direction { static func less(_ x: UInt64, _ y: UInt64) -> Bool }
    enum Descending: Direction {
        @inline(__always) static func less(_ x: UInt64, _ y: UInt64) -> Bool { (x >> 32) > (y >> 32) }
    }
    enum Ascending: Direction {
        @inline(__always) static func less(_ x: UInt64, _ y: UInt64) -> Bool { (x >> 32) < (y >> 32) }
    }

    struct Replay<D: Direction> {
        let v: UnsafeMutablePointer<UInt64>
        let boundaries: [Int]
        let finalRun: Int

        @inline(__always) func swap(_ i: Int, _ j: Int) { let t = v[i]; v[i] = v[j]; v[j] = t }

        func moveMedianToFirst(_ result: Int, _ x: Int, _ y: Int, _ z: Int) {
            if D.less(v[x], v[y]) {
                if D.less(v[y], v[z]) { swap(result, y) } else if D.less(v[x], v[z]) { swap(result, z) } else { swap(result, x) }
            } else if D.less(v[x], v[z]) { swap(result, x) } else if D.less(v[y], v[z]) { swap(result, z) } else { swap(result, y) }
        }

        func partition(_ lo: Int, _ hi: Int) -> Int {
            moveMedianToFirst(lo, lo + 1, lo + (hi - lo) / 2, hi - 1)
            var first = lo + 1, last = hi
            let pivot = v[lo]
            while true {
                while D.less(v[first], pivot) { first += 1 }
                last -= 1
                while D.less(pivot, v[last]) { last -= 1 }
                if !(first < last) { return first }
                swap(first, last)
                first += 1
            }
        }

        /// Stable insertion sort of a final run (what libstdc++'s last pass does to it).
        func finish(_ lo: Int, _ hi: Int) {
            guard hi - lo > 1 else { return }
            for i in (lo + 1)..<hi {
                let t = v[i]
                var j = i
                while j > lo && D.less(t, v[j - 1]) { v[j] = v[j - 1]; j -= 1 }
                v[j] = t
            }
        }

        /// Depth limit reached (libstdc++ switches to heapsort there; not seen on weights): a
        /// stable sort, so the result is at least deterministic.
        func stableSort(_ lo: Int, _ hi: Int) {
            var items = Array(UnsafeBufferPointer(start: v + lo, count: hi - lo))
            items.sort { D.less($0, $1) || (!D.less($1, $0) && ($0 & 0xFFFF_FFFF) < ($1 & 0xFFFF_FFFF)) }
            for (i, x) in items.enumerated() { v[lo + i] = x }
        }

        func splits(_ lo: Int, _ hi: Int) -> Bool { boundaries.contains { $0 > lo && $0 < hi } }

        func select(_ lo: Int, _ hi: Int, _ depth: Int) {
            var hi = hi, depth = depth
            while hi - lo > finalRun {
                if !splits(lo, hi) { return }
                if depth == 0 { stableSort(lo, hi); return }
                depth -= 1
                let cut = partition(lo, hi)
                select(cut, hi, depth)
                hi = cut
            }
            if splits(lo, hi) { finish(lo, hi) }
        }

        func run(_ n: Int) {
            var log2n = 0
            while (1 << (log2n + 1)) <= n { log2n += 1 }
            select(0, n, 2 * log2n)
        }
    }
}
