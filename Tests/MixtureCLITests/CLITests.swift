import Foundation
import XCTest

/// Runs the built `mixture` executable.
enum CLI {
    static let fixtures = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// The built executable sits beside the test bundle (or in .build/debug).
    static var executable: URL {
        let candidates = [Bundle(for: CLITests.self).bundleURL.deletingLastPathComponent(), Bundle.main.bundleURL,
                          URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                              .deletingLastPathComponent().appendingPathComponent(".build/debug")]
        for directory in candidates {
            let url = directory.appendingPathComponent("mixture")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return candidates[0].appendingPathComponent("mixture")
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ arguments: [String], stdin: String? = nil) throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        // Feed stdin from another thread so a large output cannot deadlock against a full input pipe.
        let writer = Thread {
            if let stdin = stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
            try? input.fileHandleForWriting.close()
        }
        writer.start()
        final class Box: @unchecked Sendable { var data = Data() }
        let errBox = Box()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { errBox.data = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        let errData = errBox.data
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }
}

/// The `mixture` executable end to end: output formats, exit codes, one-line errors.
final class CLITests: XCTestCase {
    static var fixtures: URL { CLI.fixtures }

    func run(_ arguments: [String], stdin: String? = nil) throws -> CLI.Result {
        try CLI.run(arguments, stdin: stdin)
    }

    func golden(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: Self.fixtures.appendingPathComponent("engine/\(name)/golden.json"))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    func testLogitsPrintsEveryPositionAsJSONMatchingTransformers() throws {
        let g = try golden("qwen3_moe")
        let ids = (g["input_ids"] as! [Int]).map(String.init).joined(separator: ",")
        let result = try run(["logits", "--model", Self.fixtures.appendingPathComponent("engine/qwen3_moe").path, "--ids", ids])
        XCTAssertEqual(result.status, 0, result.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
        let rows = (object["logits"] as! [[Any]]).map { $0.map { ($0 as! NSNumber).floatValue } }
        let expected = (g["logits"] as! [[Any]]).map { $0.map { ($0 as! NSNumber).floatValue } }
        XCTAssertEqual(rows.count, expected.count)
        for (row, want) in zip(rows, expected) {
            XCTAssertEqual(row.count, want.count)
            for (a, b) in zip(row, want) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(b))) }
        }
    }

    func testGenerateJSONHoldsTheGeneratedIdsOnly() throws {
        let g = try golden("mixtral")
        let ids = (g["input_ids"] as! [Int]).map(String.init).joined(separator: ",")
        let expected = g["greedy_new_ids"] as! [Int]
        let result = try run(["generate", "--model", Self.fixtures.appendingPathComponent("engine/mixtral").path, "--ids", ids,
                              "--max-tokens", "\(expected.count)", "--temperature", "0", "--json", "--routing-stats"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(object["ids"] as? [Int], expected)
        let routing = object["routing"] as? [String: Any]
        let counts = routing?["expert_counts_per_layer"] as? [String: [Int]]
        XCTAssertEqual(counts?.keys.sorted(), ["0", "1"])
        // Every processed token (prompt and generated, except the last, which is never fed back) picks top-2.
        let tokens = (g["input_ids"] as! [Int]).count + expected.count - 1
        XCTAssertEqual(counts?["0"]?.reduce(0, +), tokens * 2)
    }

    func testInspectDescribesExperts() throws {
        let result = try run(["inspect", "--model", Self.fixtures.appendingPathComponent("engine/qwen2_moe").path, "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(object["model_type"] as? String, "qwen2_moe")
        XCTAssertEqual(object["experts"] as? Int, 6)
        XCTAssertEqual(object["experts_per_token"] as? Int, 2)
        XCTAssertEqual(object["moe_layers"] as? [Int], [1])
        XCTAssertEqual(object["shared_expert_intermediate_size"] as? Int, 32)
        let total = object["parameters_total"] as! Int, active = object["parameters_active_per_token"] as! Int
        XCTAssertLessThan(active, total)
    }

    func testBadInputExitsNonZeroWithOneLine() throws {
        let missing = try run(["logits", "--model", "/nonexistent/model", "--ids", "1"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("/nonexistent/model"), missing.stderr)
        XCTAssertEqual(missing.stderr.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count, 1, missing.stderr)
        XCTAssertEqual(missing.stdout, "")

        let badID = try run(["logits", "--model", Self.fixtures.appendingPathComponent("engine/llama").path, "--ids", "1,x"])
        XCTAssertNotEqual(badID.status, 0)
        XCTAssertTrue(badID.stderr.contains("'x' is not an integer"), badID.stderr)

        let outOfRange = try run(["generate", "--model", Self.fixtures.appendingPathComponent("engine/llama").path, "--ids", "1,5000"])
        XCTAssertNotEqual(outOfRange.status, 0)
        XCTAssertTrue(outOfRange.stderr.contains("token id 5000 is out of range"), outOfRange.stderr)
    }
}
