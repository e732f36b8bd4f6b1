/// A heap buffer of `Float`s, zero-initialised, freed with its owner. Kernels take its pointer.
public final class FloatBuffer: @unchecked Sendable {
    public let count: Int
    public let pointer: UnsafeMutablePointer<Float>

    public init(count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(1, count))
        pointer.initialize(repeating: 0, count: max(1, count))
    }

    deinit { pointer.deallocate() }

    public subscript(index: Int) -> Float {
        get { pointer[index] }
        set { pointer[index] = newValue }
    }

    /// Row `row` of a row-major matrix with `width` columns.
    @inline(__always)
    public func row(_ row: Int, width: Int) -> UnsafeMutablePointer<Float> { pointer + row * width }

    public func array(_ range: Range<Int>) -> [Float] { Array(UnsafeBufferPointer(start: pointer + range.lowerBound, count: range.count)) }

    public func zero() { pointer.update(repeating: 0, count: count) }

    /// Adds `bias` to each of the first `rows` rows (row width = `bias.count`): a linear layer's bias.
    public func addToRows(_ bias: [Float], rows: Int) {
        let width = bias.count
        for t in 0..<rows { axpy(1, bias, row(t, width: width), count: width) }
    }
}
