import Foundation
import MixtureCore
import MixtureFormats

/// A GGUF model written back as a Hugging Face folder: every weight dequantized (bit for bit as
/// gguf-py) and stored in `dtype` under transformers' names and layout (per-expert tensors, q/k rows
/// in transformers' order), with a `config.json` whose semantics are the ones llama.cpp runs the
/// file with (e.g. `norm_topk_prob` as llama.cpp decides it per architecture).
public enum GGUFConversion {
    public struct Summary {
        public let tensors: Int
        public let bytes: Int
    }

    static let architectureClass = ["llama": "LlamaForCausalLM", "mixtral": "MixtralForCausalLM", "qwen2": "Qwen2ForCausalLM",
                                    "qwen3": "Qwen3ForCausalLM", "qwen2_moe": "Qwen2MoeForCausalLM",
                                    "qwen3_moe": "Qwen3MoeForCausalLM", "olmoe": "OlmoeForCausalLM"]

    /// `extraFiles` (name → contents, e.g. the tokenizer files) are written into the folder too.
    public static func convert(_ file: GGUFFile, to output: URL, dtype: DType = .bfloat16, force: Bool = false,
                               extraFiles: [String: Data] = [:], progress: ((Int, Int) -> Void)? = nil) throws -> Summary {
        let model = try TransformerModel(gguf: file)
        guard let source = model.source as? GGUFWeights else { throw MixtureError.invalidArgument("not a GGUF model") }
        if case .frequencyFactors = model.architecture.ropeScaling {
            // config.json can only say "llama3" with its four parameters, which the file does not keep.
            throw MixtureError.invalidFile(path: file.path, reason: "tensor 'rope_freqs.weight' (llama3-style rope scaling) has no exact config.json form; converting such files is not supported yet")
        }
        try OutputFolder.check(output, force: force, inputs: [URL(fileURLWithPath: file.path)])
        let a = model.architecture
        let w = model.weights
        var entries: [SafeTensorsWriter.Entry] = []
        final class Counter { var done = 0 }
        let counter = Counter()
        var total = 0
        func add(_ name: String, _ matrix: WeightMatrix, shape: [Int]? = nil) {
            // Filled as the writer reaches it: one tensor in memory at a time.
            entries.append(SafeTensorsWriter.Entry(name: name, dtype: SafeTensorsDType(rawValue: dtype.rawValue)!,
                                                   shape: shape ?? [matrix.rows, matrix.columns]) { buffer in
                SafeTensorsWriter.store(matrix.toFloats(), as: dtype, into: buffer)
                counter.done += 1
                progress?(counter.done, total)
            })
        }
        func add(_ name: String, _ values: [Float]) {
            entries.append(SafeTensorsWriter.Entry(name: name, floats: values, shape: [values.count], dtype: dtype))
        }
        func add(_ prefix: String, _ linear: LinearWeights) {
            add("\(prefix).weight", linear.weight)
            if let bias = linear.bias { add("\(prefix).bias", bias) }
        }
        add("model.embed_tokens.weight", w.embedding)
        add("model.norm.weight", w.finalNorm)
        if !a.tiedEmbeddings { add("lm_head.weight", w.languageModelHead) }
        for (l, layer) in w.layers.enumerated() {
            let p = "model.layers.\(l)"
            add("\(p).input_layernorm.weight", layer.inputNorm)
            add("\(p).post_attention_layernorm.weight", layer.postAttentionNorm)
            add("\(p).self_attn.q_proj", layer.attention.query)
            add("\(p).self_attn.k_proj", layer.attention.key)
            add("\(p).self_attn.v_proj", layer.attention.value)
            add("\(p).self_attn.o_proj", layer.attention.output)
            if let q = layer.attention.queryNorm { add("\(p).self_attn.q_norm.weight", q) }
            if let k = layer.attention.keyNorm { add("\(p).self_attn.k_norm.weight", k) }
            switch layer.feedForward {
            case .dense(let mlp):
                add("\(p).mlp.gate_proj", mlp.gate)
                add("\(p).mlp.up_proj", mlp.up)
                add("\(p).mlp.down_proj", mlp.down)
            case .sparse(let moe):
                let naming = a.moe!.naming
                let block = "\(p).\(naming.blockPrefix)"
                add("\(block).gate.weight", moe.router)
                for (e, expert) in moe.experts.enumerated() {
                    add("\(block).experts.\(e).\(naming.gate)", expert.gate)
                    add("\(block).experts.\(e).\(naming.up)", expert.up)
                    add("\(block).experts.\(e).\(naming.down)", expert.down)
                }
                if let shared = moe.sharedExpert {
                    add("\(block).shared_expert.gate_proj", shared.gate)
                    add("\(block).shared_expert.up_proj", shared.up)
                    add("\(block).shared_expert.down_proj", shared.down)
                }
                if let gate = moe.sharedExpertGate { add("\(block).shared_expert_gate.weight", gate) }
            }
        }

        total = entries.count
        var config = source.config
        config["architectures"] = [architectureClass[a.modelType] ?? a.modelType]
        config["dtype"] = dtype.torchName
        if let eos = source.endOfSequenceTokens.first { config["eos_token_id"] = eos }
        if let bos = file.metadata["tokenizer.ggml.bos_token_id"]?.integer { config["bos_token_id"] = bos }
        if let context = file.metadata["\(source.architecture).context_length"]?.integer { config["max_position_embeddings"] = context }
        let configData = try prettyJSON(config)

        var bytes = 0
        try OutputFolder(output, force: force).write { folder in
            try SafeTensorsWriter.write(entries, metadata: ["format": "pt"], to: folder.appendingPathComponent("model.safetensors"))
            try configData.write(to: folder.appendingPathComponent("config.json"))
            for (name, data) in extraFiles.sorted(by: { $0.key < $1.key }) {
                try data.write(to: folder.appendingPathComponent(name))
            }
            bytes = (try? FileManager.default.attributesOfItem(atPath: folder.appendingPathComponent("model.safetensors").path)[.size] as? Int) ?? 0
        }
        return Summary(tensors: entries.count, bytes: bytes)
    }
}
