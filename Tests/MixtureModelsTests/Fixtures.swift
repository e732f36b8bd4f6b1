import Foundation
import XCTest

/// Paths to the committed fixtures under Tests/Fixtures.
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func engine(_ name: String) -> URL { root.appendingPathComponent("engine/\(name)") }

    static let engineCases = ["llama", "llama_bf16", "mistral", "qwen2", "qwen3", "qwen3_f16", "mixtral",
                              "mixtral_sharded", "qwen2_moe", "qwen3_moe", "olmoe", "olmoe_bf16"]
}

/// The reference outputs transformers produced for one fixture (see Scripts/gen_engine_fixtures.py).
struct Golden: Decodable {
    let model_type: String
    let dtype: String
    let input_ids: [Int]
    let logits: [[Float]]
    let greedy_new_ids: [Int]
    let moe_layers: [Int]?
    let router_logits: [[[Float]]]?

    static func load(_ name: String) throws -> Golden {
        let data = try Data(contentsOf: Fixtures.engine(name).appendingPathComponent("golden.json"))
        return try JSONDecoder().decode(Golden.self, from: data)
    }
}

/// Asserts two rows agree within `relative`·max(1, |expected|), reporting the worst element.
func assertClose(_ actual: [Float], _ expected: [Float], relative: Float, _ message: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, "\(message): length", file: file, line: line)
    var worst: (index: Int, excess: Float) = (-1, 0)
    for (i, (a, e)) in zip(actual, expected).enumerated() {
        let excess = abs(a - e) / (relative * max(1, abs(e)))
        if excess > worst.excess { worst = (i, excess) }
    }
    if worst.excess > 1 {
        XCTFail("\(message): element \(worst.index) is \(actual[worst.index]), expected \(expected[worst.index]) (tolerance \(relative)·max(1,|x|))",
                file: file, line: line)
    }
}
