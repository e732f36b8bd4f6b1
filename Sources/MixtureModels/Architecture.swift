import Foundation
import MixtureCore
import MixtureFormats

/// Where q/k RMSNorm applies, if at all.
public enum QueryKeyNorm: String, Sendable {
    case none
    /// Over each head's `head_dim` values (Qwen3, Qwen3-MoE).
    case perHead
    /// Over the whole q and k projections before they split into heads (OLMoE).
    case wholeProjection
}

/// How a router turns logits into expert weights.
public enum RouterStyle: String, Sendable {
    /// softmax over all experts, keep the top k (optionally renormalised to sum to 1).
    case softmaxThenTopK
}

/// Tensor names of one expert family in a checkpoint.
public struct ExpertNaming: Sendable {
    /// Prefix of the MoE block within a layer, e.g. `mlp` or `block_sparse_moe`.
    public var blockPrefix: String
    /// Names of the gate, up and down projections inside `experts.N.`.
    public var gate: String
    public var up: String
    public var down: String
}

/// A sparse MoE feed-forward block's description.
public struct MixtureOfExpertsDescription: Sendable {
    public var expertCount: Int
    public var expertsPerToken: Int
    public var expertIntermediateSize: Int
    public var normalizeTopKProbabilities: Bool
    public var routerStyle: RouterStyle
    /// Size of an always-on shared expert whose output is scaled by `sigmoid(shared_expert_gate(x))` (Qwen2-MoE).
    public var sharedExpertIntermediateSize: Int?
    public var naming: ExpertNaming
}

/// Everything that distinguishes one decoder-only architecture from another: the transformer block is
/// written once, and each `model_type` is a short table of these differences.
public struct ArchitectureDescription: Sendable {
    public var modelType: String
    public var vocabularySize: Int
    public var hiddenSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var keyValueHeadCount: Int
    public var headDimension: Int
    public var intermediateSize: Int
    public var rmsNormEpsilon: Float
    public var ropeTheta: Double
    public var ropeScaling: RotaryEmbedding.Scaling
    public var tiedEmbeddings: Bool
    /// Bias on the q, k, v projections and on the output projection.
    public var queryKeyValueBias: Bool
    public var outputBias: Bool
    public var mlpBias: Bool
    public var queryKeyNorm: QueryKeyNorm
    /// `clip_qkv`: q, k and v are clamped to ±this (OLMoE).
    public var clipQKV: Float?
    /// Per layer: the attention window (keys visible from query i are those with i - j < window), or nil for full causal attention.
    public var slidingWindows: [Int?]
    public var moe: MixtureOfExpertsDescription?
    /// Layers whose feed-forward block is the sparse MoE block (the rest are dense MLPs).
    public var sparseLayers: Set<Int>

    public func isSparse(layer: Int) -> Bool { moe != nil && sparseLayers.contains(layer) }

    public static let supportedModelTypes = ["llama", "mistral", "qwen2", "qwen3", "mixtral", "qwen2_moe", "qwen3_moe", "olmoe"]

    /// Reads a Hugging Face `config.json`.
    public init(config: JSONConfig) throws {
        let modelType = try config.string("model_type")
        guard Self.supportedModelTypes.contains(modelType) else {
            throw MixtureError.invalidConfig(path: config.path, field: "model_type",
                                             reason: "'\(modelType)' is not supported (supported: \(Self.supportedModelTypes.joined(separator: ", ")))")
        }
        self.modelType = modelType
        vocabularySize = try config.count("vocab_size", atMost: PlausibleBounds.vocabulary)
        hiddenSize = try config.count("hidden_size", atMost: PlausibleBounds.hiddenSize)
        layerCount = try config.count("num_hidden_layers", atMost: PlausibleBounds.layers)
        headCount = try config.count("num_attention_heads", atMost: PlausibleBounds.heads)
        keyValueHeadCount = try config.count("num_key_value_heads", default: headCount, atMost: PlausibleBounds.heads)
        // Qwen3's config class defaults head_dim to 128; the others derive it from the hidden size.
        let derivedHeadDimension = modelType == "qwen3" ? 128 : hiddenSize / headCount
        headDimension = try config.checkedCount("head_dim", config.optionalInt("head_dim") ?? derivedHeadDimension,
                                                atMost: PlausibleBounds.headDimension)
        intermediateSize = try config.count("intermediate_size", atMost: PlausibleBounds.intermediateSize)
        // Defaults for absent keys are those of transformers' config classes.
        rmsNormEpsilon = Float(try config.double("rms_norm_eps", default: ["mixtral", "olmoe"].contains(modelType) ? 1e-5 : 1e-6))
        tiedEmbeddings = try config.bool("tie_word_embeddings", default: false)
        guard headCount % keyValueHeadCount == 0 else {
            throw MixtureError.invalidConfig(path: config.path, field: "num_key_value_heads",
                                             reason: "\(keyValueHeadCount) does not divide num_attention_heads \(headCount)")
        }
        guard headDimension % 2 == 0 else {
            throw MixtureError.invalidConfig(path: config.path, field: "head_dim", reason: "rotary embedding needs an even head_dim, found \(headDimension)")
        }
        let activation = try config.optionalString("hidden_act") ?? "silu"
        guard activation == "silu" || activation == "swish" else {
            throw MixtureError.invalidConfig(path: config.path, field: "hidden_act", reason: "'\(activation)' is not supported (supported: silu, swish)")
        }

        (ropeTheta, ropeScaling) = try Self.readRope(config, defaultTheta: modelType == "mixtral" ? 1_000_000 : 10_000)

        // Per-architecture differences.
        let attentionBias = try config.bool("attention_bias", default: false)
        queryKeyValueBias = false
        outputBias = false
        mlpBias = false
        queryKeyNorm = .none
        clipQKV = nil
        moe = nil
        switch modelType {
        case "llama":
            queryKeyValueBias = attentionBias
            outputBias = attentionBias
            mlpBias = try config.bool("mlp_bias", default: false)
        case "mistral", "mixtral":
            break
        case "qwen2":
            // Qwen2's q/k/v biases are built in (transformers hard-codes them); o_proj has none.
            queryKeyValueBias = true
        case "qwen2_moe":
            queryKeyValueBias = try config.bool("qkv_bias", default: true)
        case "qwen3", "qwen3_moe":
            queryKeyValueBias = attentionBias
            outputBias = attentionBias
            queryKeyNorm = .perHead
        case "olmoe":
            queryKeyValueBias = attentionBias
            outputBias = attentionBias
            queryKeyNorm = .wholeProjection
            clipQKV = (try config.optionalDouble("clip_qkv")).map { Float($0) }
        default:
            break
        }

        // Experts.
        var sparse = Set<Int>()
        switch modelType {
        case "mixtral":
            moe = MixtureOfExpertsDescription(
                expertCount: try config.count("num_local_experts", atMost: PlausibleBounds.experts),
                expertsPerToken: try config.count("num_experts_per_tok", atMost: PlausibleBounds.experts),
                expertIntermediateSize: intermediateSize, normalizeTopKProbabilities: true, routerStyle: .softmaxThenTopK,
                sharedExpertIntermediateSize: nil,
                naming: ExpertNaming(blockPrefix: "block_sparse_moe", gate: "w1", up: "w3", down: "w2"))
            sparse = Set(0..<layerCount)
        case "olmoe":
            moe = MixtureOfExpertsDescription(
                expertCount: try config.count("num_experts", atMost: PlausibleBounds.experts),
                expertsPerToken: try config.count("num_experts_per_tok", atMost: PlausibleBounds.experts),
                expertIntermediateSize: intermediateSize, normalizeTopKProbabilities: try config.bool("norm_topk_prob", default: false),
                routerStyle: .softmaxThenTopK, sharedExpertIntermediateSize: nil,
                naming: ExpertNaming(blockPrefix: "mlp", gate: "gate_proj", up: "up_proj", down: "down_proj"))
            sparse = Set(0..<layerCount)
        case "qwen2_moe", "qwen3_moe":
            // transformers 5 may save Qwen3-MoE's expert count as num_local_experts.
            // Zero experts makes every layer dense.
            let expertKey = config.has("num_experts") ? "num_experts" : "num_local_experts"
            let expertCount = try config.count(expertKey, atMost: PlausibleBounds.experts, allowZero: true)
            let sharedSize = modelType == "qwen2_moe"
                ? try config.optionalCount("shared_expert_intermediate_size", atMost: PlausibleBounds.intermediateSize, allowZero: true) : nil
            moe = MixtureOfExpertsDescription(
                expertCount: expertCount,
                expertsPerToken: try config.count("num_experts_per_tok", atMost: PlausibleBounds.experts, allowZero: expertCount == 0),
                expertIntermediateSize: try config.count("moe_intermediate_size", atMost: PlausibleBounds.intermediateSize),
                normalizeTopKProbabilities: try config.bool("norm_topk_prob", default: false),
                routerStyle: .softmaxThenTopK, sharedExpertIntermediateSize: sharedSize.flatMap { $0 > 0 ? $0 : nil },
                naming: ExpertNaming(blockPrefix: "mlp", gate: "gate_proj", up: "up_proj", down: "down_proj"))
            // transformers: sparse iff not in mlp_only_layers and (layer + 1) % decoder_sparse_step == 0.
            let step = try config.int("decoder_sparse_step", default: 1)
            let denseOnly = Set(try config.intArray("mlp_only_layers", default: []))
            if expertCount > 0 && step > 0 {
                sparse = Set((0..<layerCount).filter { !denseOnly.contains($0) && ($0 + 1) % step == 0 })
            }
            if expertCount == 0 { moe = nil }
        default:
            break
        }
        if let m = moe {
            guard m.expertCount > 0, m.expertsPerToken > 0, m.expertsPerToken <= m.expertCount else {
                throw MixtureError.invalidConfig(path: config.path, field: "num_experts_per_tok",
                                                 reason: "\(m.expertsPerToken) experts per token out of \(m.expertCount) is not possible")
            }
            guard m.expertIntermediateSize > 0 else {
                throw MixtureError.invalidConfig(path: config.path, field: "moe_intermediate_size", reason: "must be positive")
            }
        }
        sparseLayers = sparse

        slidingWindows = try Self.readSlidingWindows(config, modelType: modelType, layerCount: layerCount)
    }

    static func readRope(_ config: JSONConfig, defaultTheta: Double) throws -> (Double, RotaryEmbedding.Scaling) {
        // transformers 5 writes `rope_parameters` (theta inside); older configs have `rope_theta` and `rope_scaling`.
        let parameters = try config.object("rope_parameters") ?? config.object("rope_scaling")
        let theta = try parameters?.optionalDouble("rope_theta") ?? config.double("rope_theta", default: defaultTheta)
        guard let p = parameters else { return (theta, .none) }
        let type = try p.optionalString("rope_type") ?? p.optionalString("type") ?? "default"
        switch type {
        case "default":
            return (theta, .none)
        case "linear":
            return (theta, .linear(factor: try p.double("factor")))
        case "llama3":
            return (theta, .llama3(.init(factor: try p.double("factor"), lowFrequencyFactor: try p.double("low_freq_factor"),
                                         highFrequencyFactor: try p.double("high_freq_factor"),
                                         originalMaxPositions: try p.double("original_max_position_embeddings"))))
        default:
            throw MixtureError.invalidConfig(path: p.path, field: "rope_type", reason: "'\(type)' is not supported (supported: default, linear, llama3)")
        }
    }

    /// The attention window of each layer, following each family's transformers code: Mistral, Mixtral and
    /// Qwen3-MoE apply `sliding_window` to every layer (ignoring `layer_types`); the Qwen families use it only
    /// with `use_sliding_window`; Qwen2/Qwen3/Qwen2-MoE pick layers by `layer_types` or, without it, by
    /// `max_window_layers` (Qwen2-MoE: even layers below it; Qwen2/Qwen3: layers from it on).
    static func readSlidingWindows(_ config: JSONConfig, modelType: String, layerCount: Int) throws -> [Int?] {
        func positive(_ w: Int?) -> Int? { w.flatMap { $0 > 0 ? $0 : nil } }
        let configured: Int? = config.values["sliding_window"] == nil ? nil : try config.optionalInt("sliding_window")
        switch modelType {
        case "mistral", "mixtral":
            // MistralConfig defaults sliding_window to 4096 when the key is absent; Mixtral's default is none.
            let window = config.values["sliding_window"] == nil && modelType == "mistral" ? 4096 : configured
            return Array(repeating: positive(window), count: layerCount)
        case "qwen2", "qwen3", "qwen2_moe", "qwen3_moe":
            let enabled = try config.bool("use_sliding_window", default: false)
            let window = enabled ? positive(config.values["sliding_window"] == nil ? 4096 : configured) : nil
            if modelType == "qwen3_moe" { return Array(repeating: window, count: layerCount) }
            let types: [String]
            if let listed = try config.stringArray("layer_types") {
                guard listed.count == layerCount else {
                    throw MixtureError.invalidConfig(path: config.path, field: "layer_types", reason: "\(listed.count) entries for \(layerCount) layers")
                }
                types = listed
            } else {
                let first = try config.int("max_window_layers", default: modelType == "qwen2_moe" ? 28 : layerCount)
                types = (0..<layerCount).map { i in
                    let sliding = modelType == "qwen2_moe" ? (enabled && i % 2 == 0 && i < first) : (window != nil && i >= first)
                    return sliding ? "sliding_attention" : "full_attention"
                }
            }
            return try types.map { type in
                switch type {
                case "full_attention": return nil
                case "sliding_attention": return window
                default:
                    throw MixtureError.invalidConfig(path: config.path, field: "layer_types", reason: "'\(type)' is not supported (supported: full_attention, sliding_attention)")
                }
            }
        default:
            return Array(repeating: nil, count: layerCount)
        }
    }

    /// Parameters per token that a forward pass multiplies (attention, the chosen experts, the LM head),
    /// and parameters in total.
    public var parameterCounts: (total: Int, activePerToken: Int) {
        let attention = hiddenSize * headCount * headDimension * 2 + hiddenSize * keyValueHeadCount * headDimension * 2
        let dense = 3 * hiddenSize * intermediateSize
        var total = vocabularySize * hiddenSize * (tiedEmbeddings ? 1 : 2)
        var active = vocabularySize * hiddenSize
        for layer in 0..<layerCount {
            total += attention
            active += attention
            if let m = moe, isSparse(layer: layer) {
                let expert = 3 * hiddenSize * m.expertIntermediateSize
                let shared = (m.sharedExpertIntermediateSize.map { 3 * hiddenSize * $0 + hiddenSize }) ?? 0
                total += m.expertCount * expert + m.expertCount * hiddenSize + shared
                active += m.expertsPerToken * expert + m.expertCount * hiddenSize + shared
            } else {
                total += dense
                active += dense
            }
        }
        return (total, active)
    }
}
