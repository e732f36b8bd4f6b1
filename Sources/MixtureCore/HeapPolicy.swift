import CMixtureSupport

/// Forwards and merges allocate and free buffers of megabytes many times a second. By default glibc
/// serves each with a fresh `mmap` and unmaps it on free, so every forward pays page faults and the
/// kernel's zeroing for all of its scratch memory (13% of a 128-token MoE prefill, measured).
/// Keeping large blocks in the heap lets the next forward reuse the same pages. Process-wide and
/// idempotent; model loaders call it. Memory freed stays with the process, up to the largest
/// forward's scratch.
public enum HeapPolicy {
    private static let applied: Bool = mixture_keep_large_allocations_in_heap() == 1

    @discardableResult
    public static func keepLargeAllocationsInHeap() -> Bool { applied }
}
