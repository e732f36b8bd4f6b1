import Foundation
import MixtureCore

/// Writes `.safetensors` files. Data is produced tensor by tensor through a closure, so a file of
/// any size streams to disk without being held in memory. The file appears atomically: it is written
/// under a temporary name and renamed at the end.
public struct SafeTensorsWriter {
    public struct Entry {
        public var name: String
        public var dtype: SafeTensorsDType
        public var shape: [Int]
        /// Fills the tensor's bytes (exactly `byteCount` of them). An error it throws abandons the
        /// file (nothing is left at the destination) and reaches the caller unchanged.
        public var fill: (UnsafeMutableRawBufferPointer) throws -> Void

        public init(name: String, dtype: SafeTensorsDType, shape: [Int], fill: @escaping (UnsafeMutableRawBufferPointer) throws -> Void) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.fill = fill
        }

        public init(name: String, floats: [Float], shape: [Int], dtype: DType = .float32) {
            precondition(floats.count == shape.reduce(1, *), "\(name): \(floats.count) values for shape \(shape)")
            self.init(name: name, dtype: SafeTensorsDType(rawValue: dtype.rawValue)!, shape: shape) { buffer in
                SafeTensorsWriter.store(floats, as: dtype, into: buffer)
            }
        }

        public var byteCount: Int { shape.reduce(1, *) * dtype.byteSize }
    }

    /// Floats written as `dtype` (rounded to nearest even for F16 and BF16).
    public static func store(_ floats: [Float], as dtype: DType, into buffer: UnsafeMutableRawBufferPointer) {
        switch dtype {
        case .float32:
            for (i, v) in floats.enumerated() { buffer.storeBytes(of: v, toByteOffset: i * 4, as: Float.self) }
        case .bfloat16:
            for (i, v) in floats.enumerated() { buffer.storeBytes(of: ScalarConversion.bfloat16Bits(from: v), toByteOffset: i * 2, as: UInt16.self) }
        case .float16:
            for (i, v) in floats.enumerated() { buffer.storeBytes(of: ScalarConversion.float16Bits(from: v), toByteOffset: i * 2, as: UInt16.self) }
        }
    }

    /// The header JSON (keys sorted, as the reference library writes them), padded with spaces to a
    /// multiple of 8 bytes.
    public static func header(for entries: [Entry], metadata: [String: String]) -> Data {
        var offset = 0
        var parts: [String] = []
        if !metadata.isEmpty {
            let fields = metadata.keys.sorted().map { "\($0.jsonQuoted):\(metadata[$0]!.jsonQuoted)" }
            parts.append("\"__metadata__\":{\(fields.joined(separator: ","))}")
        }
        var ranges: [String: (Int, Int)] = [:]
        for entry in entries {
            ranges[entry.name] = (offset, offset + entry.byteCount)
            offset += entry.byteCount
        }
        for entry in entries.sorted(by: { $0.name < $1.name }) {
            let (b, e) = ranges[entry.name]!
            let shape = entry.shape.map(String.init).joined(separator: ",")
            parts.append("\(entry.name.jsonQuoted):{\"dtype\":\"\(entry.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(b),\(e)]}")
        }
        var json = "{" + parts.joined(separator: ",") + "}"
        while json.utf8.count % 8 != 0 { json += " " }
        return Data(json.utf8)
    }

    /// Writes `entries` (data in the given order) to `url`.
    public static func write(_ entries: [Entry], metadata: [String: String] = [:], to url: URL) throws {
        let header = header(for: entries, metadata: metadata)
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).partial-\(ProcessInfo.processInfo.processIdentifier)")
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
            throw MixtureError.invalidFile(path: url.path, reason: "cannot create file")
        }
        do {
            let handle = try FileHandle(forWritingTo: temporary)
            defer { try? handle.close() }
            var length = UInt64(header.count).littleEndian
            try handle.write(contentsOf: Data(bytes: &length, count: 8))
            try handle.write(contentsOf: header)
            for entry in entries {
                let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, entry.byteCount), alignment: 64)
                defer { buffer.deallocate() }
                let region = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<entry.byteCount])
                try entry.fill(region)
                try handle.write(contentsOf: Data(bytesNoCopy: buffer.baseAddress!, count: entry.byteCount, deallocator: .none))
            }
            try handle.synchronize()
        } catch let error as MixtureError {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw MixtureError.invalidFile(path: url.path, reason: "write failed: \(error.localizedDescription)")
        }
        if FileManager.default.fileExists(atPath: url.path) { try FileManager.default.removeItem(at: url) }
        try FileManager.default.moveItem(at: temporary, to: url)
    }
}
