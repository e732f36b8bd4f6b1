import XCTest
import MixtureCore
@testable import MixtureModels

/// Every architecture against transformers' own logits, router logits and greedy continuation.
final class GoldenParityTests: XCTestCase {
    static let tolerance: Float = 1e-4

    func testPrefillLogitsMatchTransformersForEveryArchitecture() throws {
        for name in Fixtures.engineCases {
            let golden = try Golden.load(name)
            let model = try TransformerModel.load(from: Fixtures.engine(name))
            XCTAssertEqual(model.architecture.modelType, golden.model_type)
            let logits = try model.forward(golden.input_ids, cache: model.makeCache(), logits: .all)
            XCTAssertEqual(logits.count, golden.logits.count, name)
            for (position, (row, expected)) in zip(logits, golden.logits).enumerated() {
                assertClose(row, expected, relative: Self.tolerance, "\(name) position \(position)")
                XCTAssertEqual(Sampler.argmax(row), Sampler.argmax(expected), "\(name): argmax at position \(position)")
            }
        }
    }

    func testTokenByTokenDecodingWithCacheMatchesPrefill() throws {
        for name in Fixtures.engineCases {
            let golden = try Golden.load(name)
            let model = try TransformerModel.load(from: Fixtures.engine(name))
            let cache = model.makeCache(capacity: 2) // forces the cache to grow
            for (position, id) in golden.input_ids.enumerated() {
                let row = try model.forward([id], cache: cache, logits: .last)[0]
                assertClose(row, golden.logits[position], relative: Self.tolerance, "\(name) decode position \(position)")
            }
        }
    }

    func testGreedyContinuationMatchesTransformers() throws {
        for name in Fixtures.engineCases {
            let golden = try Golden.load(name)
            let model = try TransformerModel.load(from: Fixtures.engine(name))
            let result = try model.generate(prompt: golden.input_ids, maxTokens: golden.greedy_new_ids.count)
            XCTAssertEqual(result.tokens, golden.greedy_new_ids, name)
        }
    }

    func testRouterLogitsAndChoicesMatchTransformers() throws {
        var checked = 0
        for name in Fixtures.engineCases {
            let golden = try Golden.load(name)
            guard let expectedLayers = golden.router_logits, let moeLayers = golden.moe_layers else { continue }
            let model = try TransformerModel.load(from: Fixtures.engine(name))
            XCTAssertEqual(model.architecture.sparseLayers.sorted(), moeLayers, "\(name): which layers are sparse")
            let trace = RoutingTrace()
            _ = try model.forward(golden.input_ids, cache: model.makeCache(), logits: .none, routing: trace)
            let k = model.architecture.moe!.expertsPerToken
            for (i, layer) in moeLayers.enumerated() {
                let events = trace.events.filter { $0.layer == layer }.sorted { $0.position < $1.position }
                XCTAssertEqual(events.count, golden.input_ids.count, "\(name) layer \(layer): one event per token")
                for (event, expected) in zip(events, expectedLayers[i]) {
                    assertClose(event.routerLogits, expected, relative: Self.tolerance, "\(name) layer \(layer) position \(event.position) router logits")
                    // The chosen experts are the top-k of the reference logits.
                    let expectedExperts = TopK.indices(expected, k: k)
                    XCTAssertEqual(event.experts, expectedExperts, "\(name) layer \(layer) position \(event.position)")
                    XCTAssertEqual(event.probabilities.reduce(0, +), 1, accuracy: 1e-5)
                    if model.architecture.moe!.normalizeTopKProbabilities {
                        XCTAssertEqual(event.weights.reduce(0, +), 1, accuracy: 1e-5)
                    } else {
                        XCTAssertEqual(event.weights, expectedExperts.map { event.probabilities[$0] })
                    }
                }
                checked += 1
            }
        }
        XCTAssertGreaterThanOrEqual(checked, 8, "every MoE fixture's layers were checked")
    }
}
