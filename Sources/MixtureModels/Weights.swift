import Foundation
import MixtureCore
import MixtureFormats

/// A linear layer: weight `[out, in]` in its stored dtype, optional bias in Float.
public struct LinearWeights: @unchecked Sendable {
    public var weight: WeightMatrix
    public var bias: [Float]?
}

/// A SwiGLU feed-forward block: `down(silu(gate(x)) * up(x))`.
public struct FeedForwardWeights: @unchecked Sendable {
    public var gate: LinearWeights
    public var up: LinearWeights
    public var down: LinearWeights
    public var intermediateSize: Int { gate.weight.rows }
}

public struct MixtureOfExpertsWeights: @unchecked Sendable {
    public var router: WeightMatrix
    public var experts: [FeedForwardWeights]
    public var sharedExpert: FeedForwardWeights?
    public var sharedExpertGate: WeightMatrix?
}

public enum FeedForwardBlock: @unchecked Sendable {
    case dense(FeedForwardWeights)
    case sparse(MixtureOfExpertsWeights)
}

public struct AttentionWeights: @unchecked Sendable {
    public var query: LinearWeights
    public var key: LinearWeights
    public var value: LinearWeights
    public var output: LinearWeights
    public var queryNorm: [Float]?
    public var keyNorm: [Float]?
}

public struct DecoderLayerWeights: @unchecked Sendable {
    public var inputNorm: [Float]
    public var attention: AttentionWeights
    public var postAttentionNorm: [Float]
    public var feedForward: FeedForwardBlock
}

/// All weights of a decoder-only model, as views into the mapped checkpoint.
public struct TransformerWeights: @unchecked Sendable {
    public var embedding: WeightMatrix
    public var layers: [DecoderLayerWeights]
    public var finalNorm: [Float]
    public var languageModelHead: WeightMatrix
    /// Storage dtypes seen among the matrices, for reporting.
    public var dtypes: Set<DType>

    /// Looks up and checks every tensor the architecture needs.
    public init(folder: ModelFolder, architecture a: ArchitectureDescription) throws {
        var dtypes = Set<DType>()
        let folderPath = folder.url.path

        func view(_ name: String) throws -> TensorView {
            guard let t = folder.tensor(name) else {
                throw MixtureError.invalidFile(path: folderPath, reason: "missing tensor '\(name)' (needed by \(a.modelType))")
            }
            return t
        }
        func matrix(_ name: String, _ rows: Int, _ columns: Int) throws -> WeightMatrix {
            let t = try view(name)
            guard t.info.shape == [rows, columns] else {
                throw MixtureError.invalidFile(path: t.path, reason: "tensor '\(name)' has shape \(t.info.shape), expected [\(rows), \(columns)]")
            }
            let m = try t.matrix()
            dtypes.insert(m.dtype)
            return m
        }
        func vector(_ name: String, _ count: Int) throws -> [Float] {
            let t = try view(name)
            guard t.info.shape == [count] else {
                throw MixtureError.invalidFile(path: t.path, reason: "tensor '\(name)' has shape \(t.info.shape), expected [\(count)]")
            }
            return try t.floats()
        }
        func linear(_ prefix: String, _ rows: Int, _ columns: Int, bias: Bool) throws -> LinearWeights {
            LinearWeights(weight: try matrix("\(prefix).weight", rows, columns),
                          bias: bias ? try vector("\(prefix).bias", rows) : nil)
        }
        func feedForward(_ prefix: String, gate: String, up: String, down: String, size: Int, bias: Bool) throws -> FeedForwardWeights {
            FeedForwardWeights(gate: try linear("\(prefix).\(gate)", size, a.hiddenSize, bias: bias),
                               up: try linear("\(prefix).\(up)", size, a.hiddenSize, bias: bias),
                               down: try linear("\(prefix).\(down)", a.hiddenSize, size, bias: bias))
        }

        // A config that claims more layers than the checkpoint holds is named as such, not as the first missing tensor.
        let storedLayers = Self.layerCount(in: folder.tensorNames, prefix: "model.layers.")
        guard a.layerCount <= storedLayers else {
            throw MixtureError.invalidConfig(path: folder.configURL.path, field: "num_hidden_layers",
                                             reason: "\(a.layerCount) layers, but the checkpoint holds \(storedLayers == 0 ? "none" : "layers 0...\(storedLayers - 1)")")
        }
        embedding = try matrix("model.embed_tokens.weight", a.vocabularySize, a.hiddenSize)
        finalNorm = try vector("model.norm.weight", a.hiddenSize)
        if a.tiedEmbeddings {
            // Tied: transformers uses the embedding matrix, whatever lm_head.weight the file may also hold.
            languageModelHead = embedding
        } else {
            languageModelHead = try matrix("lm_head.weight", a.vocabularySize, a.hiddenSize)
        }

        let qWidth = a.headCount * a.headDimension
        let kvWidth = a.keyValueHeadCount * a.headDimension
        var layers: [DecoderLayerWeights] = []
        for l in 0..<a.layerCount {
            let p = "model.layers.\(l)"
            var attention = AttentionWeights(
                query: try linear("\(p).self_attn.q_proj", qWidth, a.hiddenSize, bias: a.queryKeyValueBias),
                key: try linear("\(p).self_attn.k_proj", kvWidth, a.hiddenSize, bias: a.queryKeyValueBias),
                value: try linear("\(p).self_attn.v_proj", kvWidth, a.hiddenSize, bias: a.queryKeyValueBias),
                output: try linear("\(p).self_attn.o_proj", a.hiddenSize, qWidth, bias: a.outputBias),
                queryNorm: nil, keyNorm: nil)
            switch a.queryKeyNorm {
            case .none: break
            case .perHead:
                attention.queryNorm = try vector("\(p).self_attn.q_norm.weight", a.headDimension)
                attention.keyNorm = try vector("\(p).self_attn.k_norm.weight", a.headDimension)
            case .wholeProjection:
                attention.queryNorm = try vector("\(p).self_attn.q_norm.weight", qWidth)
                attention.keyNorm = try vector("\(p).self_attn.k_norm.weight", kvWidth)
            }

            let block: FeedForwardBlock
            if let m = a.moe, a.isSparse(layer: l) {
                let prefix = "\(p).\(m.naming.blockPrefix)"
                var experts: [FeedForwardWeights] = []
                let fusedName = "\(prefix).experts.gate_up_proj"
                if folder.tensor("\(prefix).experts.0.\(m.naming.gate).weight") == nil, let fused = folder.tensor(fusedName) {
                    // transformers' in-memory layout: gate_up_proj [E, 2I, H] (gate rows first), down_proj [E, H, I].
                    let size = m.expertIntermediateSize
                    guard fused.info.shape == [m.expertCount, 2 * size, a.hiddenSize] else {
                        throw MixtureError.invalidFile(path: fused.path, reason: "tensor '\(fusedName)' has shape \(fused.info.shape), expected [\(m.expertCount), \(2 * size), \(a.hiddenSize)]")
                    }
                    let down = try view("\(prefix).experts.down_proj")
                    guard down.info.shape == [m.expertCount, a.hiddenSize, size] else {
                        throw MixtureError.invalidFile(path: down.path, reason: "tensor '\(prefix).experts.down_proj' has shape \(down.info.shape), expected [\(m.expertCount), \(a.hiddenSize), \(size)]")
                    }
                    let gateUp = try fused.matrix(), downAll = try down.matrix()
                    dtypes.insert(gateUp.dtype)
                    for e in 0..<m.expertCount {
                        let rows = gateUp.rows(e * 2 * size ..< (e + 1) * 2 * size)
                        experts.append(FeedForwardWeights(
                            gate: LinearWeights(weight: rows.rows(0..<size), bias: nil),
                            up: LinearWeights(weight: rows.rows(size..<2 * size), bias: nil),
                            down: LinearWeights(weight: WeightMatrix(rows: a.hiddenSize, columns: size, dtype: downAll.dtype,
                                                                     base: downAll.rowPointer(e * a.hiddenSize)), bias: nil)))
                    }
                } else {
                    for e in 0..<m.expertCount {
                        experts.append(try feedForward("\(prefix).experts.\(e)", gate: m.naming.gate, up: m.naming.up,
                                                       down: m.naming.down, size: m.expertIntermediateSize, bias: false))
                    }
                }
                var weights = MixtureOfExpertsWeights(router: try matrix("\(prefix).gate.weight", m.expertCount, a.hiddenSize),
                                                      experts: experts, sharedExpert: nil, sharedExpertGate: nil)
                if let shared = m.sharedExpertIntermediateSize {
                    weights.sharedExpert = try feedForward("\(prefix).shared_expert", gate: "gate_proj", up: "up_proj",
                                                           down: "down_proj", size: shared, bias: false)
                    weights.sharedExpertGate = try matrix("\(prefix).shared_expert_gate.weight", 1, a.hiddenSize)
                }
                block = .sparse(weights)
            } else {
                block = .dense(try feedForward("\(p).mlp", gate: "gate_proj", up: "up_proj", down: "down_proj",
                                               size: a.intermediateSize, bias: a.mlpBias))
            }
            layers.append(DecoderLayerWeights(
                inputNorm: try vector("\(p).input_layernorm.weight", a.hiddenSize),
                attention: attention,
                postAttentionNorm: try vector("\(p).post_attention_layernorm.weight", a.hiddenSize),
                feedForward: block))
        }
        self.layers = layers
        self.dtypes = dtypes
    }

    /// One more than the highest layer index among tensor names `PREFIX<index>.…`.
    static func layerCount(in names: [String], prefix: String) -> Int {
        var count = 0
        for name in names where name.hasPrefix(prefix) {
            let rest = name.dropFirst(prefix.count)
            if let index = Int(rest.prefix { $0.isASCII && $0.isNumber }), index < PlausibleBounds.layers {
                count = max(count, index + 1)
            }
        }
        return count
    }
}
