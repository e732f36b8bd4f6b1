import Foundation
import XCTest
import MixtureCore

/// `mixture perplexity` end to end on a llama-quantize file and the text llama-perplexity scored
/// (Tests/Fixtures/gguf/quant, Scripts/gen_gguf_quant_fixtures.py).
final class PerplexityCLITests: XCTestCase {
    let directory = CLI.fixtures.appendingPathComponent("gguf/quant")

    func json(_ text: String) throws -> [String: Any] { try XCTUnwrap(JSONParser.parse(Data(text.utf8)) as? [String: Any]) }

    func testPerplexityAndKLDivergenceAgainstASavedRun() throws {
        let golden = try json(String(contentsOf: directory.appendingPathComponent("llamacpp.json"), encoding: .utf8))
        let expected = try XCTUnwrap(((golden["files"] as? [String: Any])?["Q8_0"] as? [String: Any])?["perplexity_ctx32"] as? Double)
        let model = directory.appendingPathComponent("olmoe-Q8_0.gguf").path
        let text = directory.appendingPathComponent("text.txt").path
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("mixture-base-\(UUID().uuidString).kld").path
        defer { try? FileManager.default.removeItem(atPath: base) }

        let run = try CLI.run(["perplexity", "--model", model, "--file", text, "--ctx", "32", "--json", "--save-logits", base])
        XCTAssertEqual(run.status, 0, run.stderr)
        let result = try json(run.stdout)
        XCTAssertEqual(try XCTUnwrap(result["perplexity"] as? Double), expected, accuracy: 0.005 * expected, "llama-perplexity's figure")
        XCTAssertEqual(result["chunks"] as? Int, 14)
        XCTAssertTrue(FileManager.default.fileExists(atPath: base))

        // Against its own saved run: no divergence; against Q4_K_M: some, and the top token mostly kept.
        let same = try json(CLI.run(["perplexity", "--model", model, "--kl-divergence-base", base, "--json"]).stdout)
        XCTAssertLessThan(try XCTUnwrap((same["mean_kld"] as? NSNumber)?.doubleValue), 1e-5)
        XCTAssertEqual((same["same_top"] as? NSNumber)?.doubleValue, 1)
        let other = try CLI.run(["perplexity", "--model", directory.appendingPathComponent("olmoe-Q4_K_M.gguf").path, "--kl-divergence-base", base])
        XCTAssertEqual(other.status, 0, other.stderr)
        XCTAssertTrue(other.stdout.contains("Mean    KLD:"), other.stdout)
        XCTAssertTrue(other.stdout.contains("Same top p:"), other.stdout)
    }

    func testBadInputIsAOneLineError() throws {
        let model = directory.appendingPathComponent("olmoe-Q8_0.gguf").path
        let text = directory.appendingPathComponent("text.txt").path
        for (arguments, fragment) in [
            (["--file", text, "--ctx", "512"], "needs at least 1024"),
            (["--file", "/nonexistent/text.txt"], "cannot be read"),
            (["--kl-divergence-base", text], "not a log-probability file"),
        ] {
            let result = try CLI.run(["perplexity", "--model", model] + arguments)
            XCTAssertNotEqual(result.status, 0, arguments.joined(separator: " "))
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
            XCTAssertTrue(result.stderr.contains(fragment), result.stderr)
        }
    }
}
