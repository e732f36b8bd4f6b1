import Foundation
import MixtureCore
import MixtureFormats

/// A GGUF file quantized into another, as llama-quantize writes it: the input's metadata in order
/// (with general.quantization_version and general.file_type set last, split keys dropped), the
/// tensors in llama.cpp's order (by layer, then by name), each in the type the recipe picks, quantized with ggml's
/// own rounding (GGMLQuantize), so that the output is byte for byte llama-quantize's.
public enum GGUFQuantization {
    public struct Options {
        public var recipe: QuantizationRecipe.Options
        /// Quantize tensors that are already quantized (dequantized first), as --allow-requantize.
        public var allowRequantize = false
        /// Importance weights by tensor name: `columns × experts` values (llama.cpp's imatrix).
        public var importance: [String: [Float]] = [:]

        public init(fileType: QuantizationRecipe.FileType) { recipe = .init(fileType: fileType) }
    }

    public struct Planned {
        public let info: GGUFTensorInfo
        public let type: GGMLType
        public var bytes: Int { type.byteCount(elements: info.elementCount) ?? 0 }
    }

    public struct Plan {
        public let writer: GGUFWriter
        public let tensors: [Planned]
        public let fallbacks: [String]
        public var inputBytes: Int { tensors.reduce(0) { $0 + $1.info.byteCount } }
        public var outputBytes: Int { tensors.reduce(0) { $0 + $1.bytes } }
    }

    /// llama.cpp's GGML_QNT_VERSION, written as general.quantization_version.
    public static let quantizationVersion: UInt32 = 2

    /// The model description the recipe needs, from the file's metadata.
    public static func recipeModel(_ file: GGUFFile) throws -> QuantizationRecipe.Model {
        let m = file.metadata
        guard let arch = m["general.architecture"]?.string else {
            throw MixtureError.invalidFile(path: file.path, reason: "metadata 'general.architecture' is missing")
        }
        func first(_ key: String) -> Int? { m[key]?.integer ?? m[key]?.array?.first?.integer }
        guard let layers = first("\(arch).block_count"), layers > 0 else {
            throw MixtureError.invalidFile(path: file.path, reason: "metadata '\(arch).block_count' is missing or not a positive integer")
        }
        let heads = first("\(arch).attention.head_count") ?? 0
        return .init(architecture: arch, layerCount: layers, expertCount: first("\(arch).expert_count") ?? 0, headCount: heads,
                     kvHeadCount: first("\(arch).attention.head_count_kv") ?? heads)
    }

    /// Decides every tensor's type and lays out the output; nothing is computed or written yet.
    public static func plan(_ file: GGUFFile, options: Options) throws -> Plan {
        var recipeOptions = options.recipe
        recipeOptions.hasImportance = !options.importance.isEmpty
        var recipe = QuantizationRecipe(model: try recipeModel(file), options: recipeOptions)
        let order = file.tensors.sorted { QuantizationRecipe.precedes($0.name, $1.name) }
        func trimmed(_ d: [Int]) -> [Int] {
            var d = d
            while d.count > 1, d.last == 1 { d.removeLast() }
            return d
        }
        let types = try recipe.types(for: order.map { .init(name: $0.name, dimensions: trimmed($0.dimensions), type: $0.type) })
        var planned: [Planned] = []
        for (info, type) in zip(order, types) {
            if type != info.type {
                guard GGMLQuantize.quantizable.contains(type) else {
                    throw MixtureError.invalidArgument("tensor '\(info.name)': type \(type) cannot be written yet (supported: \(GGMLQuantize.quantizable.map(\.description).joined(separator: ", ")))")
                }
                if info.type.isBlockQuantized && !options.allowRequantize {
                    throw MixtureError.invalidArgument("tensor '\(info.name)' is already \(info.type); requantizing is off (use --allow-requantize)")
                }
                guard GGMLType.dequantizable.contains(info.type) else {
                    throw MixtureError.invalidFile(path: file.path, reason: "tensor '\(info.name)' has type \(info.type), which cannot be read yet")
                }
                if let w = options.importance[info.name] {
                    let experts = info.dimensions.count > 2 ? info.dimensions[2] : 1
                    guard w.count == info.dimensions[0] * experts else {
                        throw MixtureError.invalidArgument("importance matrix for '\(info.name)' has \(w.count) values, expected \(info.dimensions[0] * experts)")
                    }
                }
            }
            planned.append(Planned(info: info, type: type))
        }

        let dropped: Set<String> = ["general.quantization_version", "general.file_type", "split.no", "split.count", "split.tensors.count"]
        var entries: [GGUFWriter.Entry] = file.header.keys.filter { !dropped.contains($0) }.map { key in
            .raw(key, Array(file.entry(key)!))
        }
        entries.append(.value("general.quantization_version", .uint32(quantizationVersion)))
        entries.append(.value("general.file_type", .uint32(options.recipe.fileType.rawValue)))

        let tensors = planned.map { p in
            GGUFWriter.Tensor(name: p.info.name, dimensions: trimmed(p.info.dimensions), type: p.type) { buffer in
                try fill(buffer, from: file, tensor: p.info, as: p.type, importance: options.importance[p.info.name])
            }
        }
        return Plan(writer: GGUFWriter(entries: entries, tensors: tensors, alignment: file.header.alignment),
                    tensors: planned, fallbacks: recipe.fallbacks)
    }

    /// One tensor's output bytes: copied when the type stays, otherwise read as floats and
    /// quantized row by row on every thread (rows of one expert share its importance weights).
    static func fill(_ buffer: UnsafeMutableRawBufferPointer, from file: GGUFFile, tensor info: GGUFTensorInfo, as type: GGMLType,
                     importance: [Float]?) throws {
        let source = file.data(of: info)
        if type == info.type {
            buffer.baseAddress!.copyMemory(from: source, byteCount: info.byteCount)
            return
        }
        let columns = info.dimensions[0]
        let rows = info.elementCount / max(1, columns)
        let rowsPerExpert = info.dimensions.count > 1 ? info.dimensions[1] : 1
        let inRow = info.type.byteCount(elements: columns)!, outRow = type.byteCount(elements: columns)!
        final class Failure: @unchecked Sendable { var row: Int? ; let lock = NSLock() }
        let failure = Failure()
        let out = buffer.baseAddress!
        Parallel.forRanges(rows, minimumPerThread: 8) { range in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: columns)
            defer { scratch.deallocate() }
            for r in range {
                info.type.dequantize(source + r * inRow, count: columns, into: scratch)
                for j in 0..<columns where !scratch[j].isFinite {
                    failure.lock.lock()
                    failure.row = min(failure.row ?? r, r)
                    failure.lock.unlock()
                    return
                }
                if let importance {
                    importance.withUnsafeBufferPointer { w in
                        _ = GGMLQuantize.quantize(type, scratch, rows: 1, perRow: columns, into: out + r * outRow,
                                                  importance: w.baseAddress! + (r / rowsPerExpert) * columns)
                    }
                } else {
                    GGMLQuantize.quantize(type, scratch, rows: 1, perRow: columns, into: out + r * outRow)
                }
            }
        }
        if let row = failure.row {
            throw MixtureError.invalidFile(path: file.path, reason: "tensor '\(info.name)' row \(row) holds a non-finite value (NaN or infinity); it cannot be quantized")
        }
    }
}
