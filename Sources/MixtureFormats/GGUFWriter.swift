import Foundation
import MixtureCore

/// Writes GGUF files (version 3, little-endian) as ggml's gguf writer lays them out: the header,
/// key/value entries in order, tensor infos in order, padding to the alignment, then each tensor's
/// data padded to the alignment. Tensor data streams through a closure, one tensor at a time; the
/// file is written under a temporary name beside the destination and renamed at the end.
public struct GGUFWriter {
    /// One metadata entry: a value to encode, or an entry copied byte for byte from another file.
    public enum Entry {
        case value(String, GGUFValue)
        case raw(String, [UInt8])

        public var key: String {
            switch self {
            case .value(let key, _), .raw(let key, _): return key
            }
        }
    }

    public struct Tensor {
        public var name: String
        /// ggml order: the row length first.
        public var dimensions: [Int]
        public var type: GGMLType
        /// Fills exactly `byteCount` bytes.
        public var fill: (UnsafeMutableRawBufferPointer) throws -> Void

        public init(name: String, dimensions: [Int], type: GGMLType, fill: @escaping (UnsafeMutableRawBufferPointer) throws -> Void) {
            self.name = name
            self.dimensions = dimensions
            self.type = type
            self.fill = fill
        }

        public var byteCount: Int { type.byteCount(elements: dimensions.reduce(1, *)) ?? 0 }
    }

    public var entries: [Entry]
    public var tensors: [Tensor]
    public var alignment: Int

    public init(entries: [Entry], tensors: [Tensor], alignment: Int = 32) {
        self.entries = entries
        self.tensors = tensors
        self.alignment = alignment
    }

    static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    static func append(string: String, to bytes: inout [UInt8]) {
        append(UInt64(string.utf8.count), to: &bytes)
        bytes.append(contentsOf: string.utf8)
    }

    /// GGUF's value type tag.
    static func typeTag(_ value: GGUFValue) -> UInt32 {
        switch value {
        case .uint8: return 0
        case .int8: return 1
        case .uint16: return 2
        case .int16: return 3
        case .uint32: return 4
        case .int32: return 5
        case .float32: return 6
        case .bool: return 7
        case .string: return 8
        case .array: return 9
        case .uint64: return 10
        case .int64: return 11
        case .float64: return 12
        }
    }

    /// The value alone (no tag), as GGUF stores it.
    static func appendPayload(_ value: GGUFValue, to bytes: inout [UInt8]) {
        switch value {
        case .uint8(let v): append(v, to: &bytes)
        case .int8(let v): append(v, to: &bytes)
        case .uint16(let v): append(v, to: &bytes)
        case .int16(let v): append(v, to: &bytes)
        case .uint32(let v): append(v, to: &bytes)
        case .int32(let v): append(v, to: &bytes)
        case .float32(let v): append(v.bitPattern, to: &bytes)
        case .bool(let v): append(UInt8(v ? 1 : 0), to: &bytes)
        case .string(let s): append(string: s, to: &bytes)
        case .uint64(let v): append(v, to: &bytes)
        case .int64(let v): append(v, to: &bytes)
        case .float64(let v): append(v.bitPattern, to: &bytes)
        case .array(let items):
            // An empty array has no item to take a type from; it is written as an array of u8.
            append(items.first.map(typeTag) ?? 0, to: &bytes)
            append(UInt64(items.count), to: &bytes)
            for item in items { appendPayload(item, to: &bytes) }
        }
    }

    /// The bytes of one key/value entry.
    public static func encode(_ entry: Entry) -> [UInt8] {
        switch entry {
        case .raw(_, let bytes):
            return bytes
        case .value(let key, let value):
            var bytes: [UInt8] = []
            append(string: key, to: &bytes)
            append(typeTag(value), to: &bytes)
            appendPayload(value, to: &bytes)
            return bytes
        }
    }

    func padded(_ n: Int) -> Int { (n + alignment - 1) / alignment * alignment }

    /// Everything before the first tensor's data, padding included.
    public func header() -> [UInt8] {
        var bytes: [UInt8] = Array("GGUF".utf8)
        Self.append(UInt32(3), to: &bytes)
        Self.append(UInt64(tensors.count), to: &bytes)
        Self.append(UInt64(entries.count), to: &bytes)
        for entry in entries { bytes.append(contentsOf: Self.encode(entry)) }
        var offset = 0
        for tensor in tensors {
            Self.append(string: tensor.name, to: &bytes)
            Self.append(UInt32(tensor.dimensions.count), to: &bytes)
            for d in tensor.dimensions { Self.append(UInt64(d), to: &bytes) }
            Self.append(tensor.type.rawValue, to: &bytes)
            Self.append(UInt64(offset), to: &bytes)
            offset += padded(tensor.byteCount)
        }
        bytes.append(contentsOf: [UInt8](repeating: 0, count: padded(bytes.count) - bytes.count))
        return bytes
    }

    /// Writes the file to `url` (replacing what is there), calling `progress(done, total)` after each
    /// tensor. Nothing appears at `url` unless every tensor was written.
    public func write(to url: URL, progress: (Int, Int) -> Void = { _, _ in }) throws {
        var keys = Set<String>()
        for entry in entries where !keys.insert(entry.key).inserted {
            throw MixtureError.invalidArgument("\(url.path): metadata key '\(entry.key)' given twice")
        }
        var names = Set<String>()
        for tensor in tensors where !names.insert(tensor.name).inserted {
            throw MixtureError.invalidArgument("\(url.path): tensor '\(tensor.name)' given twice")
        }
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).partial-\(ProcessInfo.processInfo.processIdentifier)")
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
            throw MixtureError.invalidFile(path: url.path, reason: "cannot create file")
        }
        do {
            let handle = try FileHandle(forWritingTo: temporary)
            defer { try? handle.close() }
            try handle.write(contentsOf: Data(header()))
            for (index, tensor) in tensors.enumerated() {
                let count = tensor.byteCount, total = padded(count)
                let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, total), alignment: 64)
                defer { buffer.deallocate() }
                buffer.initializeMemory(as: UInt8.self, repeating: 0)
                try tensor.fill(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count]))
                try handle.write(contentsOf: Data(bytesNoCopy: buffer.baseAddress!, count: total, deallocator: .none))
                progress(index + 1, tensors.count)
            }
            try handle.synchronize()
        } catch let error as MixtureError {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw MixtureError.invalidFile(path: url.path, reason: "write failed: \(error.localizedDescription)")
        }
        // rename(2) replaces the destination in one step: a reader sees the old file or the new one.
        guard rename(temporary.path, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw MixtureError.invalidFile(path: url.path, reason: "cannot move the finished file into place: \(reason)")
        }
    }
}
