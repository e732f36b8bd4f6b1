import Foundation
import MixtureCore

/// One metadata value of a GGUF file.
public enum GGUFValue: Equatable, Sendable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case uint64(UInt64), int64(Int64), float32(Float), float64(Double), bool(Bool), string(String)
    /// Items of one element type (GGUF arrays are homogeneous; arrays of arrays are allowed).
    case array([GGUFValue])

    /// Any integer type, as Int (nil for other values and for a u64 past Int.max).
    public var integer: Int? {
        switch self {
        case .uint8(let v): return Int(v)
        case .int8(let v): return Int(v)
        case .uint16(let v): return Int(v)
        case .int16(let v): return Int(v)
        case .uint32(let v): return Int(v)
        case .int32(let v): return Int(v)
        case .uint64(let v): return v <= UInt64(Int.max) ? Int(v) : nil
        case .int64(let v): return Int(v)
        default: return nil
        }
    }

    public var number: Double? {
        switch self {
        // The shortest decimal that reads back as the same Float (1e-05 rather than 9.99999974e-06).
        case .float32(let v): return Double("\(v)") ?? Double(v)
        case .float64(let v): return v
        default: return integer.map(Double.init)
        }
    }

    public var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var bool: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var array: [GGUFValue]? {
        if case .array(let items) = self { return items }
        return nil
    }
}

/// One tensor of a GGUF file.
public struct GGUFTensorInfo: Equatable, Sendable {
    public let name: String
    /// ggml order: `dimensions[0]` is the fastest-varying (a matrix's columns).
    public let dimensions: [Int]
    public let type: GGMLType
    /// Byte offset of the data from the start of the file.
    public let offset: Int
    public let byteCount: Int

    public var elementCount: Int { dimensions.reduce(1, *) }
    /// Row-major shape as safetensors and transformers write it (slowest dimension first).
    public var shape: [Int] { dimensions.reversed() }
}

/// A GGUF file (versions 2 and 3), memory-mapped: header, metadata, tensor infos, and views of the
/// tensor data. Every count, length, offset, dimension and type is checked against the file before
/// it is used, with the same rules as llama.cpp's loader (tensors laid out in order at aligned
/// offsets, names and keys unique, at most 4 dimensions, rows of whole blocks).
public final class GGUFFile: @unchecked Sendable {
    public let path: String
    public let header: Header
    private let file: MappedFile

    public var metadata: [String: GGUFValue] { header.metadata }
    public var tensors: [GGUFTensorInfo] { header.tensors }

    public init(path: String) throws {
        file = try MappedFile(path: path)
        self.path = path
        header = try Self.parse(UnsafeRawBufferPointer(start: file.bytes, count: file.size), path: path)
    }

    public struct Header: Sendable {
        public let version: UInt32
        /// Keys in file order, and their values.
        public let keys: [String]
        public let metadata: [String: GGUFValue]
        /// Where each key/value entry (key, type and value) lies in the file, so that a writer can
        /// copy it byte for byte (an empty array keeps its item type that way).
        public let entryBytes: [String: Range<Int>]
        public let tensors: [GGUFTensorInfo]
        public let tensorIndex: [String: Int]
        public let alignment: Int
        public let dataStart: Int
    }

    /// A regular file that starts with the GGUF magic.
    public static func hasMagic(_ url: URL) -> Bool {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue,
              let handle = FileHandle(forReadingAtPath: url.path) else { return false }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: 4)) == Data("GGUF".utf8)
    }

    public func tensor(_ name: String) -> GGUFTensorInfo? {
        header.tensorIndex[name].map { header.tensors[$0] }
    }

    /// The raw bytes of one key/value entry, as stored in the file.
    public func entry(_ key: String) -> UnsafeRawBufferPointer? {
        header.entryBytes[key].map { UnsafeRawBufferPointer(start: file.bytes + $0.lowerBound, count: $0.count) }
    }

    /// The bytes of a tensor in the mapped file.
    public func data(of tensor: GGUFTensorInfo) -> UnsafeRawPointer { file.bytes + tensor.offset }

    /// A tensor converted to Float (types in `GGMLType.dequantizable`).
    public func floats(_ tensor: GGUFTensorInfo) throws -> [Float] {
        guard GGMLType.dequantizable.contains(tensor.type) else {
            throw MixtureError.invalidFile(path: path, reason: "tensor '\(tensor.name)' has type \(tensor.type), which cannot be read yet (supported: \(GGMLType.dequantizable.map(\.description).joined(separator: ", ")))")
        }
        var out = [Float](repeating: 0, count: tensor.elementCount)
        out.withUnsafeMutableBufferPointer { buffer in
            if let base = buffer.baseAddress { tensor.type.dequantize(data(of: tensor), count: tensor.elementCount, into: base) }
        }
        return out
    }

    public var mappedBytes: Int { file.size }

    /// Arrays nested deeper than this are refused (real files nest at most one level).
    public static let maximumArrayDepth = 8
    public static let maximumDimensions = 4

    /// Reads and checks everything before the tensor data of a whole GGUF file held in `bytes`.
    public static func parse(_ bytes: UnsafeRawBufferPointer, path: String) throws -> Header {
        var reader = Reader(bytes: bytes, path: path)
        func fail(_ reason: String) -> MixtureError { .invalidFile(path: path, reason: reason) }

        guard bytes.count >= 4, bytes.load(as: UInt32.self).littleEndian == 0x4655_4747 else {
            throw fail("not a GGUF file (it does not start with 'GGUF')")
        }
        reader.position = 4
        let version = try reader.uint32("version")
        guard version != 1 else { throw fail("GGUF version 1 is not supported (only 2 and 3, as llama.cpp)") }
        guard version == 2 || version == 3 else {
            if version.byteSwapped == 2 || version.byteSwapped == 3 {
                throw fail("big-endian GGUF files are not supported")
            }
            throw fail("GGUF version \(version) is not supported (only 2 and 3)")
        }
        let tensorCount = try reader.uint64("tensor count")
        let keyCount = try reader.uint64("metadata key count")
        // The smallest tensor info is 8 + 4 + 8 + 4 + 8 bytes; the smallest key/value 8 + 4 + 1.
        guard tensorCount <= UInt64(bytes.count / 32) else {
            throw fail("header claims \(tensorCount) tensors, more than the \(bytes.count)-byte file can describe")
        }
        guard keyCount <= UInt64(bytes.count / 13) else {
            throw fail("header claims \(keyCount) metadata keys, more than the \(bytes.count)-byte file can hold")
        }

        var keys: [String] = []
        var metadata: [String: GGUFValue] = [:]
        var entryBytes: [String: Range<Int>] = [:]
        for index in 0..<Int(keyCount) {
            let entryStart = reader.position
            let key = try reader.string("key of metadata entry \(index)")
            let type = try reader.uint32("type of '\(key)'")
            let value = try reader.value(type: type, key: key, depth: 0)
            guard metadata[key] == nil else { throw fail("metadata key '\(key)' appears twice") }
            metadata[key] = value
            entryBytes[key] = entryStart..<reader.position
            keys.append(key)
        }

        var alignment = 32
        if let value = metadata["general.alignment"] {
            guard case .uint32(let a) = value, a > 0, a & (a - 1) == 0 else {
                throw fail("general.alignment must be a u32 power of two, found \(value)")
            }
            alignment = Int(a)
        }

        struct Pending { let name: String; let dimensions: [Int]; let type: GGMLType; let relativeOffset: UInt64; let byteCount: Int }
        var pending: [Pending] = []
        var tensorIndex: [String: Int] = [:]
        for index in 0..<Int(tensorCount) {
            let name = try reader.string("name of tensor \(index)")
            let dimensionCount = try reader.uint32("dimension count of '\(name)'")
            guard dimensionCount >= 1, dimensionCount <= UInt32(maximumDimensions) else {
                throw fail("tensor '\(name)' has \(dimensionCount) dimensions (1 to \(maximumDimensions) allowed)")
            }
            var dimensions: [Int] = []
            var elements = 1
            for _ in 0..<Int(dimensionCount) {
                let raw = try reader.uint64("dimensions of '\(name)'")
                guard raw <= UInt64(Int.max) else { throw fail("tensor '\(name)' has a dimension of \(raw)") }
                let (product, overflow) = elements.multipliedReportingOverflow(by: Int(raw))
                guard !overflow else { throw fail("tensor '\(name)' has an impossibly large shape") }
                elements = product
                dimensions.append(Int(raw))
            }
            let rawType = try reader.uint32("type of '\(name)'")
            guard let type = GGMLType(rawValue: rawType) else {
                throw fail("tensor '\(name)' has unknown ggml type \(rawType)")
            }
            let perBlock = type.blockGeometry.elements
            guard dimensions[0] % perBlock == 0 else {
                throw fail("tensor '\(name)' has rows of \(dimensions[0]) elements, not a multiple of \(type)'s block of \(perBlock)")
            }
            guard let byteCount = type.byteCount(elements: elements) else {
                throw fail("tensor '\(name)' has an impossibly large shape \(dimensions)")
            }
            let relativeOffset = try reader.uint64("offset of '\(name)'")
            guard tensorIndex[name] == nil else { throw fail("tensor '\(name)' appears twice") }
            tensorIndex[name] = pending.count
            pending.append(Pending(name: name, dimensions: dimensions, type: type, relativeOffset: relativeOffset, byteCount: byteCount))
        }

        let (dataStart, overflow) = reader.position.addingReportingOverflow(alignment - 1)
        guard !overflow else { throw fail("header is impossibly large") }
        let alignedStart = dataStart / alignment * alignment
        // A file without tensors (a vocabulary-only GGUF) may end before the padding: llama.cpp
        // seeks past the end and reads nothing there.
        guard alignedStart <= bytes.count || pending.isEmpty else {
            throw fail("file is truncated: the tensor data would start at byte \(alignedStart), past the end (\(bytes.count) bytes)")
        }
        // Tensors are laid out in order, each at the aligned end of the one before (llama.cpp's rule).
        var expected = 0
        var tensors: [GGUFTensorInfo] = []
        tensors.reserveCapacity(pending.count)
        for p in pending {
            guard p.relativeOffset == UInt64(expected) else {
                throw fail("tensor '\(p.name)' has data offset \(p.relativeOffset), expected \(expected) (tensors must follow each other at \(alignment)-byte alignment)")
            }
            let start = alignedStart + expected
            guard p.byteCount <= bytes.count - start else {
                throw fail("file is truncated: tensor '\(p.name)' needs \(p.byteCount) bytes at offset \(start), but the file has \(bytes.count)")
            }
            tensors.append(GGUFTensorInfo(name: p.name, dimensions: p.dimensions, type: p.type, offset: start, byteCount: p.byteCount))
            let padded = (p.byteCount + alignment - 1) / alignment * alignment
            expected += padded
        }
        return Header(version: version, keys: keys, metadata: metadata, entryBytes: entryBytes, tensors: tensors,
                      tensorIndex: tensorIndex, alignment: alignment, dataStart: alignedStart)
    }

    /// Little-endian reads that check every length against the bytes left.
    struct Reader {
        let bytes: UnsafeRawBufferPointer
        let path: String
        var position = 0

        func truncated(_ what: String) -> MixtureError {
            .invalidFile(path: path, reason: "file is truncated: \(what) runs past the end (byte \(position) of \(bytes.count))")
        }

        mutating func fixed<T: FixedWidthInteger>(_ type: T.Type, _ what: String) throws -> T {
            guard bytes.count - position >= MemoryLayout<T>.size else { throw truncated(what) }
            let value = bytes.loadUnaligned(fromByteOffset: position, as: T.self)
            position += MemoryLayout<T>.size
            return T(littleEndian: value)
        }

        mutating func uint32(_ what: String) throws -> UInt32 { try fixed(UInt32.self, what) }
        mutating func uint64(_ what: String) throws -> UInt64 { try fixed(UInt64.self, what) }

        mutating func string(_ what: String) throws -> String {
            let length = try uint64(what)
            guard length <= UInt64(bytes.count - position) else {
                throw MixtureError.invalidFile(path: path, reason: "\(what): a string of \(length) bytes runs past the end of the file")
            }
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[position..<position + Int(length)]), as: UTF8.self)
            position += Int(length)
            return text
        }

        /// Bytes an item of `type` takes at least, for bounding array counts.
        static func minimumSize(of type: UInt32) -> Int? {
            switch type {
            case 0, 1, 7: return 1
            case 2, 3: return 2
            case 4, 5, 6: return 4
            case 10, 11, 12, 8: return 8
            case 9: return 12
            default: return nil
            }
        }

        mutating func value(type: UInt32, key: String, depth: Int) throws -> GGUFValue {
            switch type {
            case 0: return .uint8(try fixed(UInt8.self, "'\(key)'"))
            case 1: return .int8(try fixed(Int8.self, "'\(key)'"))
            case 2: return .uint16(try fixed(UInt16.self, "'\(key)'"))
            case 3: return .int16(try fixed(Int16.self, "'\(key)'"))
            case 4: return .uint32(try fixed(UInt32.self, "'\(key)'"))
            case 5: return .int32(try fixed(Int32.self, "'\(key)'"))
            case 6: return .float32(Float(bitPattern: try fixed(UInt32.self, "'\(key)'")))
            case 7:
                // llama.cpp reads any non-zero byte as true.
                return .bool(try fixed(UInt8.self, "'\(key)'") != 0)
            case 8: return .string(try string("'\(key)'"))
            case 9:
                guard depth < GGUFFile.maximumArrayDepth else {
                    throw MixtureError.invalidFile(path: path, reason: "metadata '\(key)': arrays nested deeper than \(GGUFFile.maximumArrayDepth) levels")
                }
                let itemType = try uint32("'\(key)'")
                guard let size = Self.minimumSize(of: itemType) else {
                    throw MixtureError.invalidFile(path: path, reason: "metadata '\(key)': unknown array item type \(itemType)")
                }
                let count = try uint64("'\(key)'")
                guard count <= UInt64((bytes.count - position) / size) else {
                    throw MixtureError.invalidFile(path: path, reason: "metadata '\(key)': an array of \(count) items cannot fit in the \(bytes.count - position) bytes left")
                }
                var items: [GGUFValue] = []
                items.reserveCapacity(Int(count))
                for _ in 0..<Int(count) { items.append(try value(type: itemType, key: key, depth: depth + 1)) }
                return .array(items)
            case 10: return .uint64(try fixed(UInt64.self, "'\(key)'"))
            case 11: return .int64(try fixed(Int64.self, "'\(key)'"))
            case 12: return .float64(Double(bitPattern: try fixed(UInt64.self, "'\(key)'")))
            default:
                throw MixtureError.invalidFile(path: path, reason: "metadata '\(key)': unknown value type \(type)")
            }
        }
    }
}
