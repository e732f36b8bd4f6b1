/// A read-only row-major matrix `[rows, columns]` in any storage dtype, usually a view into a
/// memory-mapped file. Rows are contiguous. Laid out as PyTorch stores a linear layer's weight:
/// one row per output feature.
public struct WeightMatrix: @unchecked Sendable {
    public let rows: Int
    public let columns: Int
    public let dtype: DType
    public let base: UnsafeRawPointer

    public init(rows: Int, columns: Int, dtype: DType, base: UnsafeRawPointer) {
        self.rows = rows
        self.columns = columns
        self.dtype = dtype
        self.base = base
    }

    public var byteCount: Int { rows * columns * dtype.byteSize }

    @inline(__always)
    public func rowPointer(_ row: Int) -> UnsafeRawPointer {
        base + row * columns * dtype.byteSize
    }

    /// Rows `range` as a matrix of their own (no copy).
    public func rows(_ range: Range<Int>) -> WeightMatrix {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows)
        return WeightMatrix(rows: range.count, columns: columns, dtype: dtype, base: rowPointer(range.lowerBound))
    }

    /// Element `(row, column)` as `Float` (slow path for tests and small vectors).
    public subscript(row: Int, column: Int) -> Float {
        ScalarConversion.load(base, row * columns + column, as: dtype)
    }

    /// Copies row `row` into `destination` as `Float`s.
    public func copyRow(_ row: Int, into destination: UnsafeMutablePointer<Float>) {
        ScalarConversion.convert(rowPointer(row), dtype: dtype, count: columns, into: destination)
    }

    /// All elements as `Float`s (for small vectors such as norm weights and biases).
    public func toFloats() -> [Float] {
        [Float](unsafeUninitializedCapacity: rows * columns) { buffer, count in
            ScalarConversion.convert(base, dtype: dtype, count: rows * columns, into: buffer.baseAddress!)
            count = rows * columns
        }
    }
}
