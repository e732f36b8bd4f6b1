import Foundation
import XCTest

/// `mixture tokenize`, `mixture detokenize` and `mixture generate --prompt` against the tokenizers library's goldens.
final class CLITokenizerTests: XCTestCase {
    struct Case: Decodable {
        let text: String
        let ids: [Int]
        let ids_no_special: [Int]
        let decoded: String
    }
    struct Goldens: Decodable { let cases: [Case] }

    func goldens(_ name: String) throws -> [Case] {
        let url = CLI.fixtures.appendingPathComponent("tokenizers/\(name)/goldens.json")
        return try JSONDecoder().decode(Goldens.self, from: Data(contentsOf: url)).cases
    }

    func jsonLine(_ value: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed]), as: UTF8.self)
    }

    func testTokenizeAndDetokenizeJSONLinesMatchTheLibrary() throws {
        for name in ["llama3", "llama2", "bert"] {
            let cases = try goldens(name)
            let tokenizer = CLI.fixtures.appendingPathComponent("tokenizers/\(name)").path
            let input = try cases.map { try jsonLine($0.text) }.joined(separator: "\n") + "\n"

            let withSpecial = try CLI.run(["tokenize", "--tokenizer", tokenizer], stdin: input)
            XCTAssertEqual(withSpecial.status, 0, withSpecial.stderr)
            let lines = withSpecial.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
            XCTAssertEqual(lines.count, cases.count, name)
            for (line, c) in zip(lines, cases) {
                XCTAssertEqual(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [Int], c.ids, "\(name): \(c.text.debugDescription)")
            }

            let plain = try CLI.run(["tokenize", "--tokenizer", tokenizer, "--no-special-tokens"], stdin: input)
            let plainLines = plain.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
            for (line, c) in zip(plainLines, cases) {
                XCTAssertEqual(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [Int], c.ids_no_special, "\(name): \(c.text.debugDescription)")
            }

            let idLines = try cases.map { try jsonLine($0.ids) }.joined(separator: "\n") + "\n"
            let decoded = try CLI.run(["detokenize", "--tokenizer", tokenizer], stdin: idLines)
            XCTAssertEqual(decoded.status, 0, decoded.stderr)
            let texts = decoded.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
            XCTAssertEqual(texts.count, cases.count)
            for (line, c) in zip(texts, cases) {
                XCTAssertEqual(try JSONSerialization.jsonObject(with: Data(line.utf8), options: [.fragmentsAllowed]) as? String, c.decoded,
                               "\(name): \(c.text.debugDescription)")
            }
        }
    }

    func testBadJSONLineIsNamed() throws {
        let tokenizer = CLI.fixtures.appendingPathComponent("tokenizers/bert").path
        let result = try CLI.run(["tokenize", "--tokenizer", tokenizer], stdin: "\"ok\"\n{not json\n")
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("line 2"), result.stderr)
    }

    /// A model folder with a tokenizer: --prompt encodes like `tokenize`, generates like --ids, and streams the decoded text.
    func testGenerateFromTextPrompt() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mixture-prompt-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let tokenizerFolder = CLI.fixtures.appendingPathComponent("tokenizers/llama3")
        let tokenizerJSON = try JSONSerialization.jsonObject(with: Data(contentsOf: tokenizerFolder.appendingPathComponent("tokenizer.json"))) as! [String: Any]
        let model = tokenizerJSON["model"] as! [String: Any]
        let added = (tokenizerJSON["added_tokens"] as? [[String: Any]]) ?? []
        let vocabulary = max((model["vocab"] as! [String: Int]).values.max()!, added.compactMap { $0["id"] as? Int }.max() ?? 0) + 1
        let small = try CLI.run(["synth", folder.path, "--geometry", "demo", "--layers", "1", "--vocab-size", "\(vocabulary)"])
        XCTAssertEqual(small.status, 0, small.stderr)
        try FileManager.default.copyItem(at: tokenizerFolder.appendingPathComponent("tokenizer.json"), to: folder.appendingPathComponent("tokenizer.json"))

        let prompt = "Hello world, the experts route tokens."
        let encoded = try CLI.run(["tokenize", "--tokenizer", folder.path], stdin: try jsonLine(prompt) + "\n")
        let ids = try JSONSerialization.jsonObject(with: Data(encoded.stdout.utf8)) as! [Int]

        let fromText = try CLI.run(["generate", "--model", folder.path, "--prompt", prompt, "--max-tokens", "6", "--json", "--ignore-eos"])
        XCTAssertEqual(fromText.status, 0, fromText.stderr)
        let textResult = try JSONSerialization.jsonObject(with: Data(fromText.stdout.utf8)) as! [String: Any]
        let fromIDs = try CLI.run(["generate", "--model", folder.path, "--ids", ids.map(String.init).joined(separator: ","),
                                   "--max-tokens", "6", "--json", "--ignore-eos"])
        let idResult = try JSONSerialization.jsonObject(with: Data(fromIDs.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(textResult["ids"] as? [Int], idResult["ids"] as? [Int])
        XCTAssertEqual(textResult["prompt_tokens"] as? Int, ids.count)

        let generated = textResult["ids"] as! [Int]
        let decoded = try CLI.run(["detokenize", "--tokenizer", folder.path], stdin: try jsonLine(generated) + "\n")
        let expectedText = try JSONSerialization.jsonObject(with: Data(decoded.stdout.utf8), options: [.fragmentsAllowed]) as! String
        XCTAssertEqual(textResult["text"] as? String, expectedText)

        let streamed = try CLI.run(["generate", "--model", folder.path, "--prompt", prompt, "--max-tokens", "6", "--ignore-eos"])
        XCTAssertEqual(streamed.status, 0, streamed.stderr)
        XCTAssertTrue(streamed.stdout.hasPrefix(expectedText), "streamed '\(streamed.stdout)' should start with '\(expectedText)'")
    }
}
