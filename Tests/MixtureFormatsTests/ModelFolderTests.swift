import XCTest
import MixtureCore
@testable import MixtureFormats

final class ModelFolderTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/engine")

    func copyFixture(_ name: String) throws -> URL {
        let target = FileManager.default.temporaryDirectory.appendingPathComponent("mixture-mf-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: Self.fixtures.appendingPathComponent(name), to: target)
        addTeardownBlock { try? FileManager.default.removeItem(at: target) }
        return target
    }

    func testShardedFolderExposesEveryTensorOfEveryShard() throws {
        let folder = try ModelFolder(url: Self.fixtures.appendingPathComponent("mixtral_sharded"))
        XCTAssertEqual(folder.files.count, 2)
        XCTAssertNotNil(folder.tensor("model.embed_tokens.weight"))
        XCTAssertNotNil(folder.tensor("lm_head.weight"))
        XCTAssertNil(folder.tensor("no.such.tensor"))
    }

    func testMissingShardIsNamed() throws {
        let url = try copyFixture("mixtral_sharded")
        try FileManager.default.removeItem(at: url.appendingPathComponent("model-00002-of-00002.safetensors"))
        XCTAssertThrowsError(try ModelFolder(url: url)) { error in
            XCTAssertTrue("\(error)".contains("model-00002-of-00002.safetensors"), "\(error)")
            XCTAssertTrue("\(error)".contains("missing"), "\(error)")
        }
    }

    func testMissingConfigIsNamed() throws {
        let url = try copyFixture("llama")
        try FileManager.default.removeItem(at: url.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try ModelFolder(url: url)) { XCTAssertTrue("\($0)".contains("config.json"), "\($0)") }
    }

    func testFolderWithoutWeightsIsRejected() throws {
        let url = try copyFixture("llama")
        try FileManager.default.removeItem(at: url.appendingPathComponent("model.safetensors"))
        XCTAssertThrowsError(try ModelFolder(url: url)) { XCTAssertTrue("\($0)".contains("no model.safetensors"), "\($0)") }
    }

    func testConfigFieldErrorsNameTheField() throws {
        let config = try JSONConfig(data: Data(#"{"a": 1, "b": "x", "c": true, "d": 2.5}"#.utf8), path: "config.json")
        XCTAssertEqual(try config.int("a"), 1)
        XCTAssertThrowsError(try config.int("missing")) { XCTAssertEqual("\($0)", "config.json: field 'missing': required but missing") }
        XCTAssertThrowsError(try config.int("b")) { XCTAssertTrue("\($0)".contains("field 'b': expected an integer")) }
        XCTAssertThrowsError(try config.int("c")) { XCTAssertTrue("\($0)".contains("field 'c'")) }
        XCTAssertThrowsError(try config.int("d")) { XCTAssertTrue("\($0)".contains("field 'd'")) }
        XCTAssertEqual(try config.bool("c", default: false), true)
        XCTAssertThrowsError(try config.bool("a", default: false))
    }
}
