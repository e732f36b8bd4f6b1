import Dispatch
import Foundation

/// The worker threads kernels split their work over. A fixed number of equal shares keeps the
/// split deterministic, so results never depend on scheduling.
public enum Parallel {
    nonisolated(unsafe) private static var configuredThreadCount = ProcessInfo.processInfo.activeProcessorCount

    /// Number of threads used by kernels (default: the number of active cores).
    public static var threadCount: Int {
        get { configuredThreadCount }
        set { configuredThreadCount = max(1, newValue) }
    }

    /// Runs `body(share)` for `share` in `0..<shares`, concurrently when there is more than one.
    @inline(__always)
    public static func run(shares: Int, _ body: (Int) -> Void) {
        if shares <= 1 {
            body(0)
        } else {
            DispatchQueue.concurrentPerform(iterations: shares, execute: body)
        }
    }

    /// Splits `0..<count` into `threadCount` contiguous ranges (aligned to `alignment`) and runs them
    /// concurrently. Small counts run on the calling thread.
    public static func forRanges(_ count: Int, alignment: Int = 1, minimumPerThread: Int = 1,
                                 _ body: (Range<Int>) -> Void) {
        let threads = min(threadCount, max(1, count / max(1, minimumPerThread)))
        if threads <= 1 {
            if count > 0 { body(0..<count) }
            return
        }
        run(shares: threads) { share in
            let range = evenShare(share, of: threads, count: count, alignment: alignment)
            if !range.isEmpty { body(range) }
        }
    }

    /// The `share`-th of `shares` contiguous pieces of `0..<count`, boundaries rounded to `alignment`.
    public static func evenShare(_ share: Int, of shares: Int, count: Int, alignment: Int = 1) -> Range<Int> {
        func boundary(_ s: Int) -> Int {
            if s >= shares { return count }
            let raw = count * s / shares
            return min(count, (raw + alignment - 1) / alignment * alignment)
        }
        return boundary(share)..<boundary(share + 1)
    }
}
