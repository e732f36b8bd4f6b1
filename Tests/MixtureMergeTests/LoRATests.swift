import Foundation
import MixtureCore
import MixtureFormats
import MixtureMerge
import XCTest

/// LoRA extraction (against mergekit 0.1.5's extract-lora) and application (against peft 0.21.2's
/// merge_and_unload). Fixtures: Tests/Fixtures/lora, made by Scripts/gen_lora_fixtures.py.
final class LoRATests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/lora")
    var base: URL { Self.fixtures.appendingPathComponent("base") }
    var finetuned: URL { Self.fixtures.appendingPathComponent("finetuned") }
    func adapter(_ name: String) -> URL { Self.fixtures.appendingPathComponent("adapter_\(name)") }

    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("lora-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: scratch)
    }

    // MARK: - Helpers

    struct Tensor: Equatable {
        var shape: [Int]
        var dtype: String
        var values: [Float]
    }

    func load(_ url: URL) throws -> [String: Tensor] {
        let file = try SafeTensorsFile(path: url.path)
        var out: [String: Tensor] = [:]
        for (name, info) in file.tensors {
            out[name] = Tensor(shape: info.shape, dtype: info.dtype.rawValue, values: try file.tensor(name)!.floats())
        }
        return out
    }

    func loadFolder(_ url: URL) throws -> [String: Tensor] {
        let folder = try ModelFolder(url: url)
        var out: [String: Tensor] = [:]
        for name in folder.tensorNames {
            let view = folder.tensor(name)!
            out[name] = Tensor(shape: view.info.shape, dtype: view.info.dtype.rawValue, values: try view.floats())
        }
        return out
    }

    func json(_ url: URL) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }

    /// max |a − b| / max |b|.
    func relativeError(_ a: [Float], _ b: [Float]) -> Double {
        precondition(a.count == b.count)
        var worst = 0.0, scale = 0.0
        for (x, y) in zip(a, b) {
            worst = max(worst, Double(abs(x - y)))
            scale = max(scale, Double(abs(y)))
        }
        return scale == 0 ? worst : worst / scale
    }

    func frobenius(_ a: [Float]) -> Double { a.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot() }

    /// B·A (row-major; B: out × r, A: r × in).
    func product(_ b: Tensor, _ a: Tensor) -> [Float] {
        let out = b.shape[0], r = b.shape[1], inputs = a.shape[1]
        var result = [Float](repeating: 0, count: out * inputs)
        for i in 0..<out {
            for k in 0..<r {
                let w = b.values[i * r + k]
                for j in 0..<inputs { result[i * inputs + j] += w * a.values[k * inputs + j] }
            }
        }
        return result
    }

    /// Writes a copy of `source` adapter with tensors and config edited.
    func editedAdapter(_ source: String, config edit: ((inout [String: Any]) -> Void)? = nil,
                       tensors change: ((inout [String: Tensor]) -> Void)? = nil) throws -> URL {
        let url = scratch.appendingPathComponent("adapter-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        var config = try json(adapter(source).appendingPathComponent("adapter_config.json"))
        edit?(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: url.appendingPathComponent("adapter_config.json"))
        var tensors = try load(adapter(source).appendingPathComponent("adapter_model.safetensors"))
        change?(&tensors)
        try write(tensors, to: url.appendingPathComponent("adapter_model.safetensors"))
        return url
    }

    func write(_ tensors: [String: Tensor], to url: URL, dtype: DType? = nil) throws {
        let entries = tensors.keys.sorted().map { name -> SafeTensorsWriter.Entry in
            let t = tensors[name]!
            return SafeTensorsWriter.Entry(name: name, floats: t.values, shape: t.shape, dtype: dtype ?? DType(name: t.dtype)!)
        }
        try SafeTensorsWriter.write(entries, metadata: ["format": "pt"], to: url)
    }

    /// A copy of the base model folder (config and tokenizer files) with its tensors rewritten.
    func baseCopy(dtype: DType? = nil, shards: Int = 1) throws -> URL {
        let url = scratch.appendingPathComponent("base-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: base.path) where !name.hasSuffix(".safetensors") {
            try FileManager.default.copyItem(at: base.appendingPathComponent(name), to: url.appendingPathComponent(name))
        }
        let tensors = try loadFolder(base)
        let names = tensors.keys.sorted()
        if shards == 1 {
            try write(tensors, to: url.appendingPathComponent("model.safetensors"), dtype: dtype)
            return url
        }
        var weightMap: [String: String] = [:]
        for s in 0..<shards {
            let file = String(format: "model-%05d-of-%05d.safetensors", s + 1, shards)
            let part = names.enumerated().filter { $0.offset % shards == s }.map(\.element)
            try write(tensors.filter { part.contains($0.key) }, to: url.appendingPathComponent(file), dtype: dtype)
            for name in part { weightMap[name] = file }
        }
        let index: [String: Any] = ["metadata": ["total_size": 0], "weight_map": weightMap]
        try JSONSerialization.data(withJSONObject: index).write(to: url.appendingPathComponent("model.safetensors.index.json"))
        return url
    }

    func assertError(_ expression: @autoclosure () throws -> Any, contains fragments: [String],
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try expression(), file: file, line: line) { error in
            let text = "\(error)"
            XCTAssertFalse(text.contains("\n"), "error is not one line: \(text)", file: file, line: line)
            for fragment in fragments {
                XCTAssertTrue(text.contains(fragment), "'\(text)' does not mention '\(fragment)'", file: file, line: line)
            }
        }
    }

    // MARK: - apply-lora against peft

    func checkApply(_ name: String, base: URL? = nil, file: StaticString = #filePath, line: UInt = #line) throws {
        let base = base ?? self.base
        let out = scratch.appendingPathComponent("merged_\(name)")
        let summary = try LoRA.apply(base: base, adapter: adapter(name), to: out)
        XCTAssertTrue(summary.ignoredTensors.isEmpty, "\(summary.ignoredTensors)", file: file, line: line)
        let merged = try loadFolder(out)
        let reference = try load(Self.fixtures.appendingPathComponent("merged_\(name).safetensors"))
        let baseTensors = try loadFolder(base)
        // Tensors absent from the base: an output head that the merge untied from the embedding.
        let added = Set(reference.keys).subtracting(baseTensors.keys)
        XCTAssertEqual(Set(merged.keys), Set(baseTensors.keys).union(added), file: file, line: line)
        var worst = 0.0
        for tensorName in merged.keys {
            let original = baseTensors[tensorName] ?? reference[tensorName]!
            let expected = reference[tensorName] ?? original
            let ours = merged[tensorName]!
            XCTAssertEqual(ours.shape, original.shape, tensorName, file: file, line: line)
            XCTAssertEqual(ours.dtype, original.dtype, tensorName, file: file, line: line)
            let error = relativeError(ours.values, expected.values)
            worst = max(worst, error)
            XCTAssertLessThanOrEqual(error, 1e-5, "\(name): \(tensorName)", file: file, line: line)
        }
        print("apply-lora \(name): max relative error vs peft merge_and_unload \(worst) over \(reference.count) changed tensors")
        for companion in ["generation_config.json", "tokenizer_config.json", "special_tokens_map.json"] {
            XCTAssertEqual(try Data(contentsOf: out.appendingPathComponent(companion)),
                           try Data(contentsOf: base.appendingPathComponent(companion)), companion, file: file, line: line)
        }
        var config = try json(out.appendingPathComponent("config.json"))
        var baseConfig = try json(base.appendingPathComponent("config.json"))
        if !added.isEmpty {
            XCTAssertEqual(config["tie_word_embeddings"] as? Bool, false, file: file, line: line)
            config["tie_word_embeddings"] = nil
            baseConfig["tie_word_embeddings"] = nil
        }
        XCTAssertEqual(NSDictionary(dictionary: config), NSDictionary(dictionary: baseConfig), file: file, line: line)
    }

    func testApplyMatchesPeftWithRankAndAlphaPatterns() throws {
        try checkApply("patterns")
    }

    func testApplyMatchesPeftWithRSLoRAAndLoRABias() throws {
        try checkApply("rslora")
    }

    func testApplyMatchesPeftWithEmbeddingLoRAAndModulesToSave() throws {
        try checkApply("embed")
    }

    func testApplyMatchesPeftOnGPT2Conv1DLayers() throws {
        try checkApply("gpt2", base: Self.fixtures.appendingPathComponent("gpt2_base"))
    }

    func testApplyKeepsShardingAndMatchesSingleFile() throws {
        let sharded = try baseCopy(shards: 3)
        let out = scratch.appendingPathComponent("merged-sharded")
        try LoRA.apply(base: sharded, adapter: adapter("patterns"), to: out)
        let files = try FileManager.default.contentsOfDirectory(atPath: out.path).filter { $0.hasSuffix(".safetensors") }.sorted()
        XCTAssertEqual(files, ["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors"])
        XCTAssertEqual(try Data(contentsOf: out.appendingPathComponent("model.safetensors.index.json")),
                       try Data(contentsOf: sharded.appendingPathComponent("model.safetensors.index.json")))
        let single = scratch.appendingPathComponent("merged-single")
        try LoRA.apply(base: base, adapter: adapter("patterns"), to: single)
        XCTAssertEqual(try loadFolder(out), try loadFolder(single))
    }

    func testApplyToBFloat16BaseRoundsOnce() throws {
        let bf16 = try baseCopy(dtype: .bfloat16)
        let out = scratch.appendingPathComponent("merged-bf16")
        try LoRA.apply(base: bf16, adapter: adapter("patterns"), to: out)
        let merged = try loadFolder(out)
        let baseTensors = try loadFolder(bf16)
        let adapterTensors = try load(adapter("patterns").appendingPathComponent("adapter_model.safetensors"))
        // q_proj of layer 0: r = 4, alpha = 8 → scale 2. Expected: bf16(bf16(base) + 2·B·A).
        let module = "model.layers.0.self_attn.q_proj"
        let a = adapterTensors["base_model.model.\(module).lora_A.weight"]!
        let b = adapterTensors["base_model.model.\(module).lora_B.weight"]!
        let delta = product(b, a)
        let original = baseTensors[module + ".weight"]!
        let ours = merged[module + ".weight"]!
        XCTAssertEqual(ours.dtype, "BF16")
        for i in 0..<delta.count {
            let exact = original.values[i] + 2 * delta[i]
            let rounded = ScalarConversion.float(fromBFloat16: ScalarConversion.bfloat16Bits(from: exact))
            XCTAssertEqual(ours.values[i], rounded, accuracy: abs(rounded) * 1e-2 + 1e-6)
        }
        XCTAssertEqual(merged["model.norm.weight"], baseTensors["model.norm.weight"])
    }

    func testLoRABiasWithoutFlagIsIgnoredLikePeft() throws {
        let module = "model.layers.0.self_attn.q_proj"
        let edited = try editedAdapter("patterns", tensors: { tensors in
            tensors["base_model.model.\(module).lora_B.bias"] = Tensor(shape: [32], dtype: "F32", values: [Float](repeating: 1, count: 32))
        })
        let out = scratch.appendingPathComponent("merged")
        let summary = try LoRA.apply(base: base, adapter: edited, to: out)
        XCTAssertEqual(summary.ignoredTensors.count, 1)
        XCTAssertTrue(summary.ignoredTensors[0].contains("lora_B.bias"))
        XCTAssertEqual(try loadFolder(out)[module + ".bias"], try loadFolder(base)[module + ".bias"])
    }

    // MARK: - extract-lora against mergekit

    func mergekitRecord() throws -> [String: Any] {
        try json(Self.fixtures.appendingPathComponent("mergekit_rank4.json"))
    }

    func checkExtractionError(method: TruncatedSVD.Method) throws {
        let record = try mergekitRecord()
        let rank = record["rank"] as! Int
        let theirs = record["relative_error"] as! [String: Double]
        let out = scratch.appendingPathComponent("extracted-\(method)")
        var options = LoRA.ExtractOptions()
        options.svd.method = method
        let summary = try LoRA.extract(base: base, finetuned: finetuned, rank: rank, to: out, options: options)
        XCTAssertEqual(Set(summary.ranks.keys), Set(theirs.keys))
        let tensors = try load(out.appendingPathComponent("adapter_model.safetensors"))
        let baseTensors = try loadFolder(base), tuned = try loadFolder(finetuned)
        for (module, reference) in theirs.sorted(by: { $0.key < $1.key }) {
            let a = tensors["base_model.model.\(module).lora_A.weight"]!
            let b = tensors["base_model.model.\(module).lora_B.weight"]!
            let delta = zip(tuned[module + ".weight"]!.values, baseTensors[module + ".weight"]!.values).map { $0 - $1 }
            let reconstruction = product(b, a) // lora_alpha = r: scale 1
            let ours = frobenius(zip(delta, reconstruction).map { $0 - $1 }) / frobenius(delta)
            print(String(format: "extract-lora %@ %@: ours %.6f mergekit %.6f", "\(method)", module, ours, reference))
            XCTAssertLessThanOrEqual(ours, 1.01 * reference + 1e-6, "\(method) \(module)")
        }
    }

    func testExtractErrorWithinOnePercentOfMergekit() throws {
        try checkExtractionError(method: .automatic)
    }

    func testRandomizedExtractErrorWithinOnePercentOfMergekit() throws {
        try checkExtractionError(method: .randomized)
    }

    func testExtractedAdapterMatchesMergekitLayout() throws {
        let record = try mergekitRecord()
        let out = scratch.appendingPathComponent("extracted")
        let summary = try LoRA.extract(base: base, finetuned: finetuned, rank: record["rank"] as! Int, to: out)
        let tensors = try load(out.appendingPathComponent("adapter_model.safetensors"))
        let theirTensors = record["tensors"] as! [String: [String: Any]]
        // Same LoRA pairs and full tensors; in addition the attention biases the fine-tune changed, which
        // mergekit's Llama architecture table does not list (so mergekit loses them), stored as peft loads them.
        let extra = Set(tensors.keys).subtracting(theirTensors.keys)
        XCTAssertEqual(extra, Set(summary.changedBiases.map { "base_model.model.\($0).base_layer.bias" }))
        XCTAssertEqual(extra.count, 8)
        XCTAssertEqual(Set(theirTensors.keys).subtracting(tensors.keys), [])
        for (name, info) in theirTensors {
            XCTAssertEqual(tensors[name]!.shape, info["shape"] as! [Int], name)
            XCTAssertEqual(tensors[name]!.dtype, "F32", name)
        }
        // Full tensors are the fine-tune's, bit for bit.
        let tuned = try loadFolder(finetuned)
        XCTAssertEqual(tensors["base_model.model.model.embed_tokens.weight"]!.values, tuned["model.embed_tokens.weight"]!.values)
        XCTAssertEqual(tensors["base_model.model.lm_head.weight"]!.values, tuned["lm_head.weight"]!.values)
        XCTAssertEqual(tensors["base_model.model.model.norm.weight"]!.values, tuned["model.norm.weight"]!.values)

        let ours = try json(out.appendingPathComponent("adapter_config.json"))
        let theirs = record["adapter_config"] as! [String: Any]
        for key in ["r", "lora_alpha"] { XCTAssertEqual(ours[key] as? Int, theirs[key] as? Int, key) }
        for key in ["peft_type", "task_type"] { XCTAssertEqual(ours[key] as? String, theirs[key] as? String, key) }
        for key in ["use_rslora", "fan_in_fan_out", "inference_mode"] { XCTAssertEqual(ours[key] as? Bool, theirs[key] as? Bool, key) }
        XCTAssertEqual(ours["lora_dropout"] as? Double, theirs["lora_dropout"] as? Double)
        for key in ["target_modules", "modules_to_save"] {
            XCTAssertEqual(Set(ours[key] as! [String]), Set(theirs[key] as! [String]), key)
        }
        for key in ["rank_pattern", "alpha_pattern"] {
            XCTAssertEqual(ours[key] as? [String: Int], theirs[key] as? [String: Int], key)
        }
        XCTAssertEqual(ours["base_model_name_or_path"] as? String, base.path)
        XCTAssertEqual(ours["bias"] as? String, "lora_only")
    }

    func testRankAboveSmallLayersGoesToRankPattern() throws {
        let out = scratch.appendingPathComponent("extracted")
        let summary = try LoRA.extract(base: base, finetuned: finetuned, rank: 20, to: out)
        XCTAssertEqual(summary.rank, 20)
        let config = try json(out.appendingPathComponent("adapter_config.json"))
        XCTAssertEqual(config["r"] as? Int, 20)
        // k_proj / v_proj are 16 × 32: their rank is 16.
        let expected = Dictionary(uniqueKeysWithValues: (0..<2).flatMap { l in
            ["k_proj", "v_proj"].map { ("model.layers.\(l).self_attn.\($0)", 16) }
        })
        XCTAssertEqual(config["rank_pattern"] as? [String: Int], expected)
        XCTAssertEqual(config["alpha_pattern"] as? [String: Int], expected)
        let tensors = try load(out.appendingPathComponent("adapter_model.safetensors"))
        XCTAssertEqual(tensors["base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight"]!.shape, [16, 32])
        XCTAssertEqual(tensors["base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"]!.shape, [32, 20])
    }

    func testFullRankExtractionThenApplyReproducesFineTune() throws {
        let extracted = scratch.appendingPathComponent("extracted")
        try LoRA.extract(base: base, finetuned: finetuned, rank: 64, to: extracted)
        let merged = scratch.appendingPathComponent("merged")
        let summary = try LoRA.apply(base: base, adapter: extracted, to: merged)
        XCTAssertEqual(summary.mergedModules.count, 14)
        let ours = try loadFolder(merged), tuned = try loadFolder(finetuned)
        XCTAssertEqual(Set(ours.keys), Set(tuned.keys))
        for (name, t) in tuned {
            XCTAssertLessThanOrEqual(relativeError(ours[name]!.values, t.values), 1e-5, name)
        }
    }

    func testConv1DExtractionRoundTrip() throws {
        // GPT-2 stores its linear layers in × out (transformers' Conv1D): the adapter must say fan_in_fan_out
        // and hold lora_A as r × in, lora_B as out × r, as peft expects.
        let gpt2 = Self.fixtures.appendingPathComponent("gpt2_base")
        let tuned = scratch.appendingPathComponent("gpt2_tuned")
        try FileManager.default.copyItem(at: gpt2, to: tuned)
        var tensors = try loadFolder(gpt2)
        var state: UInt64 = 5
        for name in tensors.keys.sorted() {
            for i in 0..<tensors[name]!.values.count {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                tensors[name]!.values[i] += Float(Int64(bitPattern: state) >> 40) / Float(1 << 23) * 0.01
            }
        }
        try write(tensors, to: tuned.appendingPathComponent("model.safetensors"))
        let extracted = scratch.appendingPathComponent("gpt2_adapter")
        let summary = try LoRA.extract(base: gpt2, finetuned: tuned, rank: 200, to: extracted)
        XCTAssertEqual(summary.ranks["transformer.h.0.attn.c_attn"], 32)
        XCTAssertEqual(summary.ranks["transformer.h.0.mlp.c_proj"], 32)
        let config = try json(extracted.appendingPathComponent("adapter_config.json"))
        XCTAssertEqual(config["fan_in_fan_out"] as? Bool, true)
        // Tied head: saved with the embedding (as mergekit does), so peft keeps the two equal.
        XCTAssertEqual(Set(config["modules_to_save"] as! [String]), ["wte", "wpe", "ln_1", "ln_2", "ln_f", "lm_head"])
        let adapterTensors = try load(extracted.appendingPathComponent("adapter_model.safetensors"))
        XCTAssertEqual(adapterTensors["base_model.model.transformer.h.0.attn.c_attn.lora_A.weight"]!.shape, [32, 32])
        XCTAssertEqual(adapterTensors["base_model.model.transformer.h.0.attn.c_attn.lora_B.weight"]!.shape, [96, 32])
        XCTAssertEqual(adapterTensors["base_model.model.transformer.h.0.mlp.c_fc.lora_A.weight"]!.shape, [32, 32])
        XCTAssertEqual(adapterTensors["base_model.model.transformer.h.0.mlp.c_fc.lora_B.weight"]!.shape, [128, 32])
        XCTAssertEqual(adapterTensors["base_model.model.lm_head.weight"]!.values, tensors["transformer.wte.weight"]!.values)
        let merged = scratch.appendingPathComponent("gpt2_merged")
        try LoRA.apply(base: gpt2, adapter: extracted, to: merged)
        let ours = try loadFolder(merged)
        XCTAssertEqual(Set(ours.keys), Set(tensors.keys)) // still tied: no separate head
        for (name, t) in tensors {
            XCTAssertLessThanOrEqual(relativeError(ours[name]!.values, t.values), 1e-5, name)
        }
    }

    // MARK: - Truncated SVD

    /// H₁·H₂·diag(s)·H₃·H₄ (rows × columns) with Householder reflections H = I − 2wwᵀ of seeded random
    /// unit vectors w: dense, with exactly the singular values `s`.
    func matrix(rows: Int, columns: Int, singularValues s: [Double], seed: UInt64) -> [Float] {
        var state = seed
        func unitVector(_ n: Int) -> [Double] {
            var v = [Double](repeating: 0, count: n)
            for i in 0..<n {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                v[i] = Double(state >> 11) / Double(UInt64(1) << 53) - 0.5
            }
            var norm = 0.0
            for x in v { norm += x * x }
            norm = norm.squareRoot()
            for i in 0..<n { v[i] /= norm }
            return v
        }
        var m = [Double](repeating: 0, count: rows * columns)
        for (i, value) in s.enumerated() where i < min(rows, columns) { m[i * columns + i] = value }
        m.withUnsafeMutableBufferPointer { p in
            for _ in 0..<2 {
                let u = unitVector(rows) // M ← M − 2u(uᵀM)
                var projection = [Double](repeating: 0, count: columns)
                for r in 0..<rows where u[r] != 0 { for c in 0..<columns { projection[c] += u[r] * p[r * columns + c] } }
                for r in 0..<rows { for c in 0..<columns { p[r * columns + c] -= 2 * u[r] * projection[c] } }
                let v = unitVector(columns) // M ← M − 2(Mv)vᵀ
                for r in 0..<rows {
                    var dot = 0.0
                    for c in 0..<columns { dot += p[r * columns + c] * v[c] }
                    for c in 0..<columns { p[r * columns + c] -= 2 * dot * v[c] }
                }
            }
        }
        return m.map { Float($0) }
    }

    func truncationError(_ m: [Float], _ f: TruncatedSVD.Factors) -> Double {
        frobenius(zip(m, f.product()).map { $0 - $1 }) / frobenius(m)
    }

    func optimalError(_ s: [Double], rank: Int) -> Double {
        (s.dropFirst(rank).reduce(0) { $0 + $1 * $1 } / s.reduce(0) { $0 + $1 * $1 }).squareRoot()
    }

    func testSVDRecoversKnownSingularValues() throws {
        let s: [Double] = [9, 5, 3, 2, 1, 0.5, 0.25, 0.1]
        for (rows, columns) in [(40, 60), (60, 40)] {
            let m = matrix(rows: rows, columns: columns, singularValues: s, seed: 7)
            let all = TruncatedSVD.singularValues(m, rows: rows, columns: columns)
            XCTAssertEqual(all.count, 40)
            for (i, expected) in s.enumerated() { XCTAssertEqual(all[i], expected, accuracy: 1e-5 * s[0]) }
            for extra in all.dropFirst(s.count) { XCTAssertLessThan(extra, 1e-5 * s[0]) }
            let f = TruncatedSVD.decompose(m, rows: rows, columns: columns, rank: 3)
            XCTAssertEqual(f.rank, 3)
            XCTAssertEqual(f.left.count, rows * 3)
            XCTAssertEqual(f.right.count, 3 * columns)
            XCTAssertEqual(truncationError(m, f), optimalError(s, rank: 3), accuracy: 1e-5)
            // The split is even: ‖left column i‖ = ‖right row i‖ = √σ_i.
            for i in 0..<3 {
                let l = (0..<rows).reduce(0.0) { $0 + Double(f.left[$1 * 3 + i] * f.left[$1 * 3 + i]) }.squareRoot()
                let r = frobenius(Array(f.right[(i * columns)..<((i + 1) * columns)]))
                XCTAssertEqual(l, s[i].squareRoot(), accuracy: 1e-4)
                XCTAssertEqual(r, s[i].squareRoot(), accuracy: 1e-4)
            }
        }
    }

    func testRandomizedSVDIsWithinOnePercentOfExact() throws {
        // Fast decay, slow decay and a flat tail, on both orientations.
        let spectra: [[Double]] = [
            (0..<120).map { pow(0.85, Double($0)) },
            (0..<150).map { 1 / (1 + Double($0)).squareRoot() },
            (0..<150).map { $0 < 6 ? 10 - Double($0) : 0.3 },
        ]
        for (index, s) in spectra.enumerated() {
            for (rows, columns) in [(300, 200), (200, 320)] {
                let m = matrix(rows: rows, columns: columns, singularValues: s, seed: UInt64(11 + index))
                for rank in [4, 16] {
                    let f = TruncatedSVD.decompose(m, rows: rows, columns: columns, rank: rank,
                                                   options: TruncatedSVD.Options(method: .randomized))
                    let optimal = optimalError(s, rank: rank)
                    let ours = truncationError(m, f)
                    XCTAssertLessThanOrEqual(ours, 1.01 * optimal + 1e-6, "spectrum \(index), \(rows)×\(columns), rank \(rank)")
                    XCTAssertEqual(f.singularValues[0], s[0], accuracy: 1e-3 * s[0])
                }
            }
        }
    }

    func testSVDOfZeroAndLowRankMatrices() throws {
        for method in [TruncatedSVD.Method.exact, .randomized] {
            let zero = TruncatedSVD.decompose([Float](repeating: 0, count: 100 * 80), rows: 100, columns: 80, rank: 4,
                                              options: TruncatedSVD.Options(method: method))
            XCTAssertTrue(zero.left.allSatisfy { $0 == 0 } && zero.right.allSatisfy { $0 == 0 }, "\(method)")
            XCTAssertEqual(zero.singularValues, [0, 0, 0, 0])
            let s: [Double] = [3, 1]
            let m = matrix(rows: 100, columns: 80, singularValues: s, seed: 3)
            let f = TruncatedSVD.decompose(m, rows: 100, columns: 80, rank: 5, options: TruncatedSVD.Options(method: method))
            XCTAssertTrue(f.left.allSatisfy(\.isFinite) && f.right.allSatisfy(\.isFinite), "\(method)")
            XCTAssertLessThan(truncationError(m, f), 1e-5, "\(method)")
            XCTAssertEqual(f.singularValues[0], 3, accuracy: 1e-4)
            XCTAssertLessThan(f.singularValues[2], 1e-4)
        }
    }

    // MARK: - Errors

    func testMissingAdapterConfig() throws {
        let folder = scratch.appendingPathComponent("no-config")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: adapter("patterns").appendingPathComponent("adapter_model.safetensors"),
                                         to: folder.appendingPathComponent("adapter_model.safetensors"))
        assertError(try LoRA.apply(base: base, adapter: folder, to: scratch.appendingPathComponent("out")),
                    contains: ["adapter_config.json", "missing"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.appendingPathComponent("out").path))
    }

    func testUnsupportedConfigFields() throws {
        let cases: [(String, Any)] = [("use_dora", true), ("layer_replication", [[0, 1], [1, 2]]),
                                      ("trainable_token_indices", [1, 2]), ("peft_type", "LOHA")]
        for (field, value) in cases {
            let edited = try editedAdapter("patterns", config: { $0[field] = value })
            assertError(try LoRA.apply(base: base, adapter: edited, to: scratch.appendingPathComponent("out")),
                        contains: ["adapter_config.json", field])
        }
        // Present but off: accepted.
        let off = try editedAdapter("patterns", config: { $0["use_dora"] = false; $0["layer_replication"] = NSNull() })
        XCTAssertNoThrow(try LoRA.apply(base: base, adapter: off, to: scratch.appendingPathComponent("out-ok")))
    }

    func testShapeMismatchBetweenBaseAndAdapter() throws {
        let module = "base_model.model.model.layers.0.self_attn.q_proj"
        let wrongA = try editedAdapter("patterns", tensors: { tensors in
            tensors["\(module).lora_A.weight"] = Tensor(shape: [4, 40], dtype: "F32", values: [Float](repeating: 0.1, count: 160))
        })
        assertError(try LoRA.apply(base: base, adapter: wrongA, to: scratch.appendingPathComponent("out")),
                    contains: ["shape mismatch", "model.layers.0.self_attn.q_proj.weight", "[32, 40]", "[32, 32]"])
        let wrongFull = try editedAdapter("patterns", tensors: { tensors in
            tensors["base_model.model.lm_head.weight"] = Tensor(shape: [65, 32], dtype: "F32", values: [Float](repeating: 0, count: 65 * 32))
        })
        assertError(try LoRA.apply(base: base, adapter: wrongFull, to: scratch.appendingPathComponent("out")),
                    contains: ["shape mismatch", "lm_head.weight"])
        let wrongRank = try editedAdapter("patterns", config: { $0["r"] = 8 })
        assertError(try LoRA.apply(base: base, adapter: wrongRank, to: scratch.appendingPathComponent("out")),
                    contains: ["rank 4", "r=8"])
        let unknownModule = try editedAdapter("patterns", tensors: { tensors in
            tensors["base_model.model.model.layers.5.self_attn.q_proj.lora_A.weight"] = tensors["\(module).lora_A.weight"]
            tensors["base_model.model.model.layers.5.self_attn.q_proj.lora_B.weight"] = tensors["\(module).lora_B.weight"]
        })
        assertError(try LoRA.apply(base: base, adapter: unknownModule, to: scratch.appendingPathComponent("out")),
                    contains: ["model.layers.5.self_attn.q_proj"])
    }

    func testExtractShapeMismatchBetweenBaseAndFineTune() throws {
        let other = try baseCopy()
        var tensors = try loadFolder(other)
        tensors["model.layers.1.mlp.up_proj.weight"] = Tensor(shape: [40, 32], dtype: "F32", values: [Float](repeating: 0, count: 40 * 32))
        try write(tensors, to: other.appendingPathComponent("model.safetensors"))
        assertError(try LoRA.extract(base: other, finetuned: finetuned, rank: 4, to: scratch.appendingPathComponent("out")),
                    contains: ["model.layers.1.mlp.up_proj.weight", "[48, 32]", "[40, 32]"])
    }

    func testExistingNonEmptyOutputNeedsForce() throws {
        let out = scratch.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        try Data("keep".utf8).write(to: out.appendingPathComponent("old.txt"))
        assertError(try LoRA.apply(base: base, adapter: adapter("patterns"), to: out), contains: [out.path, "not empty"])
        assertError(try LoRA.extract(base: base, finetuned: finetuned, rank: 4, to: out), contains: [out.path, "not empty"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("old.txt").path))
        // An empty folder is fine; force replaces a full one.
        let empty = scratch.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        XCTAssertNoThrow(try LoRA.extract(base: base, finetuned: finetuned, rank: 4, to: empty))
        try LoRA.apply(base: base, adapter: adapter("patterns"), to: out, options: LoRA.ApplyOptions(force: true))
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent("old.txt").path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("model.safetensors").path))
        // Never over an input.
        assertError(try LoRA.apply(base: base, adapter: adapter("patterns"), to: base, options: LoRA.ApplyOptions(force: true)),
                    contains: ["must not be"])
        // No temporary folders left behind.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch.path).filter { $0.hasPrefix(".") }, [])
    }
}
