import XCTest
import MixtureCore
import MixtureFormats
@testable import MixtureModels

/// `Perplexity` against transformers' loss-based perplexity on the same chunks
/// (Tests/Fixtures/engine/perplexity.json, made by Scripts/gen_perplexity_fixtures.py), and the
/// llama.cpp log-probability file round trip behind --save-logits / --kl-divergence-base.
final class PerplexityTests: XCTestCase {
    struct Case: Decodable {
        let tokens: [Int]
        let context: Int
        let bos: Int
        let nll: [Double]
        let perplexity: Double
    }

    func cases() throws -> [String: Case] {
        try JSONDecoder().decode([String: Case].self, from: Data(contentsOf: Fixtures.root.appendingPathComponent("engine/perplexity.json")))
    }

    func run(_ model: TransformerModel, _ c: Case, batch: Int) throws -> (Perplexity.Accumulator, [[Float]]) {
        var accumulator = Perplexity.Accumulator()
        var all: [[Float]] = []
        let chunks = Perplexity.chunks(c.tokens, context: c.context, bos: c.bos)
        for (i, chunk) in chunks.enumerated() {
            let rows = try Perplexity.scoredLogits(model: model, chunk: chunk, batch: batch)
            XCTAssertEqual(rows.count, Perplexity.scoredPerChunk(context: c.context))
            for (offset, row) in rows.enumerated() {
                accumulator.add(Perplexity.Accumulator.negativeLogLikelihood(row, target: c.tokens[i * c.context + c.context / 2 + offset + 1]))
            }
            all += rows
        }
        return (accumulator, all)
    }

    func testPerplexityEqualsTransformersLoss() throws {
        for (name, c) in try cases() {
            let model = try TransformerModel.load(from: Fixtures.engine(name))
            // Whole chunks in one pass, and in passes of 5 tokens through the cache: the same figure.
            for batch in [c.context, 5] {
                let (accumulator, _) = try run(model, c, batch: batch)
                XCTAssertEqual(accumulator.count, c.nll.count, name)
                XCTAssertEqual(accumulator.perplexity, c.perplexity, accuracy: 1e-4 * c.perplexity, "\(name), batch \(batch)")
                // llama.cpp's standard error, from transformers' per-token losses.
                let mean = c.nll.reduce(0, +) / Double(c.nll.count)
                let variance = c.nll.map { $0 * $0 }.reduce(0, +) / Double(c.nll.count) - mean * mean
                let expectedError = sqrt(variance / Double(c.nll.count - 1)) * exp(mean)
                XCTAssertEqual(accumulator.standardError, expectedError, accuracy: 1e-3 * expectedError, name)
            }
        }
    }

    func testSavedLogProbabilitiesRoundTripAndMeasureDivergence() throws {
        let c = try cases()["qwen3"]!
        let model = try TransformerModel.load(from: Fixtures.engine("qwen3"))
        let chunks = Perplexity.chunks(c.tokens, context: c.context, bos: c.bos)
        let (accumulator, rows) = try run(model, c, batch: c.context)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mixture-logits-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        let writer = try Perplexity.LogProbabilityWriter(handle: handle, context: c.context, vocabulary: model.architecture.vocabularySize, chunks: chunks)
        for row in rows { try writer.write(row) }
        try handle.close()

        let file = try Perplexity.LogProbabilityFile(path: path)
        XCTAssertEqual(file.context, c.context)
        XCTAssertEqual(file.chunks, chunks)
        // The model against its own saved run: only the 16-bit rounding of the log-probabilities differs.
        var same = Perplexity.Divergence()
        let perChunk = Perplexity.scoredPerChunk(context: c.context)
        for (i, row) in rows.enumerated() {
            let base = file.logProbabilities(chunk: i / perChunk, position: i % perChunk)
            let exact = row.map { $0 - row.max()! }
            let logSum = log(exact.map { exp(Double($0)) }.reduce(0, +))
            for (a, b) in zip(base, exact) where Double(b) - logSum > -16 { XCTAssertEqual(Double(a), Double(b) - logSum, accuracy: 1e-3) }
            same.add(logits: row, base: base, target: chunks[i / perChunk][c.context / 2 + i % perChunk + 1])
        }
        XCTAssertLessThan(same.meanKLD.value, 1e-5)
        XCTAssertEqual(same.sameTop, same.count)
        XCTAssertEqual(same.basePerplexity.value, accumulator.perplexity, accuracy: 1e-3 * accumulator.perplexity)

        // A Q8_0 file of the same model diverges a little, and says so.
        let quantized = try TransformerModel.load(from: Fixtures.root.appendingPathComponent("gguf/models/qwen3-q8_0.gguf"))
        var divergence = Perplexity.Divergence()
        for (i, chunk) in chunks.enumerated() {
            for (offset, row) in try Perplexity.scoredLogits(model: quantized, chunk: chunk, batch: c.context).enumerated() {
                divergence.add(logits: row, base: file.logProbabilities(chunk: i, position: offset), target: chunk[c.context / 2 + offset + 1])
            }
        }
        XCTAssertGreaterThan(divergence.meanKLD.value, 1e-5)
        XCTAssertLessThan(divergence.meanKLD.value, 0.05)
        print("qwen3-q8_0 against qwen3: mean KLD \(divergence.meanKLD.value), same top \(divergence.sameTopFraction.value)")
    }

    func testALogProbabilityFileThatLiesIsRefused() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mixture-bad-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var bytes = Data("_logits_".utf8)
        for v: Int32 in [16, 96, 1000] { withUnsafeBytes(of: v) { bytes.append(contentsOf: $0) } }
        FileManager.default.createFile(atPath: path, contents: bytes)
        XCTAssertThrowsError(try Perplexity.LogProbabilityFile(path: path)) { XCTAssertTrue("\($0)".contains("needs"), "\($0)") }
        FileManager.default.createFile(atPath: path, contents: Data("not a logits file at all".utf8))
        XCTAssertThrowsError(try Perplexity.LogProbabilityFile(path: path)) { XCTAssertTrue("\($0)".contains("not a log-probability file"), "\($0)") }
    }
}
