import Foundation
import XCTest

final class MergeCLITests: XCTestCase {
    let merge = CLI.fixtures.appendingPathComponent("merge")

    func temporary() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("mixture-merge-cli-\(UUID().uuidString)")
    }

    func testMergeWritesAModelFolderAndRefusesToOverwrite() throws {
        let out = temporary()
        defer { try? FileManager.default.removeItem(at: out) }
        let config = merge.appendingPathComponent("cases/linear_sharded/config.yml").path
        let first = try CLI.run(["merge", config, out.path, "--max-shard-size", "20K"])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stdout.contains("merged"), first.stdout)
        XCTAssertEqual(first.stderr, "", "no progress bar when stderr is not a terminal")
        let files = try FileManager.default.contentsOfDirectory(atPath: out.path)
        XCTAssertTrue(files.contains("model.safetensors.index.json"), "\(files)")
        XCTAssertTrue(files.contains("config.json") && files.contains("tokenizer.json"), "\(files)")
        XCTAssertGreaterThan(files.filter { $0.hasPrefix("model-0") }.count, 1)

        let again = try CLI.run(["merge", config, out.path])
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.stderr.contains("--force"), again.stderr)
        XCTAssertEqual(again.stderr.trimmingCharacters(in: .newlines).split(separator: "\n").count, 1, again.stderr)

        let forced = try CLI.run(["merge", config, out.path, "--force"])
        XCTAssertEqual(forced.status, 0, forced.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("model.safetensors").path), "default shard size: one file")
    }

    func testBadConfigIsOneLineAndNonZero() throws {
        let dir = temporary()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = dir.appendingPathComponent("bad.yml")
        try "merge_method: ties\nmodels:\n  - model: [unclosed\n".write(to: config, atomically: true, encoding: .utf8)
        let result = try CLI.run(["merge", config.path, dir.appendingPathComponent("out").path])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("bad.yml") && result.stderr.contains("line"), result.stderr)
        XCTAssertEqual(result.stderr.trimmingCharacters(in: .newlines).split(separator: "\n").count, 1, result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("out").path))
        let size = try CLI.run(["merge", config.path, dir.appendingPathComponent("out").path, "--max-shard-size", "lots"])
        XCTAssertNotEqual(size.status, 0)
        XCTAssertTrue(size.stderr.contains("--max-shard-size"), size.stderr)
    }
}
