import Foundation

/// Measures read bandwidth the way a matrix-vector product uses it: a dot product of two large Float
/// arrays split over the kernel threads. Best of `repetitions` passes, in bytes per second.
public enum MemoryBandwidth {
    public static func measure(megabytes: Int = 256, repetitions: Int = 5) -> Double {
        let count = megabytes * 1_048_576 / 4 / 2
        let a = UnsafeMutablePointer<Float>.allocate(capacity: count)
        let b = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { a.deallocate(); b.deallocate() }
        Parallel.forRanges(count, alignment: 1024) { range in
            for i in range { a[i] = Float(i & 1023) * 1e-3; b[i] = 1 - Float(i & 511) * 1e-3 }
        }
        var best = Double.infinity
        var sink: Float = 0
        let clock = ContinuousClock()
        for _ in 0..<repetitions {
            let threads = Parallel.threadCount
            var partial = [Float](repeating: 0, count: threads)
            let began = clock.now
            partial.withUnsafeMutableBufferPointer { sums in
                Parallel.run(shares: threads) { share in
                    let range = Parallel.evenShare(share, of: threads, count: count, alignment: 1024)
                    sums[share] = Dot.product(a + range.lowerBound, b + range.lowerBound, count: range.count)
                }
            }
            let elapsed = clock.now - began
            let (s, atto) = elapsed.components
            best = min(best, Double(s) + Double(atto) * 1e-18)
            sink += partial.reduce(0, +)
        }
        if sink.isNaN { print("") }
        return Double(count * 8) / best
    }
}

/// Peak and current resident memory of this process, from /proc/self/status (Linux).
public enum ProcessMemory {
    public static func residentBytes() -> (current: Int, peak: Int) {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return (0, 0) }
        func field(_ name: String) -> Int {
            for line in status.split(separator: "\n") where line.hasPrefix(name + ":") {
                let digits = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
                return digits * 1024
            }
            return 0
        }
        return (field("VmRSS"), field("VmHWM"))
    }
}
