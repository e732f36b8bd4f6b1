import Foundation
import MixtureCore

/// llama-quantize's file types ("recipes") and its per-tensor choice of type for each: which
/// tensors get more bits, which are left alone, and the fallbacks for rows a block does not divide.
/// Followed rule for rule from llama.cpp's `llama_tensor_get_type`, including the order it visits
/// tensors in (its weights map: by layer number, tensors outside the layers first, then by name),
/// which the counters that pick "the first layers" of attn_v depend on.
public struct QuantizationRecipe: Sendable {
    /// llama.cpp's `llama_ftype` numbers, written to `general.file_type`.
    public enum FileType: UInt32, Sendable, CaseIterable {
        case allF32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q8_0 = 7, q5_0 = 8, q5_1 = 9, q2_K = 10
        case q3_K_S = 11, q3_K_M = 12, q3_K_L = 13, q4_K_S = 14, q4_K_M = 15, q5_K_S = 16, q5_K_M = 17, q6_K = 18
        case q2_K_S = 21, iq4_NL = 25, iq4_XS = 30, bf16 = 32, mxfp4_MoE = 38

        /// llama-quantize's name for it.
        public var name: String {
            switch self {
            case .allF32: return "F32"
            case .f16: return "F16"
            case .bf16: return "BF16"
            case .q4_0: return "Q4_0"
            case .q4_1: return "Q4_1"
            case .q5_0: return "Q5_0"
            case .q5_1: return "Q5_1"
            case .q8_0: return "Q8_0"
            case .q2_K: return "Q2_K"
            case .q2_K_S: return "Q2_K_S"
            case .q3_K_S: return "Q3_K_S"
            case .q3_K_M: return "Q3_K_M"
            case .q3_K_L: return "Q3_K_L"
            case .q4_K_S: return "Q4_K_S"
            case .q4_K_M: return "Q4_K_M"
            case .q5_K_S: return "Q5_K_S"
            case .q5_K_M: return "Q5_K_M"
            case .q6_K: return "Q6_K"
            case .iq4_NL: return "IQ4_NL"
            case .iq4_XS: return "IQ4_XS"
            case .mxfp4_MoE: return "MXFP4_MOE"
            }
        }

        /// A name as llama-quantize accepts it (case-insensitive; Q3_K, Q4_K and Q5_K mean their _M
        /// recipes, as there).
        public init?(name: String) {
            let upper = name.uppercased()
            let aliases = ["Q3_K": "Q3_K_M", "Q4_K": "Q4_K_M", "Q5_K": "Q5_K_M", "MXFP4": "MXFP4_MOE"]
            let wanted = aliases[upper] ?? upper
            guard let found = FileType.allCases.first(where: { $0.name == wanted }) else { return nil }
            self = found
        }

        /// The type most tensors get (llama_ftype_get_default_type).
        public var defaultType: GGMLType {
            switch self {
            case .allF32: return .f32
            case .f16: return .f16
            case .bf16: return .bf16
            case .q4_0: return .q4_0
            case .q4_1: return .q4_1
            case .q5_0: return .q5_0
            case .q5_1: return .q5_1
            case .q8_0: return .q8_0
            case .q2_K, .q2_K_S: return .q2_K
            case .q3_K_S, .q3_K_M, .q3_K_L: return .q3_K
            case .q4_K_S, .q4_K_M: return .q4_K
            case .q5_K_S, .q5_K_M: return .q5_K
            case .q6_K: return .q6_K
            case .iq4_NL: return .iq4_NL
            case .iq4_XS: return .iq4_XS
            case .mxfp4_MoE: return .mxfp4
            }
        }
    }

    /// What the choice depends on besides the tensor itself, read from the model's metadata.
    public struct Model: Sendable {
        public var architecture: String
        public var layerCount: Int
        public var expertCount: Int
        public var headCount: Int
        public var kvHeadCount: Int

        public init(architecture: String, layerCount: Int, expertCount: Int, headCount: Int, kvHeadCount: Int) {
            self.architecture = architecture
            self.layerCount = layerCount
            self.expertCount = expertCount
            self.headCount = headCount
            self.kvHeadCount = kvHeadCount
        }

        /// n_head / n_head_kv of the first layer, 0 without KV heads (llama_hparams::n_gqa).
        var groupedQueryRatio: Int { kvHeadCount == 0 ? 0 : headCount / kvHeadCount }

        /// llama.cpp's LLM_TYPE_70B, the only model size the recipes look at.
        var is70B: Bool {
            switch architecture {
            case "llama": return layerCount == 80 && headCount != kvHeadCount
            case "qwen2", "olmo", "deci": return layerCount == 80
            case "jais2": return layerCount == 68
            default: return false
            }
        }
    }

    public struct Options: Sendable {
        public var fileType: FileType
        /// Every quantizable matrix in the one type (llama-quantize --pure).
        public var pure = false
        public var outputTensorType: GGMLType?
        public var tokenEmbeddingType: GGMLType?
        /// Leave output.weight in its type (llama-quantize --leave-output-tensor).
        public var leaveOutputTensor = false
        /// (regular expression, type): the first that a tensor's name matches sets its type
        /// (llama-quantize --tensor-type).
        public var overrides: [(pattern: String, type: GGMLType)] = []
        public var hasImportance = false

        public init(fileType: FileType) { self.fileType = fileType }
    }

    public struct Tensor: Sendable {
        public var name: String
        /// ggml order (row length first).
        public var dimensions: [Int]
        public var type: GGMLType

        public init(name: String, dimensions: [Int], type: GGMLType) {
            self.name = name
            self.dimensions = dimensions
            self.type = type
        }
    }

    enum Category { case tokenEmbedding, attentionQ, attentionV, attentionK, attentionQKV, attentionKVB, attentionOutput,
                    ffnUp, ffnGate, ffnDown, output, other
        var isAttentionV: Bool { self == .attentionV || self == .attentionQKV || self == .attentionKVB }
    }

    static func category(_ name: String) -> Category {
        if name == "output.weight" { return .output }
        if name == "token_embd.weight" || name == "per_layer_token_embd.weight" { return .tokenEmbedding }
        if name.contains("attn_qkv.weight") { return .attentionQKV }
        if name.contains("attn_kv_b.weight") { return .attentionKVB }
        if name.contains("attn_v.weight") { return .attentionV }
        if name.contains("attn_k.weight") { return .attentionK }
        if name.contains("attn_q.weight") { return .attentionQ }
        if name.contains("attn_output.weight") { return .attentionOutput }
        if name.contains("ffn_up") { return .ffnUp }
        if name.contains("ffn_gate") { return .ffnGate }
        if name.contains("ffn_down") { return .ffnDown }
        return .other
    }

    /// Whether llama-quantize quantizes this tensor at all (tensor_allows_quantization): matrices
    /// and expert stacks whose name ends in "weight", except norms, routers and a list of small or
    /// positional tensors.
    static func allowsQuantization(_ tensor: Tensor, options: Options, architecture: String) -> Bool {
        let name = tensor.name
        var trimmed = tensor.dimensions
        while trimmed.count > 1, trimmed.last == 1 { trimmed.removeLast() }
        guard trimmed.count >= 2, name.hasSuffix("weight") else { return false }
        if options.leaveOutputTensor && name == "output.weight" { return false }
        let excluded = ["_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel", "per_layer_model_proj",
                        "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight", "indexer.q_proj.weight",
                        "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight", "time_mix_w2.weight",
                        "time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight", "time_mix_a0.weight",
                        "time_mix_a1.weight", "time_mix_a2.weight", "time_mix_g1.weight", "time_mix_g2.weight",
                        "time_mix_decay_w1.weight", "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight",
                        "attn_rel_b.weight", ".position_embd", "sam.pos_embd", "sam.neck.", "sam.net_", ".rel_pos", ".patch_embd",
                        ".patch_merger", "a.rvq.codebook", "mm.a.code_embd"]
        if excluded.contains(where: { name.contains($0) }) { return false }
        if name == "position_embd.weight" || name == "token_types.weight" { return false }
        if architecture == "glm5-next" || architecture == "glm5_next" {
            let more = ["hc_", "indexer.attn_q_b", "indexer.attn_k", "indexer.proj", "indexer_compressor_gate", "indexer_compressor_ape",
                        "ssm_f_a.weight", "ssm_f_b.weight", "ssm_g_a.weight", "ssm_g_b.weight", "ssm_beta.weight",
                        "attn_kv_a_mqa.weight", "attn_k_b.weight", "attn_v_b.weight"]
            if more.contains(where: { name.contains($0) }) { return false }
        }
        return true
    }

    public let model: Model
    public let options: Options

    public init(model: Model, options: Options) {
        self.model = model
        self.options = options
    }

    /// One line per tensor that fell back to another type because its rows are not a whole number
    /// of the chosen type's blocks.
    public private(set) var fallbacks: [String] = []

    /// The layer number llama.cpp's weights map sorts a tensor by (`sscanf(name, "blk.%d.")`), -1
    /// for a tensor outside the layers.
    static func sortingLayer(_ name: String) -> Int {
        let bytes = Array(name.utf8)
        guard bytes.count > 4, bytes[0..<4] == [0x62, 0x6C, 0x6B, 0x2E] else { return -1 }
        var i = 4
        while i < bytes.count, bytes[i] == 0x20 || (0x09...0x0D).contains(bytes[i]) { i += 1 }
        var negative = false
        if i < bytes.count, bytes[i] == 0x2B || bytes[i] == 0x2D { negative = bytes[i] == 0x2D; i += 1 }
        var value = 0, digits = 0
        while i < bytes.count, (0x30...0x39).contains(bytes[i]), digits < 10 {
            value = value * 10 + Int(bytes[i] - 0x30)
            digits += 1
            i += 1
        }
        return digits == 0 ? -1 : negative ? -value : value
    }

    /// llama.cpp's order of weights (weight_name_comparer): by layer number, then bytewise by name.
    public static func precedes(_ a: String, _ b: String) -> Bool {
        let la = sortingLayer(a), lb = sortingLayer(b)
        if la != lb { return la < lb }
        return Array(a.utf8).lexicographicallyPrecedes(Array(b.utf8))
    }

    /// The type of each tensor, in the order given (tensors are visited in llama.cpp's order,
    /// `precedes`). Throws for a layer number it cannot read from an MoE tensor's name, as
    /// llama.cpp does.
    public mutating func types(for tensors: [Tensor]) throws -> [GGMLType] {
        let order = tensors.indices.sorted { Self.precedes(tensors[$0].name, tensors[$1].name) }
        var state = State()
        for t in tensors {
            let c = Self.category(t.name)
            if c.isAttentionV { state.attentionVCount += 1 }
            if c == .output { state.tiedEmbeddings = false }
        }
        let regexes = try options.overrides.map { (try NSRegularExpression(pattern: $0.pattern), $0.type) }
        var result = [GGMLType](repeating: .f32, count: tensors.count)
        for i in order {
            result[i] = try type(for: tensors[i], state: &state, overrides: regexes)
        }
        return result
    }

    struct State {
        var attentionVCount = 0
        var attentionV = 0, ffnDown = 0, ffnGate = 0, ffnUp = 0
        var tiedEmbeddings = true
    }

    mutating func type(for tensor: Tensor, state: inout State, overrides: [(NSRegularExpression, GGMLType)]) throws -> GGMLType {
        guard Self.allowsQuantization(tensor, options: options, architecture: model.architecture) else { return tensor.type }
        let c = Self.category(tensor.name)
        if let t = options.tokenEmbeddingType, c == .tokenEmbedding { return t }
        if let t = options.outputTensorType, c == .output { return t }
        var chosen = options.fileType.defaultType
        guard chosen.isBlockQuantized else { return chosen }
        var manual = false
        let range = NSRange(tensor.name.startIndex..., in: tensor.name)
        if let hit = overrides.first(where: { $0.0.firstMatch(in: tensor.name, range: range) != nil }) {
            chosen = hit.1
            manual = true
        }
        if !manual && !options.pure {
            chosen = try standardChoice(chosen, tensor: tensor, category: c, state: &state)
        }
        return fallback(chosen, tensor: tensor)
    }

    /// tensor_type_fallback: a type whose block does not divide the rows gives way to a 32-element
    /// type, and to F16 when even that does not divide them.
    mutating func fallback(_ type: GGMLType, tensor: Tensor) -> GGMLType {
        let columns = tensor.dimensions.first ?? 0
        let block = type.blockGeometry.elements
        guard columns % block != 0 else { return type }
        var replacement: GGMLType
        switch type {
        case .iq1_S, .iq1_M, .iq2_XXS, .iq2_XS, .iq2_S, .iq3_XXS, .iq3_S, .iq4_XS: replacement = .iq4_NL
        case .q2_K, .q3_K, .tq1_0, .tq2_0: replacement = .q4_0
        case .q4_K: replacement = .q5_0
        case .q5_K: replacement = .q5_1
        case .q6_K: replacement = .q8_0
        default: replacement = type
        }
        if columns % replacement.blockGeometry.elements != 0 { replacement = .f16 }
        fallbacks.append("\(tensor.name): rows of \(columns) are not a multiple of \(block) (for \(type)); using \(replacement)")
        return replacement
    }

    /// The layer of an expert tensor from its name ("blk.N."), or the running counter for dense
    /// models (llama.cpp's layer_info).
    func layer(_ counter: Int, _ name: String) throws -> Int {
        guard max(1, model.expertCount) > 1 else { return counter }
        guard name.hasPrefix("blk."), let number = Int(name.dropFirst(4).prefix(while: { $0.isNumber })) else {
            throw MixtureError.invalidArgument("cannot determine the layer of tensor \(name)")
        }
        guard number >= 0, number < model.layerCount else {
            throw MixtureError.invalidArgument("tensor \(name) names layer \(number), but the model has \(model.layerCount)")
        }
        return number
    }

    func moreBits(_ i: Int, _ n: Int) -> Bool { i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2 }

    /// llama_tensor_get_type_impl, for the file types written here.
    mutating func standardChoice(_ start: GGMLType, tensor: Tensor, category c: Category, state: inout State) throws -> GGMLType {
        var t = start
        let f = options.fileType
        let arch = model.architecture
        let experts = model.expertCount
        let gqa = model.groupedQueryRatio
        let name = tensor.name
        if (arch == "glm5-next" || arch == "glm5_next"),
           name.contains("attn_q_a") || name.contains("attn_q_b") || name.contains("nextn.eh_proj") {
            if t != .f32 && t != .bf16 && t != .f16 { return .q8_0 }
        }
        if c == .output || (state.tiedEmbeddings && c == .tokenEmbedding) {
            if let o = options.outputTensorType {
                t = o
            } else {
                let columns = tensor.dimensions.first ?? 0
                if f == .mxfp4_MoE {
                    t = .q8_0
                } else if arch == "falcon" || columns % t.blockGeometry.elements != 0 {
                    t = .q8_0
                } else if t != .q8_0 {
                    t = .q6_K
                }
            }
        } else if f == .mxfp4_MoE {
            let bailingExpert = arch == "bailingmoe3" && (c == .ffnUp || c == .ffnGate || c == .ffnDown)
            let stacked = tensor.dimensions.count > 2 && tensor.dimensions[2] > 1
            t = stacked && (arch != "bailingmoe3" || bailingExpert) ? .mxfp4 : .q8_0
        } else if c == .tokenEmbedding {
            if let e = options.tokenEmbeddingType { t = e }
        } else if c.isAttentionV {
            if f == .q2_K {
                t = gqa >= 4 ? .q4_K : .q3_K
            } else if f == .q2_K_S && gqa >= 4 {
                t = .q4_K
            } else if f == .q3_K_M {
                t = state.attentionV < 2 ? .q5_K : .q4_K
            } else if f == .q3_K_L {
                t = .q5_K
            } else if (f == .iq4_NL || f == .iq4_XS) && gqa >= 4 {
                t = .q5_K
            } else if (f == .q4_K_M || f == .q5_K_M) && moreBits(state.attentionV, state.attentionVCount) {
                t = .q6_K
            } else if f == .q4_K_S && state.attentionV < 4 {
                t = .q5_K
            }
            if model.is70B && (t == .q3_K || t == .q4_K) { t = .q5_K }
            if experts == 8 { t = .q8_0 }
            state.attentionV += 1
        } else if c == .attentionK {
            if experts == 8 { t = .q8_0 }
        } else if c == .attentionQ {
            // Only the IQ3 file types change attn_q.
        } else if c == .ffnDown {
            let i = try layer(state.ffnDown, name), n = model.layerCount
            if f == .q2_K {
                t = .q3_K
            } else if f == .q2_K_S {
                if i < n / 8 { t = .q4_K }
            } else if f == .q3_K_M {
                t = i < n / 16 ? .q5_K : arch != "falcon" || moreBits(i, n) ? .q4_K : .q3_K
            } else if f == .q3_K_L {
                t = arch == "falcon" ? .q4_K : .q5_K
            } else if f == .q4_K_M {
                if arch == "falcon" {
                    t = i < n / 16 ? .q6_K : moreBits(i, n) ? .q5_K : .q4_K
                } else if moreBits(i, n) {
                    t = .q6_K
                }
            } else if i < n / 8 && (f == .iq4_NL || f == .iq4_XS) && !options.hasImportance {
                t = .q5_K
            } else if f == .q5_K_M && moreBits(i, n) {
                t = .q6_K
            } else if f == .q4_K_S && arch != "falcon" && i < n / 8 {
                t = .q5_K
            } else if (f == .q4_0 || f == .q5_0) && options.hasImportance && i < n / 8 {
                t = f == .q4_0 ? .q4_1 : .q5_1
            }
            state.ffnDown += 1
        } else if c == .attentionOutput {
            if arch != "falcon" {
                if experts == 8 {
                    if [.q2_K, .q3_K_S, .q3_K_M, .iq4_NL, .q4_K_S, .q4_K_M, .iq4_XS].contains(f) { t = .q5_K }
                } else {
                    if f == .q2_K { t = .q3_K } else if f == .q3_K_M { t = .q4_K } else if f == .q3_K_L { t = .q5_K }
                }
            } else if f == .q3_K_L {
                t = .q4_K
            }
        } else if c == .attentionQKV {
            if f == .q3_K_M || f == .q3_K_L { t = .q4_K } else if f == .q4_K_M { t = .q5_K } else if f == .q5_K_M { t = .q6_K }
        } else if c == .ffnGate {
            _ = try layer(state.ffnGate, name)
            state.ffnGate += 1
        } else if c == .ffnUp {
            _ = try layer(state.ffnUp, name)
            state.ffnUp += 1
        }
        return t
    }
}

extension GGMLType {
    /// A block-quantized type (not F32/F16/BF16 or an integer type): ggml_is_quantized.
    public var isBlockQuantized: Bool {
        switch self {
        case .f32, .f16, .bf16, .f64, .i8, .i16, .i32, .i64: return false
        default: return true
        }
    }
}
