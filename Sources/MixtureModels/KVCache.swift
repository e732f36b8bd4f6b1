import MixtureCore

/// Keys and values of every position seen so far, per layer, as `[position][kvHead * headDim]` Floats.
public final class KVCache: @unchecked Sendable {
    public let layerCount: Int
    /// Floats per position per layer: `num_key_value_heads * head_dim`.
    public let width: Int
    /// Number of positions committed.
    public private(set) var length = 0
    public private(set) var capacity: Int
    private var keys: [UnsafeMutablePointer<Float>]
    private var values: [UnsafeMutablePointer<Float>]

    public init(layerCount: Int, width: Int, capacity: Int = 256) {
        self.layerCount = layerCount
        self.width = width
        self.capacity = max(1, capacity)
        keys = (0..<layerCount).map { _ in .allocate(capacity: max(1, capacity) * width) }
        values = (0..<layerCount).map { _ in .allocate(capacity: max(1, capacity) * width) }
    }

    deinit {
        for p in keys { p.deallocate() }
        for p in values { p.deallocate() }
    }

    /// Makes room for `positions` positions in total, keeping what is stored.
    public func reserve(_ positions: Int) {
        guard positions > capacity else { return }
        var newCapacity = capacity
        while newCapacity < positions { newCapacity *= 2 }
        for l in 0..<layerCount {
            let k = UnsafeMutablePointer<Float>.allocate(capacity: newCapacity * width)
            let v = UnsafeMutablePointer<Float>.allocate(capacity: newCapacity * width)
            k.update(from: keys[l], count: length * width)
            v.update(from: values[l], count: length * width)
            keys[l].deallocate()
            values[l].deallocate()
            keys[l] = k
            values[l] = v
        }
        capacity = newCapacity
    }

    @inline(__always)
    public func key(layer: Int, position: Int) -> UnsafeMutablePointer<Float> { keys[layer] + position * width }

    @inline(__always)
    public func value(layer: Int, position: Int) -> UnsafeMutablePointer<Float> { values[layer] + position * width }

    /// Marks `count` more positions as filled (after every layer stored them).
    public func commit(_ count: Int) {
        precondition(length + count <= capacity)
        length += count
    }

    /// Forgets positions from `position` on (to reuse a shared prefix).
    public func truncate(to position: Int) {
        length = min(length, max(0, position))
    }
}
