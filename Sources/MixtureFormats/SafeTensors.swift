import Foundation
import MixtureCore

/// Element types a safetensors header may name, with their sizes.
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL, F8_E4M3, F8_E5M2

    public var byteSize: Int {
        switch self {
        case .F64, .I64, .U64: return 8
        case .F32, .I32, .U32: return 4
        case .F16, .BF16, .I16, .U16: return 2
        case .I8, .U8, .BOOL, .F8_E4M3, .F8_E5M2: return 1
        }
    }

    /// The compute-ready storage type, for the floating types weights come in.
    public var weightType: DType? { DType(rawValue: rawValue) }
}

/// One tensor's entry in a safetensors header.
public struct TensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: SafeTensorsDType
    public let shape: [Int]
    /// Byte range within the data section (after the header).
    public let dataRange: Range<Int>

    public var elementCount: Int { shape.reduce(1, *) }
}

/// A tensor whose bytes live in a mapped file.
public struct TensorView: @unchecked Sendable {
    public let info: TensorInfo
    public let base: UnsafeRawPointer
    /// The file that holds it, for error messages.
    public let path: String

    /// The tensor as a matrix: the last dimension is the columns, every other dimension folds into rows.
    /// A 1-D tensor is one row.
    public func matrix() throws -> WeightMatrix {
        guard let dtype = info.dtype.weightType else {
            throw MixtureError.invalidFile(path: path, reason: "tensor '\(info.name)' has dtype \(info.dtype.rawValue); weights must be F32, F16 or BF16")
        }
        let columns = info.shape.last ?? 1
        let rows = columns == 0 ? 0 : info.elementCount / columns
        return WeightMatrix(rows: rows, columns: columns, dtype: dtype, base: base)
    }

    /// All elements as Float (small tensors: norms, biases).
    public func floats() throws -> [Float] { try matrix().toFloats() }
}

/// A memory-mapped `.safetensors` file. Every header field, offset and size is checked before use.
///
/// Layout: 8-byte little-endian header length N, N bytes of JSON
/// (`{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}`), then the data.
public final class SafeTensorsFile: @unchecked Sendable {
    public let path: String
    public let tensors: [String: TensorInfo]
    public let metadata: [String: String]
    private let file: MappedFile
    private let dataStart: Int

    /// Headers above this size are refused (the reference library uses the same bound).
    public static let maximumHeaderSize = 100_000_000

    public init(path: String, residency: Residency = .mapped) throws {
        file = try MappedFile(path: path, residency: residency)
        self.path = path
        let header = try Self.parseHeader(UnsafeRawBufferPointer(start: file.bytes, count: file.size), path: path)
        tensors = header.tensors
        metadata = header.metadata
        dataStart = header.dataStart
    }

    /// What a header says, checked against the size of the file it heads.
    public struct Header {
        public let tensors: [String: TensorInfo]
        public let metadata: [String: String]
        /// Offset of the data section from the start of the file.
        public let dataStart: Int
    }

    /// Reads and checks the header of a whole safetensors file held in `bytes`.
    public static func parseHeader(_ bytes: UnsafeRawBufferPointer, path: String) throws -> Header {
        guard bytes.count >= 8 else {
            throw MixtureError.invalidFile(path: path, reason: "file is \(bytes.count) bytes, too short for a safetensors header")
        }
        let headerLength = bytes.loadUnaligned(as: UInt64.self).littleEndian
        guard headerLength <= UInt64(Self.maximumHeaderSize) else {
            throw MixtureError.invalidFile(path: path, reason: "header length \(headerLength) is implausible (not a safetensors file?)")
        }
        guard Int(headerLength) <= bytes.count - 8 else {
            throw MixtureError.invalidFile(path: path, reason: "file is truncated: header claims \(headerLength) bytes but only \(bytes.count - 8) follow")
        }
        let dataStart = 8 + Int(headerLength)
        let headerData = Data(bytes: bytes.baseAddress! + 8, count: Int(headerLength))
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: headerData)
        } catch {
            throw MixtureError.invalidFile(path: path, reason: "header is not valid JSON" + (JSONParser.problem(in: headerData).map { " (\($0))" } ?? ""))
        }
        guard let object = json as? [String: Any] else {
            throw MixtureError.invalidFile(path: path, reason: "header is not a JSON object")
        }
        let dataSize = bytes.count - dataStart
        var tensors: [String: TensorInfo] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in object {
            if name == "__metadata__" {
                guard let entries = value as? [String: Any] else {
                    throw MixtureError.invalidFile(path: path, reason: "__metadata__ is not an object")
                }
                for (k, v) in entries {
                    guard let s = v as? String else {
                        throw MixtureError.invalidFile(path: path, reason: "__metadata__ value for '\(k)' is not a string")
                    }
                    metadata[k] = s
                }
                continue
            }
            tensors[name] = try Self.parseEntry(name: name, value: value, path: path, dataSize: dataSize)
        }
        // Tensors must tile the data section exactly: no gaps, no overlaps, nothing missing at the end.
        let ordered = tensors.values.sorted { ($0.dataRange.lowerBound, $0.dataRange.upperBound) < ($1.dataRange.lowerBound, $1.dataRange.upperBound) }
        var expected = 0
        for info in ordered {
            guard info.dataRange.lowerBound == expected else {
                throw MixtureError.invalidFile(path: path, reason: "tensor '\(info.name)' starts at byte \(info.dataRange.lowerBound) of the data section, expected \(expected) (overlapping or missing data)")
            }
            expected = info.dataRange.upperBound
        }
        guard expected == dataSize else {
            throw MixtureError.invalidFile(path: path, reason: "data section holds \(dataSize) bytes but the tensors describe \(expected)")
        }
        return Header(tensors: tensors, metadata: metadata, dataStart: dataStart)
    }

    private static func parseEntry(name: String, value: Any, path: String, dataSize: Int) throws -> TensorInfo {
        guard let entry = value as? [String: Any] else {
            throw MixtureError.invalidFile(path: path, reason: "header entry '\(name)' is not an object")
        }
        guard let dtypeName = entry["dtype"] as? String else {
            throw MixtureError.invalidFile(path: path, reason: "tensor '\(name)' has no dtype")
        }
        guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
            throw MixtureError.invalidFile(path: path, reason: "tensor '\(name)' has unknown dtype '\(dtypeName)'")
        }
        guard let shapeValues = entry["shape"] as? [Any] else {
            throw MixtureError.invalidFile(path: path, reason: "tensor '\(name)' has no shape")
        }
        var shape: [Int] = []
        var elements = 1
        for dimension in shapeValues {
            guard let d = integer(dimension), d >= 0 else {
                throw MixtureError.invalidFile(path: path, reason: "tensor '\(name)' has an invalid shape \(shapeValues)")
            }
            let (product, overflow) = elements.multipliedReportingOverflow(by: d)
            guard !overflow else {
                throw MixtureError.invalidFile(path: path, reason: "tensor '\(name)' has an impossibly large shape \(shapeValues)")
            }
            elements = product
            shape.append(d)
        }
        guard let offsets = entry["data_offsets"] as? [Any], offsets.count == 2,
              let begin = integer(offsets[0]), let end = integer(offsets[1]) else {
            throw MixtureError.invalidFile(path: path, reason: "tensor '\(name)' has no valid data_offsets")
        }
        guard begin >= 0, begin <= end else {
            throw MixtureError.invalidFile(path: path, reason: "tensor '\(name)' has data_offsets [\(begin), \(end)] out of order")
        }
        let (bytes, overflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow, end - begin == bytes else {
            throw MixtureError.invalidFile(path: path, reason: "tensor '\(name)' spans \(end - begin) bytes but shape \(shape) of \(dtype.rawValue) needs \(bytes)")
        }
        guard end <= dataSize else {
            throw MixtureError.invalidFile(path: path, reason: "file is truncated: tensor '\(name)' ends at byte \(end) of the data section, which holds only \(dataSize)")
        }
        return TensorInfo(name: name, dtype: dtype, shape: shape, dataRange: begin..<end)
    }

    private static func integer(_ value: Any) -> Int? {
        if let i = value as? Int { return i }
        if let d = value as? Double, d == d.rounded(), abs(d) < 9.0e15 { return Int(d) }
        return nil
    }

    public func tensor(_ name: String) -> TensorView? {
        guard let info = tensors[name] else { return nil }
        return TensorView(info: info, base: file.bytes + dataStart + info.dataRange.lowerBound, path: path)
    }

    /// Bytes of the mapped file.
    public var mappedBytes: Int { file.size }

    /// Drops this tensor's pages from the process's resident set (see `MappedFile.release`).
    public func release(_ info: TensorInfo) {
        file.release((dataStart + info.dataRange.lowerBound)..<(dataStart + info.dataRange.upperBound))
    }
}
