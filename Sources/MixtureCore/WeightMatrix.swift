/// A read-only row-major matrix `[rows, columns]` in any storage type, usually a view into a
/// memory-mapped file. Rows are contiguous. Laid out as PyTorch stores a linear layer's weight:
/// one row per output feature.
///
/// Rows are either plain elements of `dtype` (F32/F16/BF16), or, when `blocks` is set, ggml
/// quantized blocks of that type as a GGUF file stores them (each row a whole number of blocks);
/// the kernels then read the blocks in place and `dtype` is `.float32`, the type they compute in.
public struct WeightMatrix: @unchecked Sendable {
    public let rows: Int
    public let columns: Int
    public let dtype: DType
    public let base: UnsafeRawPointer
    /// The ggml block type of the rows, or nil for plain `dtype` elements.
    public let blocks: GGMLType?
    /// Bytes from one row to the next.
    public let rowBytes: Int

    public init(rows: Int, columns: Int, dtype: DType, base: UnsafeRawPointer) {
        self.rows = rows
        self.columns = columns
        self.dtype = dtype
        self.base = base
        self.blocks = nil
        self.rowBytes = columns * dtype.byteSize
    }

    /// Rows of ggml blocks; `columns` must be a whole number of blocks (the caller checks it).
    public init(rows: Int, columns: Int, blocks: GGMLType, base: UnsafeRawPointer) {
        let bytes = blocks.byteCount(elements: columns)
        precondition(bytes != nil, "\(columns) columns are not whole \(blocks) blocks")
        self.rows = rows
        self.columns = columns
        self.dtype = .float32
        self.base = base
        self.blocks = blocks
        self.rowBytes = bytes!
    }

    private init(copying m: WeightMatrix, rows: Int, base: UnsafeRawPointer) {
        self.rows = rows
        self.columns = m.columns
        self.dtype = m.dtype
        self.base = base
        self.blocks = m.blocks
        self.rowBytes = m.rowBytes
    }

    public var byteCount: Int { rows * rowBytes }

    /// The storage type's name as GGUF and safetensors spell it (`Q4_K`, `BF16`, ...).
    public var typeName: String { blocks?.description ?? dtype.rawValue }

    @inline(__always)
    public func rowPointer(_ row: Int) -> UnsafeRawPointer {
        base + row * rowBytes
    }

    /// Rows `range` as a matrix of their own (no copy).
    public func rows(_ range: Range<Int>) -> WeightMatrix {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows)
        return WeightMatrix(copying: self, rows: range.count, base: rowPointer(range.lowerBound))
    }

    /// Element `(row, column)` as `Float` (slow path for tests and small vectors).
    public subscript(row: Int, column: Int) -> Float {
        guard let blocks else { return ScalarConversion.load(base, row * columns + column, as: dtype) }
        let (perBlock, bytes) = blocks.blockGeometry
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: perBlock) { block in
            blocks.dequantize(rowPointer(row) + (column / perBlock) * bytes, count: perBlock, into: block.baseAddress!)
            return block[column % perBlock]
        }
    }

    /// Copies row `row` into `destination` as `Float`s.
    public func copyRow(_ row: Int, into destination: UnsafeMutablePointer<Float>) {
        convertRows(row..<(row + 1), into: destination)
    }

    /// Rows `range` (contiguous) widened or dequantized into `destination` as `Float`s.
    public func convertRows(_ range: Range<Int>, into destination: UnsafeMutablePointer<Float>) {
        if let blocks {
            QuantizedKernels.dequantize(rowPointer(range.lowerBound), blocks, count: range.count * columns, into: destination)
        } else {
            ScalarConversion.convert(rowPointer(range.lowerBound), dtype: dtype, count: range.count * columns, into: destination)
        }
    }

    /// All elements as `Float`s (for small vectors such as norm weights and biases).
    public func toFloats() -> [Float] {
        [Float](unsafeUninitializedCapacity: rows * columns) { buffer, count in
            if rows * columns > 0 { convertRows(0..<rows, into: buffer.baseAddress!) }
            count = rows * columns
        }
    }

    /// Row `row` · `x` (`columns` floats) in the row's storage type.
    @inline(__always)
    public func dot(row: Int, _ x: UnsafePointer<Float>) -> Float {
        if let blocks { return QuantizedKernels.dot(rowPointer(row), blocks, x, count: columns) }
        return Dot.product(rowPointer(row), dtype, x, count: columns)
    }
}
