import XCTest
import MixtureCore
import MixtureFormats
@testable import MixtureModels

/// Bad model folders fail with one line that names the file or field.
final class LoadingErrorTests: XCTestCase {
    func copyFixture(_ name: String) throws -> URL {
        let target = FileManager.default.temporaryDirectory.appendingPathComponent("mixture-le-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: Fixtures.engine(name), to: target)
        addTeardownBlock { try? FileManager.default.removeItem(at: target) }
        return target
    }

    func editConfig(_ url: URL, _ edit: (inout [String: Any]) -> Void) throws {
        let configURL = url.appendingPathComponent("config.json")
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as! [String: Any]
        edit(&object)
        try JSONSerialization.data(withJSONObject: object).write(to: configURL)
    }

    func assertLoadFails(_ url: URL, mentioning fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try TransformerModel.load(from: url), file: file, line: line) { error in
            let message = "\(error)"
            for fragment in fragments {
                XCTAssertTrue(message.contains(fragment), "'\(message)' should mention '\(fragment)'", file: file, line: line)
            }
            XCTAssertFalse(message.contains("\n"), file: file, line: line)
        }
    }

    // Issue 18: a huge layer count used to abort in a 16 TB allocation before any tensor was looked at.
    func testImplausibleLayerCountIsRefusedBeforeAnythingIsAllocated() throws {
        let url = try copyFixture("llama")
        try editConfig(url) { $0["num_hidden_layers"] = 1_000_000_000_000 }
        assertLoadFails(url, mentioning: ["config.json", "num_hidden_layers", "1000000000000", "at most 4096"])
    }

    func testImplausibleSizesAreRefusedForEveryCountField() throws {
        for (fixture, field) in [("llama", "hidden_size"), ("llama", "vocab_size"), ("llama", "intermediate_size"),
                                 ("llama", "num_attention_heads"), ("llama", "num_key_value_heads"), ("llama", "head_dim"),
                                 ("mixtral", "num_local_experts"), ("olmoe", "num_experts_per_tok"), ("qwen2_moe", "moe_intermediate_size")] {
            let url = try copyFixture(fixture)
            try editConfig(url) { $0[field] = 1 << 40 }
            assertLoadFails(url, mentioning: ["config.json", field, "\(1 << 40)"])
        }
    }

    func testDeeplyNestedConfigNamesTheNestingLimit() throws {
        let url = try copyFixture("llama")
        let deep = "{\"model_type\": \"llama\", \"x\": " + String(repeating: "[", count: 2000) + String(repeating: "]", count: 2000) + "}"
        try Data(deep.utf8).write(to: url.appendingPathComponent("config.json"))
        assertLoadFails(url, mentioning: ["config.json", "not valid JSON", "nested deeper than 512 levels"])
    }

    func testNegativeCountIsRefused() throws {
        let url = try copyFixture("qwen3")
        try editConfig(url) { $0["num_hidden_layers"] = -3 }
        assertLoadFails(url, mentioning: ["num_hidden_layers", "must be positive, found -3"])
    }

    func testMoreLayersThanTheCheckpointHoldsNamesTheConfigField() throws {
        let url = try copyFixture("llama")
        let stored = try (JSONSerialization.jsonObject(with: Data(contentsOf: url.appendingPathComponent("config.json"))) as! [String: Any])["num_hidden_layers"] as! Int
        try editConfig(url) { $0["num_hidden_layers"] = 4000 }
        assertLoadFails(url, mentioning: ["num_hidden_layers", "4000 layers, but the checkpoint holds layers 0...\(stored - 1)"])
    }

    func testConfigMissingARequiredKey() throws {
        let url = try copyFixture("qwen3_moe")
        try editConfig(url) { $0.removeValue(forKey: "hidden_size") }
        assertLoadFails(url, mentioning: ["config.json", "hidden_size", "missing"])
    }

    func testMoEConfigMissingExpertCount() throws {
        let url = try copyFixture("mixtral")
        try editConfig(url) { $0.removeValue(forKey: "num_local_experts") }
        assertLoadFails(url, mentioning: ["num_local_experts"])
    }

    func testUnknownModelTypeListsSupportedOnes() throws {
        let url = try copyFixture("llama")
        try editConfig(url) { $0["model_type"] = "gpt_neox" }
        assertLoadFails(url, mentioning: ["'gpt_neox' is not supported", "llama", "mixtral", "olmoe", "qwen3_moe"])
    }

    func testUnsupportedRopeTypeIsNamed() throws {
        let url = try copyFixture("llama")
        try editConfig(url) { $0["rope_parameters"] = ["rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0] }
        assertLoadFails(url, mentioning: ["rope_type", "yarn", "supported"])
    }

    func testUnsupportedActivationIsNamed() throws {
        let url = try copyFixture("qwen2")
        try editConfig(url) { $0["hidden_act"] = "gelu_new" }
        assertLoadFails(url, mentioning: ["hidden_act", "gelu_new"])
    }

    func testShapeMismatchBetweenConfigAndWeights() throws {
        let url = try copyFixture("olmoe")
        try editConfig(url) { $0["intermediate_size"] = 32 }
        assertLoadFails(url, mentioning: ["shape", "expected [32, 64]"])
    }

    func testMissingTensorIsNamed() throws {
        let url = try copyFixture("llama")
        try editConfig(url) { $0["attention_bias"] = true }
        assertLoadFails(url, mentioning: ["missing tensor 'model.layers.0.self_attn.q_proj.bias'"])
    }

    func testTruncatedWeightsFile() throws {
        let url = try copyFixture("qwen2")
        let weights = url.appendingPathComponent("model.safetensors")
        let data = try Data(contentsOf: weights)
        try data.prefix(data.count / 2).write(to: weights)
        assertLoadFails(url, mentioning: ["model.safetensors", "truncated"])
    }

    func testOutOfRangeTokenIdIsAnErrorNotACrash() throws {
        let model = try TransformerModel.load(from: Fixtures.engine("llama"))
        XCTAssertThrowsError(try model.forward([1, 96], cache: model.makeCache())) { error in
            XCTAssertTrue("\(error)".contains("token id 96 is out of range"), "\(error)")
        }
        XCTAssertThrowsError(try model.forward([-1], cache: model.makeCache()))
    }
}

/// Which layers slide, and by how much, as each family's transformers code decides (each expectation checked
/// against transformers 5.23's config classes and modeling code: MistralConfig(), Qwen2MoeConfig(...).layer_types, ...).
final class SlidingWindowConfigTests: XCTestCase {
    func windows(_ values: [String: Any]) throws -> [Int?] {
        var config: [String: Any] = ["vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 4, "num_attention_heads": 2,
                                     "intermediate_size": 8, "num_experts": 2, "num_local_experts": 2, "num_experts_per_tok": 1,
                                     "moe_intermediate_size": 4]
        config.merge(values) { $1 }
        return try ArchitectureDescription(config: JSONConfig(values: config, path: "config.json")).slidingWindows
    }

    func testMistralAppliesItsWindowToEveryLayerAndDefaultsTo4096() throws {
        XCTAssertEqual(try windows(["model_type": "mistral", "sliding_window": 16]), [16, 16, 16, 16])
        XCTAssertEqual(try windows(["model_type": "mistral"]), [4096, 4096, 4096, 4096])
        XCTAssertEqual(try windows(["model_type": "mistral", "sliding_window": NSNull()]), [nil, nil, nil, nil])
        XCTAssertEqual(try windows(["model_type": "mistral", "sliding_window": 16,
                                    "layer_types": ["full_attention", "full_attention", "full_attention", "full_attention"]]), [16, 16, 16, 16])
        XCTAssertEqual(try windows(["model_type": "mixtral"]), [nil, nil, nil, nil])
    }

    func testQwenFamiliesSlideOnlyWhenEnabled() throws {
        XCTAssertEqual(try windows(["model_type": "qwen2", "sliding_window": 32, "max_window_layers": 2]), [nil, nil, nil, nil])
        XCTAssertEqual(try windows(["model_type": "qwen2", "use_sliding_window": true, "sliding_window": 32, "max_window_layers": 2]),
                       [nil, nil, 32, 32])
        XCTAssertEqual(try windows(["model_type": "qwen3", "use_sliding_window": true, "sliding_window": 32,
                                    "layer_types": ["sliding_attention", "full_attention", "sliding_attention", "full_attention"]]),
                       [32, nil, 32, nil])
        XCTAssertEqual(try windows(["model_type": "qwen2_moe", "use_sliding_window": true, "sliding_window": 32, "max_window_layers": 3]),
                       [32, nil, 32, nil])
        XCTAssertEqual(try windows(["model_type": "qwen3_moe", "use_sliding_window": true, "sliding_window": 32]), [32, 32, 32, 32])
        XCTAssertEqual(try windows(["model_type": "qwen3_moe", "sliding_window": 32]), [nil, nil, nil, nil])
    }
}

/// Keys a config.json may omit take transformers' defaults (checked against transformers 5.23's
/// config classes: MixtralConfig().rms_norm_eps == 1e-5, rope_theta 1e6; Qwen3MoeConfig().norm_topk_prob == False).
final class ConfigDefaultTests: XCTestCase {
    func architecture(_ values: [String: Any]) throws -> ArchitectureDescription {
        var config: [String: Any] = ["vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2,
                                     "intermediate_size": 8, "num_experts": 4, "num_local_experts": 4, "num_experts_per_tok": 2,
                                     "moe_intermediate_size": 4]
        config.merge(values) { $1 }
        return try ArchitectureDescription(config: JSONConfig(values: config, path: "config.json"))
    }

    func testDefaultsFollowEachConfigClass() throws {
        XCTAssertEqual(try architecture(["model_type": "mixtral"]).rmsNormEpsilon, 1e-5)
        XCTAssertEqual(try architecture(["model_type": "olmoe"]).rmsNormEpsilon, 1e-5)
        XCTAssertEqual(try architecture(["model_type": "llama"]).rmsNormEpsilon, 1e-6)
        XCTAssertEqual(try architecture(["model_type": "mixtral"]).ropeTheta, 1_000_000)
        XCTAssertEqual(try architecture(["model_type": "qwen2"]).ropeTheta, 10_000)
        XCTAssertEqual(try architecture(["model_type": "qwen3_moe"]).moe?.normalizeTopKProbabilities, false)
        XCTAssertEqual(try architecture(["model_type": "mixtral"]).moe?.normalizeTopKProbabilities, true)
        XCTAssertEqual(try architecture(["model_type": "qwen3"]).headDimension, 128)
        XCTAssertEqual(try architecture(["model_type": "qwen2"]).headDimension, 4)
        XCTAssertTrue(try architecture(["model_type": "qwen2", "qkv_bias": false]).queryKeyValueBias)
    }
}
