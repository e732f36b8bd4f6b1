import XCTest
import MixtureCore
import MixtureFormats
@testable import MixtureModels

/// The same weights in another on-disk layout must give the same logits.
final class CheckpointLayoutTests: XCTestCase {
    func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("mixture-layout-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    /// transformers 5 keeps experts fused in memory: `experts.gate_up_proj [E, 2I, H]` (gate rows first) and
    /// `experts.down_proj [E, H, I]`. A checkpoint saved that way loads and matches the per-expert one.
    func testFusedExpertTensorsGiveTheSameLogits() throws {
        let source = try ModelFolder(url: Fixtures.engine("olmoe"))
        let target = try temporaryFolder()
        try FileManager.default.copyItem(at: Fixtures.engine("olmoe").appendingPathComponent("config.json"),
                                         to: target.appendingPathComponent("config.json"))
        let experts = 8
        var entries: [SafeTensorsWriter.Entry] = []
        var fusedLayers = Set<String>()
        for name in source.tensorNames.sorted() {
            let parts = name.split(separator: ".")
            if let e = parts.firstIndex(of: "experts"), e + 1 < parts.count, Int(parts[e + 1]) != nil {
                let prefix = parts[..<e].joined(separator: ".")
                if fusedLayers.insert(prefix).inserted {
                    func floats(_ expert: Int, _ projection: String) throws -> [Float] {
                        try source.tensor("\(prefix).experts.\(expert).\(projection).weight")!.floats()
                    }
                    var gateUp: [Float] = [], down: [Float] = []
                    for expert in 0..<experts {
                        gateUp += try floats(expert, "gate_proj") + floats(expert, "up_proj")
                        down += try floats(expert, "down_proj")
                    }
                    let g = source.tensor("\(prefix).experts.0.gate_proj.weight")!.info.shape
                    entries.append(.init(name: "\(prefix).experts.gate_up_proj", floats: gateUp, shape: [experts, 2 * g[0], g[1]]))
                    entries.append(.init(name: "\(prefix).experts.down_proj", floats: down, shape: [experts, g[1], g[0]]))
                }
                continue
            }
            let tensor = source.tensor(name)!
            entries.append(.init(name: name, floats: try tensor.floats(), shape: tensor.info.shape))
        }
        try SafeTensorsWriter.write(entries, to: target.appendingPathComponent("model.safetensors"))
        XCTAssertNil(try ModelFolder(url: target).tensor("model.layers.0.mlp.experts.0.gate_proj.weight"))

        let golden = try Golden.load("olmoe")
        let model = try TransformerModel.load(from: target)
        let logits = try model.forward(golden.input_ids, cache: model.makeCache(), logits: .all)
        for (position, (row, expected)) in zip(logits, golden.logits).enumerated() {
            assertClose(row, expected, relative: 1e-4, "fused olmoe position \(position)")
        }
    }

    /// With tie_word_embeddings the output projection is the embedding matrix, even if the file also holds an lm_head.
    func testTiedEmbeddingsIgnoreAStrayLMHead() throws {
        let target = try temporaryFolder()
        let source = try ModelFolder(url: Fixtures.engine("llama"))
        try FileManager.default.copyItem(at: Fixtures.engine("llama").appendingPathComponent("config.json"),
                                         to: target.appendingPathComponent("config.json"))
        var entries = try source.tensorNames.sorted().map { name -> SafeTensorsWriter.Entry in
            let t = source.tensor(name)!
            return .init(name: name, floats: try t.floats(), shape: t.info.shape)
        }
        let shape = source.tensor("model.embed_tokens.weight")!.info.shape
        entries.append(.init(name: "lm_head.weight", floats: [Float](repeating: 0, count: shape[0] * shape[1]), shape: shape))
        try SafeTensorsWriter.write(entries, to: target.appendingPathComponent("model.safetensors"))
        let golden = try Golden.load("llama")
        let model = try TransformerModel.load(from: target)
        let last = try model.forward(golden.input_ids, cache: model.makeCache(), logits: .last)[0]
        assertClose(last, golden.logits.last!, relative: 1e-4, "tied llama with a zero lm_head in the file")
    }
}
