import Foundation
import MixtureCore
import MixtureFormats

/// A GGUF file as a `WeightSource`: llama.cpp's tensor names and layouts mapped back onto the
/// Hugging Face names the transformer block reads, and its metadata onto a config.json, so that one
/// architecture description and one block serve both. Facts the file leaves out are llama.cpp's (its
/// model code is the reference for GGUF files), e.g. whether top-k expert weights are renormalised.
///
/// Matrices are used in place in the mapped file, F32/F16/BF16 as elements and the quantized types as
/// their ggml blocks (the kernels read them as they are). The q/k projections of the `llama`
/// architecture, whose rows llama.cpp's converter interleaves for its rope layout, are copied back
/// into transformers' row order; quantized vectors (rare) are dequantized to F32 at load, bit for bit
/// as gguf-py.
public final class GGUFWeights: WeightSource, @unchecked Sendable {
    public let file: GGUFFile
    public let architecture: String
    /// The config.json equivalent of the metadata.
    public let config: [String: Any]
    private var owned: [UnsafeMutableRawPointer] = []
    /// Dequantize every quantized matrix to F32 at load instead of reading its blocks in place.
    public let dequantizeAll: Bool

    public static let supportedArchitectures = ["llama", "qwen2", "qwen3", "qwen2moe", "qwen3moe", "olmoe"]

    public init(file: GGUFFile, dequantizeAll: Bool = false) throws {
        self.file = file
        self.dequantizeAll = dequantizeAll
        let path = file.path
        guard let arch = file.metadata["general.architecture"]?.string else {
            throw MixtureError.invalidFile(path: path, reason: "metadata 'general.architecture' is missing")
        }
        guard !file.tensors.isEmpty else {
            throw MixtureError.invalidFile(path: path, reason: "holds no tensors (a vocabulary-only GGUF: usable as --tokenizer, not as a model)")
        }
        guard Self.supportedArchitectures.contains(arch) else {
            throw MixtureError.invalidFile(path: path, reason: "architecture '\(arch)' is not supported (supported: \(Self.supportedArchitectures.joined(separator: ", ")))")
        }
        architecture = arch
        config = try Self.config(of: file, architecture: arch)
    }

    deinit {
        for buffer in owned { buffer.deallocate() }
    }

    // MARK: - Metadata → config.json

    static func config(of file: GGUFFile, architecture arch: String) throws -> [String: Any] {
        let m = file.metadata
        func key(_ k: String) -> String { "\(arch).\(k)" }
        func integer(_ k: String) throws -> Int? {
            guard let value = m[key(k)] else { return nil }
            if let i = value.integer { return i }
            // Some files give per-layer counts; one value for all layers is what the block supports.
            if let items = value.array, let first = items.first?.integer, items.allSatisfy({ $0.integer == first }) { return first }
            throw MixtureError.invalidFile(path: file.path, reason: "metadata '\(key(k))' is \(value), expected an integer")
        }
        func required(_ k: String) throws -> Int {
            guard let value = try integer(k) else {
                throw MixtureError.invalidFile(path: file.path, reason: "metadata '\(key(k))' is missing (needed by \(arch))")
            }
            return value
        }
        func number(_ k: String) -> Double? { m[key(k)]?.number }

        guard let embedding = file.tensor("token_embd.weight"), embedding.dimensions.count == 2 else {
            throw MixtureError.invalidFile(path: file.path, reason: "tensor 'token_embd.weight' is missing or not a matrix")
        }
        let heads = try required("attention.head_count")
        let hidden = try required("embedding_length")
        var c: [String: Any] = [
            "vocab_size": embedding.dimensions[1],
            "hidden_size": hidden,
            "num_hidden_layers": try required("block_count"),
            "num_attention_heads": heads,
            "num_key_value_heads": try integer("attention.head_count_kv") ?? heads,
            "intermediate_size": try integer("feed_forward_length") ?? 0,
            "rms_norm_eps": number("attention.layer_norm_rms_epsilon") ?? 1e-5,
            "rope_theta": number("rope.freq_base") ?? 10_000,
            "tie_word_embeddings": file.tensor("output.weight") == nil,
            "hidden_act": "silu",
        ]
        if let headDimension = try integer("attention.key_length") { c["head_dim"] = headDimension }
        else if heads > 0 { c["head_dim"] = hidden / heads }
        if let type = m[key("rope.scaling.type")]?.string, type != "none" {
            guard type == "linear", let factor = number("rope.scaling.factor") else {
                throw MixtureError.invalidFile(path: file.path, reason: "metadata '\(key("rope.scaling.type"))': '\(type)' scaling is not supported (supported: none, linear)")
            }
            c["rope_scaling"] = ["rope_type": "linear", "factor": factor]
        }
        let experts = try integer("expert_count") ?? 0
        let expertsPerToken = try integer("expert_used_count") ?? 0
        let hasBias = file.tensor("blk.0.attn_q.bias") != nil
        switch arch {
        case "llama":
            // llama.cpp runs Mixtral as `llama` with experts, renormalising the top k as Mixtral does.
            if experts > 0 {
                c["model_type"] = "mixtral"
                c["num_local_experts"] = experts
                c["num_experts_per_tok"] = expertsPerToken
            } else {
                c["model_type"] = "llama"
                c["attention_bias"] = hasBias
            }
        case "qwen2":
            c["model_type"] = "qwen2"
        case "qwen3":
            c["model_type"] = "qwen3"
            c["attention_bias"] = hasBias
        case "qwen2moe", "qwen3moe":
            c["model_type"] = arch == "qwen2moe" ? "qwen2_moe" : "qwen3_moe"
            c["num_experts"] = experts
            c["num_experts_per_tok"] = expertsPerToken
            c["moe_intermediate_size"] = try integer("expert_feed_forward_length") ?? c["intermediate_size"]!
            // llama.cpp's qwen2moe keeps the softmax weights of the chosen experts; qwen3moe always renormalises.
            c["norm_topk_prob"] = arch == "qwen3moe"
            if arch == "qwen2moe" { c["shared_expert_intermediate_size"] = try integer("expert_shared_feed_forward_length") ?? 0 }
            if arch == "qwen3moe" { c["attention_bias"] = hasBias }
        case "olmoe":
            // llama.cpp's olmoe neither renormalises the top k nor clips q/k/v.
            c["model_type"] = "olmoe"
            c["num_experts"] = experts
            c["num_experts_per_tok"] = expertsPerToken
            c["norm_topk_prob"] = false
        default:
            break
        }
        return c
    }

    // MARK: - Names

    /// The GGUF tensor, and for an expert of a stacked `*_exps` tensor its index, behind a Hugging Face name.
    func locate(_ name: String) -> (tensor: GGUFTensorInfo, expert: Int?)? {
        switch name {
        case "model.embed_tokens.weight": return file.tensor("token_embd.weight").map { ($0, nil) }
        case "model.norm.weight": return file.tensor("output_norm.weight").map { ($0, nil) }
        case "lm_head.weight": return file.tensor("output.weight").map { ($0, nil) }
        default: break
        }
        let parts = name.split(separator: ".").map(String.init)
        guard parts.count >= 4, parts[0] == "model", parts[1] == "layers", let layer = Int(parts[2]) else { return nil }
        let rest = parts[3...].joined(separator: ".")
        let block = "blk.\(layer)."
        let simple: [String: String] = [
            "input_layernorm.weight": "attn_norm.weight", "post_attention_layernorm.weight": "ffn_norm.weight",
            "self_attn.q_proj.weight": "attn_q.weight", "self_attn.k_proj.weight": "attn_k.weight",
            "self_attn.v_proj.weight": "attn_v.weight", "self_attn.o_proj.weight": "attn_output.weight",
            "self_attn.q_proj.bias": "attn_q.bias", "self_attn.k_proj.bias": "attn_k.bias",
            "self_attn.v_proj.bias": "attn_v.bias", "self_attn.o_proj.bias": "attn_output.bias",
            "self_attn.q_norm.weight": "attn_q_norm.weight", "self_attn.k_norm.weight": "attn_k_norm.weight",
            "mlp.gate_proj.weight": "ffn_gate.weight", "mlp.up_proj.weight": "ffn_up.weight", "mlp.down_proj.weight": "ffn_down.weight",
            "mlp.gate.weight": "ffn_gate_inp.weight", "block_sparse_moe.gate.weight": "ffn_gate_inp.weight",
            "mlp.shared_expert.gate_proj.weight": "ffn_gate_shexp.weight", "mlp.shared_expert.up_proj.weight": "ffn_up_shexp.weight",
            "mlp.shared_expert.down_proj.weight": "ffn_down_shexp.weight", "mlp.shared_expert_gate.weight": "ffn_gate_inp_shexp.weight",
        ]
        if let mapped = simple[rest] { return file.tensor(block + mapped).map { ($0, nil) } }
        // Experts: mlp.experts.E.gate_proj.weight (block_sparse_moe.experts.E.w1.weight for Mixtral).
        let expertParts = Array(parts[3...])
        guard expertParts.count == 5, ["mlp", "block_sparse_moe"].contains(expertParts[0]), expertParts[1] == "experts",
              let expert = Int(expertParts[2]), expertParts[4] == "weight" else { return nil }
        let role: String
        switch expertParts[3] {
        case "gate_proj", "w1": role = "ffn_gate"
        case "up_proj", "w3": role = "ffn_up"
        case "down_proj", "w2": role = "ffn_down"
        default: return nil
        }
        if let stacked = file.tensor("\(block)\(role)_exps.weight"), stacked.dimensions.count == 3, expert >= 0, expert < stacked.dimensions[2] {
            return (stacked, expert)
        }
        // Older Mixtral conversions: one tensor per expert.
        return file.tensor("\(block)\(role).\(expert).weight").map { ($0, nil) }
    }

    public var sourcePath: String { file.path }
    public var mappedBytes: Int { file.mappedBytes }
    public var fileCount: Int { 1 }

    /// llama.cpp's per-pair rope divisors (`rope_freqs.weight`), if the file has them.
    public func ropeFrequencyFactors() throws -> [Float]? {
        guard let tensor = file.tensor("rope_freqs.weight") else { return nil }
        return try file.floats(tensor)
    }

    public var endOfSequenceTokens: Set<Int> {
        file.metadata["tokenizer.ggml.eos_token_id"]?.integer.map { [$0] } ?? []
    }
    public var configPath: String { file.path }
    public func path(of name: String) -> String { file.path }
    public func configField(_ field: String) -> String {
        field == "num_hidden_layers" ? "\(architecture).block_count" : field
    }

    public func storedName(of name: String) -> String {
        locate(name)?.tensor.name ?? name
    }

    /// Hugging Face names of every layer tensor, enough for counting layers.
    public var tensorNames: [String] {
        file.tensors.compactMap { t in
            let parts = t.name.split(separator: ".")
            guard parts.count >= 3, parts[0] == "blk", let layer = Int(parts[1]) else { return nil }
            return "model.layers.\(layer).\(parts[2...].joined(separator: "."))"
        }
    }

    public func shape(of name: String) -> [Int]? {
        guard let (tensor, expert) = locate(name) else { return nil }
        if expert != nil { return Array(tensor.shape.dropFirst()) }
        return tensor.shape
    }

    public func matrix(_ name: String) throws -> WeightMatrix {
        guard let (tensor, expert) = locate(name) else {
            throw MixtureError.invalidFile(path: file.path, reason: "missing tensor for '\(name)'")
        }
        let columns = tensor.dimensions[0]
        let rows = columns == 0 ? 0 : tensor.elementCount / columns
        var whole = try storage(of: tensor, rows: rows, columns: columns, permuteFor: name)
        if let expert {
            let perExpert = tensor.dimensions[1]
            whole = whole.rows(expert * perExpert ..< (expert + 1) * perExpert)
        }
        return whole
    }

    public func floats(_ name: String) throws -> [Float] {
        let m = try matrix(name)
        return m.toFloats()
    }

    /// Rows of q/k for `llama` files come interleaved: GGUF row h·d + 2j + t holds transformers' row
    /// h·d + t·d/2 + j (llama.cpp's converter permutes them for its pairwise rope).
    func unpermutedRow(_ row: Int, heads: Int, headDimension d: Int) -> Int {
        let h = row / d, within = row % d
        let t = within / (d / 2), j = within % (d / 2)
        return h * d + 2 * j + t
    }

    private func headDimension(of tensor: GGUFTensorInfo, outputs: Int, heads: Int) throws -> Int {
        guard heads > 0, outputs % heads == 0, (outputs / heads) % 2 == 0 else {
            throw MixtureError.invalidFile(path: file.path, reason: "tensor '\(tensor.name)' has \(outputs) rows, which \(heads) heads of even size cannot split")
        }
        return outputs / heads
    }

    private func storage(of tensor: GGUFTensorInfo, rows: Int, columns: Int, permuteFor name: String) throws -> WeightMatrix {
        var permutedHeads: Int?
        if architecture == "llama" {
            let heads = config["num_attention_heads"] as! Int, kvHeads = config["num_key_value_heads"] as! Int
            if name.hasSuffix("self_attn.q_proj.weight") || name.hasSuffix("self_attn.q_proj.bias") { permutedHeads = heads }
            if name.hasSuffix("self_attn.k_proj.weight") || name.hasSuffix("self_attn.k_proj.bias") { permutedHeads = kvHeads }
        }
        let inPlace: DType? = [.f32: DType.float32, .f16: .float16, .bf16: .bfloat16][tensor.type]
        if permutedHeads == nil, let dtype = inPlace {
            return WeightMatrix(rows: rows, columns: columns, dtype: dtype, base: file.data(of: tensor))
        }
        guard GGMLType.dequantizable.contains(tensor.type) else {
            throw MixtureError.invalidFile(path: file.path, reason: "tensor '\(tensor.name)' has type \(tensor.type), which cannot be read yet (supported: \(GGMLType.dequantizable.map(\.description).joined(separator: ", ")))")
        }
        let isBias = tensor.dimensions.count == 1
        if inPlace == nil, !isBias, !dequantizeAll {
            // Quantized matrices stay in their blocks, read in place by the kernels.
            guard tensor.type.byteCount(elements: columns) != nil else {
                throw MixtureError.invalidFile(path: file.path, reason: "tensor '\(tensor.name)': rows of \(columns) are not whole \(tensor.type) blocks of \(tensor.type.blockGeometry.elements)")
            }
            let quantized = WeightMatrix(rows: rows, columns: columns, blocks: tensor.type, base: file.data(of: tensor))
            guard let heads = permutedHeads else { return quantized }
            // llama q/k: whole rows move, so the blocks are copied in transformers' row order.
            let d = try headDimension(of: tensor, outputs: rows, heads: heads)
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(1, quantized.byteCount), alignment: 64)
            owned.append(buffer)
            for r in 0..<rows {
                buffer.advanced(by: r * quantized.rowBytes).copyMemory(from: quantized.rowPointer(unpermutedRow(r, heads: heads, headDimension: d)),
                                                                        byteCount: quantized.rowBytes)
            }
            return WeightMatrix(rows: rows, columns: columns, blocks: tensor.type, base: UnsafeRawPointer(buffer))
        }
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(1, rows * columns))
        owned.append(UnsafeMutableRawPointer(buffer))
        tensor.type.dequantize(file.data(of: tensor), count: rows * columns, into: buffer)
        if let heads = permutedHeads {
            // 1-D biases are one row of `columns`; matrices have one row per output.
            let outputs = isBias ? columns : rows
            let d = try headDimension(of: tensor, outputs: outputs, heads: heads)
            let copy = [Float](UnsafeBufferPointer(start: buffer, count: rows * columns))
            let width = isBias ? 1 : columns
            for r in 0..<outputs {
                let source = unpermutedRow(r, heads: heads, headDimension: d)
                for c in 0..<width { buffer[r * width + c] = copy[source * width + c] }
            }
        }
        return WeightMatrix(rows: rows, columns: columns, dtype: .float32, base: UnsafeRawPointer(buffer))
    }
}
