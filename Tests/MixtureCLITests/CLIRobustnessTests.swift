import Foundation
import XCTest
import MixtureCore

/// Issue 18's three reported failures, through the command line as a user met them: each is one
/// line on standard error and exit status 1 (no crash report), or, for the U+FEFF case, the
/// tokenizers library's ids.
final class CLIRobustnessTests: XCTestCase {
    func temporaryCopy(of fixture: String) throws -> URL {
        let target = FileManager.default.temporaryDirectory.appendingPathComponent("mixture-rb-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: CLI.fixtures.appendingPathComponent(fixture), to: target)
        addTeardownBlock { try? FileManager.default.removeItem(at: target) }
        return target
    }

    func assertOneLineError(_ result: CLI.Result, mentioning fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(result.status, 1, result.stderr, file: file, line: line)
        let lines = result.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "expected one line, got: \(result.stderr)", file: file, line: line)
        for fragment in fragments {
            XCTAssertTrue(result.stderr.contains(fragment), "'\(result.stderr)' should mention '\(fragment)'", file: file, line: line)
        }
    }

    func testHugeLayerCountIsAOneLineError() throws {
        let folder = try temporaryCopy(of: "engine/llama")
        let configURL = folder.appendingPathComponent("config.json")
        let text = try String(contentsOf: configURL, encoding: .utf8)
        let edited = text.replacingOccurrences(of: #""num_hidden_layers":\s*[0-9]+"#, with: #""num_hidden_layers": 1000000000000"#,
                                               options: .regularExpression)
        XCTAssertNotEqual(text, edited)
        try edited.write(to: configURL, atomically: true, encoding: .utf8)
        for command in ["inspect", "logits"] {
            var arguments = [command, "--model", folder.path]
            if command == "logits" { arguments += ["--ids", "1,2"] }
            assertOneLineError(try CLI.run(arguments), mentioning: ["config.json", "num_hidden_layers", "1000000000000"])
        }
    }

    func testHugeVocabularyIDIsAOneLineError() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mixture-rb-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: folder) }
        let json = #"{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1099511627776}, "merges": []}}"#
        try json.write(to: folder.appendingPathComponent("tokenizer.json"), atomically: true, encoding: .utf8)
        let result = try CLI.run(["tokenize", "--tokenizer", folder.path], stdin: "\"ab\"\n")
        assertOneLineError(result, mentioning: ["tokenizer.json", "model.vocab", "1099511627776", "u32"])
    }

    func testLiteralByteOrderMarkAtTheStartOfTheTextIsKept() throws {
        let data = try Data(contentsOf: CLI.fixtures.appendingPathComponent("robustness/bom_goldens.json"))
        let root = try XCTUnwrap(JSONParser.parse(data) as? [String: Any])
        let cases = try XCTUnwrap(root["cases"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 42)
        var byTokenizer: [String: [(text: String, ids: [Int], plain: [Int])]] = [:]
        for c in cases {
            let text = try XCTUnwrap(c["text"] as? String)
            XCTAssertTrue(text.unicodeScalars.contains("\u{FEFF}"))
            XCTAssertFalse(text.contains("\"") || text.contains("\\"))
            byTokenizer[c["tokenizer"] as! String, default: []].append((text, c["ids"] as! [Int], c["ids_no_special"] as! [Int]))
        }
        for (name, entries) in byTokenizer.sorted(by: { $0.key < $1.key }) {
            // The character itself inside the JSON string, not the \ufeff escape.
            let input = entries.map { "\"\($0.text)\"" }.joined(separator: "\n") + "\n"
            XCTAssertTrue(Array(input.utf8).starts(with: [0x22, 0xEF, 0xBB, 0xBF]))
            let tokenizer = CLI.fixtures.appendingPathComponent("tokenizers/\(name)").path
            for (flags, expected) in [([String](), entries.map(\.ids)), (["--no-special-tokens"], entries.map(\.plain))] {
                let result = try CLI.run(["tokenize", "--tokenizer", tokenizer] + flags, stdin: input)
                XCTAssertEqual(result.status, 0, result.stderr)
                let lines = result.stdout.split(separator: "\n")
                XCTAssertEqual(lines.count, entries.count, name)
                for (line, (ids, entry)) in zip(lines, zip(expected, entries)) {
                    let got = try JSONParser.parse(Data(line.utf8)) as? [Int]
                    XCTAssertEqual(got, ids, "\(name) \(flags): \(entry.text.debugDescription)")
                }
            }
        }
    }
}
