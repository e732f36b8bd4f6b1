import Foundation
import XCTest
@testable import MixtureCore
@testable import MixtureFormats
@testable import MixtureModels

/// `mixture quantize` against llama-quantize: the same input file (written here as gguf-py wrote
/// it, checked by its hash), each recipe's output byte for byte: every tensor's type and bytes, and
/// the whole file. Expected values from Scripts/gen_quantize_recipe_fixtures.py.
final class GGUFQuantizeTests: XCTestCase {
    struct MetadataEntry: Decodable {
        let key: String
        let type: String
        let item: String?
        let value: JSONValue
    }

    enum JSONValue: Decodable {
        case number(Double), string(String), bool(Bool), array([JSONValue])
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let b = try? c.decode(Bool.self) { self = .bool(b) }
            else if let d = try? c.decode(Double.self) { self = .number(d) }
            else if let s = try? c.decode(String.self) { self = .string(s) }
            else { self = .array(try c.decode([JSONValue].self)) }
        }
    }

    struct TensorSpec: Decodable { let name: String; let dimensions: [Int]; let scaleExponent: Int }
    struct OutputTensor: Decodable { let name: String; let type: String; let hash: String }
    struct Output: Decodable { let type: String; let flags: [String]; let fileHash: String; let bytes: Int; let tensors: [OutputTensor] }
    struct Model: Decodable { let moe: Bool; let metadata: [MetadataEntry]; let inputHash: String; let tensors: [TensorSpec]; let outputs: [Output] }
    struct FileOutput: Decodable { let file: String; let type: String; let fileHash: String; let bytes: Int }
    struct Fixture: Decodable { let models: [Model]; let files: [FileOutput] }

    static func value(_ type: String, _ v: JSONValue) throws -> GGUFValue {
        switch (type, v) {
        case ("u8", .number(let d)): return .uint8(UInt8(d))
        case ("i8", .number(let d)): return .int8(Int8(d))
        case ("u16", .number(let d)): return .uint16(UInt16(d))
        case ("i16", .number(let d)): return .int16(Int16(d))
        case ("u32", .number(let d)): return .uint32(UInt32(d))
        case ("i32", .number(let d)): return .int32(Int32(d))
        case ("u64", .number(let d)): return .uint64(UInt64(d))
        case ("i64", .number(let d)): return .int64(Int64(d))
        case ("f32", .number(let d)): return .float32(Float(d))
        case ("f64", .number(let d)): return .float64(d)
        case ("bool", .bool(let b)): return .bool(b)
        case ("str", .string(let s)): return .string(s)
        default: throw XCTSkip("unexpected metadata \(type) \(v)")
        }
    }

    /// The generator's values(): SplitMix64 outputs first+1 ... turned into float32 exactly.
    static func values(first: Int, count: Int, scaleExponent: Int, into out: UnsafeMutableRawBufferPointer) {
        let scale = Float(sign: .plus, exponent: scaleExponent, significand: 1)
        for i in 0..<count {
            var z = UInt64(first + i + 1) &* 0x9E37_79B9_7F4A_7C15
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            let u = z ^ (z >> 31)
            let unit = Float(Int64(u >> 40) - (1 << 23)) * Float(sign: .plus, exponent: -23, significand: 1)
            var v = unit * abs(unit)
            if u & 0xFF < 3 { v = v * 8 }
            out.storeBytes(of: v * scale, toByteOffset: 4 * i, as: Float.self)
        }
    }

    static func fnv1a(_ bytes: UnsafeRawBufferPointer) -> String {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    static func fnv1a(file url: URL) throws -> String {
        let data = try Data(contentsOf: url)
        return data.withUnsafeBytes { fnv1a($0) }
    }

    func load() throws -> Fixture {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/quantize/recipes.json")
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    /// The input as gguf-py wrote it.
    func writeInput(_ model: Model, to url: URL) throws {
        let entries: [GGUFWriter.Entry] = try model.metadata.map { e in
            if e.type == "array", case .array(let items) = e.value {
                return .value(e.key, .array(try items.map { try Self.value(e.item ?? "u8", $0) }))
            }
            return .value(e.key, try Self.value(e.type, e.value))
        }
        var first = 0
        var tensors: [GGUFWriter.Tensor] = []
        for spec in model.tensors {
            let count = spec.dimensions.reduce(1, *), start = first
            tensors.append(.init(name: spec.name, dimensions: spec.dimensions, type: .f32) { buffer in
                Self.values(first: start, count: count, scaleExponent: spec.scaleExponent, into: buffer)
            })
            first += count
        }
        try GGUFWriter(entries: entries, tensors: tensors).write(to: url)
    }

    static func options(_ output: Output) throws -> GGUFQuantization.Options {
        var options = GGUFQuantization.Options(fileType: try XCTUnwrap(QuantizationRecipe.FileType(name: output.type)))
        func type(_ s: String) throws -> GGMLType { try XCTUnwrap(GGMLType.allCases.first { $0.description == s.uppercased() }) }
        var flags = output.flags[...]
        while let flag = flags.popFirst() {
            switch flag {
            case "--pure": options.recipe.pure = true
            case "--leave-output-tensor": options.recipe.leaveOutputTensor = true
            case "--output-tensor-type": options.recipe.outputTensorType = try type(flags.popFirst()!)
            case "--token-embedding-type": options.recipe.tokenEmbeddingType = try type(flags.popFirst()!)
            case "--tensor-type":
                let spec = flags.popFirst()!.split(separator: "=", maxSplits: 1)
                options.recipe.overrides.append((String(spec[0]).lowercased(), try type(String(spec[1]))))
            default: XCTFail("unknown flag \(flag)")
            }
        }
        return options
    }

    // Real architectures' files as convert_hf_to_gguf.py wrote them (64-wide rows: every K-quant
    // falls back), quantized as llama-quantize quantized them.
    func testConvertedFixturesMatchLlamaQuantizeByteForByte() throws {
        let fixture = try load()
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("mixture-quantize-file-\(getpid()).gguf")
        defer { try? FileManager.default.removeItem(at: out) }
        for expected in fixture.files {
            let file = try GGUFFile(path: fixtures.appendingPathComponent(expected.file).path)
            let options = GGUFQuantization.Options(fileType: try XCTUnwrap(QuantizationRecipe.FileType(name: expected.type)))
            try GGUFQuantization.plan(file, options: options).writer.write(to: out)
            let size = try FileManager.default.attributesOfItem(atPath: out.path)[.size] as? Int
            XCTAssertEqual(size, expected.bytes, "\(expected.file) \(expected.type): size")
            XCTAssertEqual(try Self.fnv1a(file: out), expected.fileHash, "\(expected.file) \(expected.type): differs from llama-quantize's output")
        }
    }

    func testEveryRecipeMatchesLlamaQuantizeByteForByte() throws {
        let fixture = try load()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mixture-quantize-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for model in fixture.models {
            let input = dir.appendingPathComponent(model.moe ? "moe.gguf" : "dense.gguf")
            try writeInput(model, to: input)
            XCTAssertEqual(try Self.fnv1a(file: input), model.inputHash, "our GGUF writer differs from gguf-py's for the \(model.moe ? "MoE" : "dense") input")
            let file = try GGUFFile(path: input.path)
            for output in model.outputs {
                let label = "\(model.moe ? "moe" : "dense") \(output.type) \(output.flags.joined(separator: " "))"
                let plan = try GGUFQuantization.plan(file, options: try Self.options(output))
                guard plan.tensors.map(\.info.name) == output.tensors.map(\.name) else {
                    XCTFail("\(label): tensor order differs from llama-quantize's: \(plan.tensors.prefix(4).map(\.info.name))...")
                    continue
                }
                let types = zip(plan.tensors, output.tensors).filter { $0.type.description != $1.type }
                    .map { "\($0.info.name): \($0.type) (llama-quantize: \($1.type))" }
                XCTAssertEqual(Array(types.prefix(6)), [], "\(label): tensor types, \(types.count) differ")
                let out = dir.appendingPathComponent("out.gguf")
                try plan.writer.write(to: out)
                let written = try GGUFFile(path: out.path)
                var wrong: [String] = []
                for expected in output.tensors {
                    guard let t = written.tensor(expected.name) else { wrong.append("\(expected.name) missing"); continue }
                    let hash = Self.fnv1a(UnsafeRawBufferPointer(start: written.data(of: t), count: t.byteCount))
                    if hash != expected.hash { wrong.append("\(expected.name) (\(t.type))") }
                }
                XCTAssertEqual(Array(wrong.prefix(6)), [], "\(label): \(wrong.count) tensors whose bytes differ from llama-quantize's")
                XCTAssertEqual(try Self.fnv1a(file: out), output.fileHash, "\(label): the file differs from llama-quantize's")
            }
        }
    }
}
