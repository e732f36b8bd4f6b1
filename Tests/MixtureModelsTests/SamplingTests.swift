import XCTest
@testable import MixtureModels

final class SamplingTests: XCTestCase {
    let logits: [Float] = [0.1, 2.0, 1.9, -1.0, 0.5, 1.95, -3.0, 0.0]

    func draws(_ parameters: SamplingParameters, count: Int = 400) -> [Int] {
        var sampler = Sampler(parameters)
        return (0..<count).map { _ in sampler.next(logits) }
    }

    func testZeroTemperatureIsArgmax() {
        XCTAssertEqual(Set(draws(.init(temperature: 0, seed: 3))), [1])
    }

    func testSameSeedSameSequenceDifferentSeedDifferentSequence() {
        let p = SamplingParameters(temperature: 1, seed: 11)
        XCTAssertEqual(draws(p), draws(p))
        XCTAssertNotEqual(draws(p), draws(.init(temperature: 1, seed: 12)))
    }

    func testTopKKeepsOnlyTheKMostLikely() {
        XCTAssertEqual(Set(draws(.init(temperature: 5, topK: 2, seed: 1))), [1, 5])
    }

    func testTopPKeepsTheSmallestNucleus() {
        // With temperature 1 the three top tokens (1, 5, 2) hold about 0.79 of the mass, the top two about 0.54.
        XCTAssertEqual(Set(draws(.init(temperature: 1, topP: 0.5, seed: 1))), [1, 5])
        XCTAssertEqual(Set(draws(.init(temperature: 1, topP: 0.7, seed: 1))), [1, 5, 2])
    }

    func testMinPDropsTokensFarBelowTheBest() {
        // p(4)/p(1) = e^(0.5-2) ≈ 0.22: kept at min-p 0.2, dropped at 0.3.
        XCTAssertTrue(Set(draws(.init(temperature: 1, minP: 0.2, seed: 2), count: 2000)).contains(4))
        XCTAssertEqual(Set(draws(.init(temperature: 1, minP: 0.3, seed: 2), count: 2000)), [1, 5, 2])
    }

    func testInvalidParametersAreRejected() {
        XCTAssertThrowsError(try SamplingParameters(temperature: -1).validate())
        XCTAssertThrowsError(try SamplingParameters(temperature: 1, topP: 0).validate())
        XCTAssertThrowsError(try SamplingParameters(temperature: 1, minP: 2).validate())
    }

    func testSeededGenerationIsReproducible() throws {
        let model = try TransformerModel.load(from: Fixtures.engine("olmoe"))
        let p = SamplingParameters(temperature: 0.9, topK: 20, topP: 0.9, seed: 5)
        let a = try model.generate(prompt: [3, 4, 5], maxTokens: 12, sampling: p).tokens
        let b = try model.generate(prompt: [3, 4, 5], maxTokens: 12, sampling: p).tokens
        XCTAssertEqual(a, b)
        XCTAssertEqual(a.count, 12)
    }

    func testGenerationStopsAtAStopToken() throws {
        let model = try TransformerModel.load(from: Fixtures.engine("llama"))
        let golden = try Golden.load("llama")
        let stop = golden.greedy_new_ids[2]
        let result = try model.generate(prompt: golden.input_ids, maxTokens: 8, stopTokens: [stop])
        XCTAssertEqual(result.tokens, Array(golden.greedy_new_ids.prefix(through: golden.greedy_new_ids.firstIndex(of: stop)!)))
        XCTAssertTrue(result.stoppedAtEndOfSequence)
    }
}
