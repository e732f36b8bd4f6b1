import XCTest
import MixtureCore
import MixtureFormats
@testable import MixtureModels

/// Engine fixtures converted by llama.cpp's own convert_hf_to_gguf.py (F32; Tests/Fixtures/gguf/models,
/// made by Scripts/gen_gguf_model_fixtures.py) run to transformers' goldens of the original folders:
/// this pins the tensor-name mapping, the llama q/k row interleaving, stacked experts, rope_freqs and
/// the metadata keys. (For these configs llama.cpp's semantics and transformers' agree.)
final class GGUFModelTests: XCTestCase {
    static let cases = ["llama", "qwen2", "qwen3", "mixtral", "olmoe"]

    func gguf(_ name: String) -> URL { Fixtures.root.appendingPathComponent("gguf/models/\(name).gguf") }

    func testConvertedFilesGiveTransformersLogitsAndGreedyIDs() throws {
        for name in Self.cases {
            let golden = try Golden.load(name)
            XCTAssertTrue(TransformerModel.isGGUF(gguf(name)))
            let model = try TransformerModel.load(from: gguf(name))
            XCTAssertNil(model.folder)
            XCTAssertEqual(model.architecture.modelType, golden.model_type, name)
            let logits = try model.forward(golden.input_ids, cache: model.makeCache(), logits: .all)
            XCTAssertEqual(logits.count, golden.logits.count, name)
            for (position, (row, expected)) in zip(logits, golden.logits).enumerated() {
                assertClose(row, expected, relative: GoldenParityTests.tolerance, "\(name).gguf position \(position)")
                XCTAssertEqual(Sampler.argmax(row), Sampler.argmax(expected), "\(name).gguf argmax at \(position)")
            }
            let result = try model.generate(prompt: golden.input_ids, maxTokens: golden.greedy_new_ids.count)
            XCTAssertEqual(result.tokens, golden.greedy_new_ids, name)
        }
    }

    // Q8_0 files written by llama.cpp's converter (stacked experts included). Two checks: (1) the
    // file's weights run in float (dequantized at load) give the logits of the same weights
    // dequantized into a folder by `mixture convert`, and (2) the file as it runs (integer kernels,
    // activations rounded to 8 bits) stays close to the F32 goldens. On these tiny random-weight
    // models (logits of magnitude ~3) the float run measured max |Δ| 0.176 (qwen3) and 0.356
    // (mixtral), as transformers on the converted folder does; the integer run 0.199 and 0.375.
    // (Agreement with llama.cpp itself is GGUFQuantizedParityTests'.)
    func testConverterQuantizedFilesStayCloseToTheFullPrecisionGoldens() throws {
        for name in ["qwen3", "mixtral"] {
            let golden = try Golden.load(name)
            let file = Fixtures.root.appendingPathComponent("gguf/models/\(name)-q8_0.gguf")
            let model = try TransformerModel.load(from: file)
            let logits = try model.forward(golden.input_ids, cache: model.makeCache(), logits: .all)
            // The file's weights in float (no activation rounding) are exactly the converted folder's.
            let floatModel = try TransformerModel(gguf: GGUFFile(path: file.path), dequantize: true)
            let floatLogits = try floatModel.forward(golden.input_ids, cache: floatModel.makeCache(), logits: .all)

            let out = FileManager.default.temporaryDirectory.appendingPathComponent("mixture-q8-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: out) }
            _ = try GGUFConversion.convert(GGUFFile(path: file.path), to: out, dtype: .float32)
            let dequantized = try TransformerModel.load(from: out)
            let reference = try dequantized.forward(golden.input_ids, cache: dequantized.makeCache(), logits: .all)
            for (position, (row, expected)) in zip(floatLogits, reference).enumerated() {
                assertClose(row, expected, relative: 1e-5, "\(name)-q8_0 against its dequantized folder, position \(position)")
            }

            var worst: Float = 0
            var agreeing = 0
            for (row, expected) in zip(logits, golden.logits) {
                worst = max(worst, zip(row, expected).map { abs($0 - $1) }.max()!)
                if Sampler.argmax(row) == Sampler.argmax(expected) { agreeing += 1 }
            }
            print("\(name)-q8_0: max |logit - F32 golden| \(worst), argmax agrees at \(agreeing) of \(logits.count) positions")
            XCTAssertLessThan(worst, 0.5, name)
            XCTAssertGreaterThan(worst, 0, "\(name): quantized weights must differ from F32")
            XCTAssertGreaterThanOrEqual(agreeing, logits.count - 2, name)
        }
    }

    func testArchitectureReadFromMetadataEqualsTheFolders() throws {
        for name in Self.cases {
            let fromFile = try TransformerModel.load(from: gguf(name)).architecture
            let fromFolder = try TransformerModel.load(from: Fixtures.engine(name)).architecture
            XCTAssertEqual(fromFile.hiddenSize, fromFolder.hiddenSize, name)
            XCTAssertEqual(fromFile.layerCount, fromFolder.layerCount, name)
            XCTAssertEqual(fromFile.headCount, fromFolder.headCount, name)
            XCTAssertEqual(fromFile.keyValueHeadCount, fromFolder.keyValueHeadCount, name)
            XCTAssertEqual(fromFile.headDimension, fromFolder.headDimension, name)
            XCTAssertEqual(fromFile.vocabularySize, fromFolder.vocabularySize, name)
            XCTAssertEqual(fromFile.rmsNormEpsilon, fromFolder.rmsNormEpsilon, name)
            XCTAssertEqual(fromFile.ropeTheta, fromFolder.ropeTheta, name)
            XCTAssertEqual(fromFile.tiedEmbeddings, fromFolder.tiedEmbeddings, name)
            XCTAssertEqual(fromFile.moe?.expertCount, fromFolder.moe?.expertCount, name)
            XCTAssertEqual(fromFile.moe?.expertsPerToken, fromFolder.moe?.expertsPerToken, name)
            XCTAssertEqual(fromFile.moe?.normalizeTopKProbabilities, fromFolder.moe?.normalizeTopKProbabilities, name)
        }
    }

    // `mixture convert`: F32 GGUF → folder gives back the original folder's tensors bit for bit,
    // under the same names (so the q/k rows are back in transformers' order).
    func testConvertingBackGivesTheOriginalTensorsBitForBit() throws {
        for name in ["qwen2", "qwen3", "mixtral", "olmoe"] {
            let out = FileManager.default.temporaryDirectory.appendingPathComponent("mixture-convert-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: out) }
            let summary = try GGUFConversion.convert(GGUFFile(path: gguf(name).path), to: out, dtype: .float32)
            let converted = try SafeTensorsFile(path: out.appendingPathComponent("model.safetensors").path)
            let original = try SafeTensorsFile(path: Fixtures.engine(name).appendingPathComponent("model.safetensors").path)
            XCTAssertEqual(Set(converted.tensors.keys), Set(original.tensors.keys), name)
            XCTAssertEqual(summary.tensors, original.tensors.count, name)
            for tensorName in original.tensors.keys {
                let a = try converted.tensor(tensorName)!, b = try original.tensor(tensorName)!
                XCTAssertEqual(a.info.shape, b.info.shape, "\(name) \(tensorName)")
                XCTAssertEqual(try a.floats().map(\.bitPattern), try b.floats().map(\.bitPattern), "\(name) \(tensorName)")
            }
            let golden = try Golden.load(name)
            let model = try TransformerModel.load(from: out)
            let logits = try model.forward(golden.input_ids, cache: model.makeCache(), logits: .all)
            for (position, (row, expected)) in zip(logits, golden.logits).enumerated() {
                assertClose(row, expected, relative: GoldenParityTests.tolerance, "\(name) converted, position \(position)")
            }
        }
    }

    func testConvertRefusesRopeFrequencyFactorsItCannotWriteExactly() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("mixture-convert-\(UUID().uuidString)")
        XCTAssertThrowsError(try GGUFConversion.convert(GGUFFile(path: gguf("llama").path), to: out)) { error in
            XCTAssertTrue("\(error)".contains("rope_freqs.weight"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), "nothing written")
    }

    func testUnknownArchitectureListsTheSupportedOnes() throws {
        var bytes = try [UInt8](Data(contentsOf: gguf("qwen2")))
        // "qwen2" → "qwen9" in general.architecture's value.
        let needle = Array("qwen2".utf8)
        let at = (0..<bytes.count - 5).first { Array(bytes[$0..<$0 + 5]) == needle }!
        bytes[at + 4] = UInt8(ascii: "9")
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("mixture-\(UUID().uuidString).gguf")
        try Data(bytes).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        XCTAssertThrowsError(try TransformerModel.load(from: url)) { error in
            XCTAssertEqual("\(error)", "\(url.path): architecture 'qwen9' is not supported (supported: llama, qwen2, qwen3, qwen2moe, qwen3moe, olmoe)")
        }
    }
}
