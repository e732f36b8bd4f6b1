import Foundation
import XCTest
import MixtureCore

/// Model commands take a .gguf file as --model, with the same output as for a folder.
final class GGUFCLITests: XCTestCase {
    func testLogitsAndInspectOnAGGUFFileMatchTheFolder() throws {
        let file = CLI.fixtures.appendingPathComponent("gguf/models/qwen3.gguf").path
        let folder = CLI.fixtures.appendingPathComponent("engine/qwen3").path
        let fromFile = try CLI.run(["logits", "--model", file, "--ids", "1,5,9"])
        let fromFolder = try CLI.run(["logits", "--model", folder, "--ids", "1,5,9"])
        XCTAssertEqual(fromFile.status, 0, fromFile.stderr)
        let a = try XCTUnwrap((JSONParser.parse(Data(fromFile.stdout.utf8)) as? [String: Any])?["logits"] as? [[Any]])
        let b = try XCTUnwrap((JSONParser.parse(Data(fromFolder.stdout.utf8)) as? [String: Any])?["logits"] as? [[Any]])
        XCTAssertEqual(a.count, 3)
        for (rowA, rowB) in zip(a, b) {
            for (x, y) in zip(rowA, rowB) {
                XCTAssertEqual((x as? Double) ?? Double(x as! Int), (y as? Double) ?? Double(y as! Int), accuracy: 1e-5)
            }
        }
        let inspect = try CLI.run(["inspect", "--model", file, "--json"])
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        let object = try XCTUnwrap(JSONParser.parse(Data(inspect.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["model_type"] as? String, "qwen3")
        XCTAssertEqual(object["shards"] as? Int, 1)
    }

    func testPromptTextWithoutATokenizerIsAOneLineError() throws {
        let file = CLI.fixtures.appendingPathComponent("gguf/models/olmoe.gguf").path
        let result = try CLI.run(["generate", "--model", file, "--prompt", "hi"])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
        XCTAssertTrue(result.stderr.contains("--tokenizer"), result.stderr)
    }

    // The tokenizer inside a GGUF file: llama.cpp's ids (llama-spm's .out) with the BOS its
    // metadata asks for, and back to the text.
    func testTokenizeAndDetokenizeWithTheTokenizerInsideAGGUFFile() throws {
        let vocab = CLI.fixtures.appendingPathComponent("gguf/vocab/ggml-vocab-llama-spm.gguf").path
        let encoded = try CLI.run(["tokenize", "--tokenizer", vocab], stdin: "\"Hello world\"\n\" this is 🦙.cpp\"\n")
        XCTAssertEqual(encoded.status, 0, encoded.stderr)
        XCTAssertEqual(encoded.stdout, "[1,15043,3186]\n[1,29871,445,338,29871,243,162,169,156,29889,8223]\n")
        let plain = try CLI.run(["tokenize", "--tokenizer", vocab, "--no-special-tokens"], stdin: "\"Hello world\"\n")
        XCTAssertEqual(plain.stdout, "[15043,3186]\n")
        let decoded = try CLI.run(["detokenize", "--tokenizer", vocab], stdin: "[1,29871,445,338,29871,243,162,169,156,29889,8223]\n")
        XCTAssertEqual(decoded.status, 0, decoded.stderr)
        XCTAssertEqual(decoded.stdout, "\" this is 🦙.cpp\"\n")
    }

    // inspect on a GGUF says what the file stores and whether it carries a tokenizer; a
    // vocabulary-only file is refused as a model in one line.
    func testInspectReportsTheFileTypesAndTheTokenizer() throws {
        let file = CLI.fixtures.appendingPathComponent("gguf/models/qwen3-q8_0.gguf").path
        let text = try CLI.run(["inspect", "--model", file])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("file types:   Q8_0 ×16, F32 ×9 (quantized matrices are read in place"), text.stdout)
        XCTAssertTrue(text.stdout.contains("tokenizer:    none in the file"), text.stdout)
        let json = try CLI.run(["inspect", "--model", file, "--json"])
        let object = try XCTUnwrap(JSONParser.parse(Data(json.stdout.utf8)) as? [String: Any])
        XCTAssertEqual((object["gguf_tensor_types"] as? [String: Any])?["Q8_0"] as? Int, 16)
        let vocab = CLI.fixtures.appendingPathComponent("gguf/vocab/ggml-vocab-llama-spm.gguf").path
        let refused = try CLI.run(["inspect", "--model", vocab])
        XCTAssertEqual(refused.status, 1)
        XCTAssertEqual(refused.stderr.split(separator: "\n").count, 1, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("vocabulary-only"), refused.stderr)
    }
}
