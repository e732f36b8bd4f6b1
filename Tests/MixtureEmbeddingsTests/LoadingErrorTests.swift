import Foundation
import MixtureCore
import MixtureEmbeddings
import XCTest

/// Broken sentence-transformers folders give one error line that names the file and the problem.
final class LoadingErrorTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("mixture-embeddings-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: EmbeddingFixtures.tinyBertCLS, to: folder)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    func write(_ text: String, to name: String) throws {
        try Data(text.utf8).write(to: folder.appendingPathComponent(name))
    }

    func assertLoadFails(mentioning fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SentenceTransformer.load(from: folder), file: file, line: line) { error in
            XCTAssertTrue(error is MixtureError, "\(type(of: error)): \(error)", file: file, line: line)
            let text = "\(error)"
            XCTAssertFalse(text.contains("\n"), "one line: \(text)", file: file, line: line)
            for fragment in fragments {
                XCTAssertTrue(text.contains(fragment), "'\(fragment)' in: \(text)", file: file, line: line)
            }
        }
    }

    let transformer = #"{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}"#
    let pooling = #"{"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}"#

    func testMissingModulesJSON() throws {
        try FileManager.default.removeItem(at: folder.appendingPathComponent("modules.json"))
        assertLoadFails(mentioning: ["modules.json", "missing"])
    }

    func testModulesJSONWithoutPooling() throws {
        try write("[\(transformer)]", to: "modules.json")
        assertLoadFails(mentioning: ["modules.json", "Pooling"])
    }

    func testModulesJSONEntryWithoutType() throws {
        try write(#"[{"idx": 0, "path": ""}]"#, to: "modules.json")
        assertLoadFails(mentioning: ["modules.json", "module 0", "'type'"])
    }

    func testModulesJSONWithoutTransformerFirst() throws {
        try write("[\(pooling)]", to: "modules.json")
        assertLoadFails(mentioning: ["modules.json", "Transformer"])
    }

    func testUnknownModuleType() throws {
        let dense = #"{"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}"#
        try write("[\(transformer), \(pooling), \(dense)]", to: "modules.json")
        assertLoadFails(mentioning: ["modules.json", "sentence_transformers.models.Dense", "not supported"])
    }

    func testPoolingFolderMissing() throws {
        try FileManager.default.removeItem(at: folder.appendingPathComponent("1_Pooling"))
        assertLoadFails(mentioning: ["1_Pooling/config.json", "missing"])
    }

    func testUnknownPoolingMode() throws {
        try write(#"{"embedding_dimension": 32, "pooling_mode": "median"}"#, to: "1_Pooling/config.json")
        assertLoadFails(mentioning: ["1_Pooling/config.json", "pooling_mode", "unknown pooling mode 'median'"])
    }

    func testUnknownLegacyPoolingMode() throws {
        try write(#"{"word_embedding_dimension": 32, "pooling_mode_median_tokens": true}"#, to: "1_Pooling/config.json")
        assertLoadFails(mentioning: ["1_Pooling/config.json", "pooling_mode_median_tokens", "unknown pooling mode"])
    }

    func testPoolingDimensionMismatch() throws {
        try write(#"{"embedding_dimension": 384, "pooling_mode": "mean"}"#, to: "1_Pooling/config.json")
        assertLoadFails(mentioning: ["1_Pooling/config.json", "384", "hidden_size 32"])
    }

    func testLegacyPoolingConfigIsRead() throws {
        try write(#"{"word_embedding_dimension": 32, "pooling_mode_cls_token": false, "pooling_mode_mean_tokens": true, "pooling_mode_max_tokens": true}"#,
                  to: "1_Pooling/config.json")
        let model = try SentenceTransformer.load(from: folder)
        XCTAssertEqual(model.stages, [.pooling(Pooling(modes: [.max, .mean], embeddingDimension: 32))])
        XCTAssertEqual(model.embeddingDimension, 64)
    }

    func testUnsupportedEncoderType() throws {
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("config.json"))) as! [String: Any]
        config["model_type"] = "distilbert"
        try JSONSerialization.data(withJSONObject: config).write(to: folder.appendingPathComponent("config.json"))
        assertLoadFails(mentioning: ["config.json", "model_type", "distilbert"])
    }

    func testMissingWeights() throws {
        try FileManager.default.removeItem(at: folder.appendingPathComponent("model.safetensors"))
        assertLoadFails(mentioning: ["model.safetensors"])
    }

    func testMaxSeqLengthFromSentenceBertConfig() throws {
        try write(#"{"max_seq_length": 8, "do_lower_case": false}"#, to: "sentence_bert_config.json")
        XCTAssertEqual(try SentenceTransformer.load(from: folder).maxSequenceLength, 8)
        try write(#"{"max_seq_length": 1000}"#, to: "sentence_bert_config.json")
        XCTAssertEqual(try SentenceTransformer.load(from: folder).maxSequenceLength, 40, "capped at the position table")
    }
}
