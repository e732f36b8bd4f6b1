import Foundation
import XCTest

/// `mixture embed`: JSON Lines of strings in, JSON Lines of float arrays out.
extension CLITests {
    var tinyEmbeddingFolder: URL { Self.fixtures.appendingPathComponent("embeddings/tiny_bert_cls") }

    func testEmbedPrintsOneArrayPerInputLineMatchingSentenceTransformers() throws {
        let golden = try JSONSerialization.jsonObject(
            with: Data(contentsOf: tinyEmbeddingFolder.appendingPathComponent("golden.json"))) as! [String: Any]
        let texts = (golden["texts"] as! [String: Any])["texts"] as! [String]
        let expected = (golden["texts"] as! [String: Any])["embeddings"] as! [[Double]]
        let input = try texts.map { String(decoding: try JSONSerialization.data(withJSONObject: $0, options: [.fragmentsAllowed]), as: UTF8.self) }
        let result = try run(["embed", "--model", tinyEmbeddingFolder.path, "--batch-size", "4"], stdin: input.joined(separator: "\n") + "\n")
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, texts.count)
        for (line, row) in zip(lines, expected) {
            let values = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [Double]
            XCTAssertEqual(values.count, row.count)
            for (a, e) in zip(values, row) { XCTAssertEqual(a, e, accuracy: 1e-4) }
        }
    }

    func testEmbedRejectsALineThatIsNotAJSONString() throws {
        let result = try run(["embed", "--model", tinyEmbeddingFolder.path], stdin: "\"fine\"\n42\n")
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("line 2: expected a JSON string"), result.stderr)
        XCTAssertEqual(result.stderr.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count, 1, result.stderr)
    }

    func testEmbedNamesAMissingModelFolder() throws {
        let result = try run(["embed", "--model", "/nonexistent/embedder"], stdin: "")
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("/nonexistent/embedder"), result.stderr)
    }
}
