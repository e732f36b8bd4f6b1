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

/// Where a model's weights come from, by Hugging Face tensor name: a model folder, or a GGUF file
/// through its name mapping (`GGUFWeights`).
public protocol WeightSource: AnyObject {
    /// The folder or file, for messages.
    var sourcePath: String { get }
    /// Where the architecture's numbers come from, for messages.
    var configPath: String { get }
    var tensorNames: [String] { get }
    /// Row-major shape (slowest dimension first), or nil when the tensor is absent.
    func shape(of name: String) -> [Int]?
    /// The tensor as a matrix: the last dimension is the columns, the others fold into rows.
    func matrix(_ name: String) throws -> WeightMatrix
    func floats(_ name: String) throws -> [Float]
    /// The name the file stores a tensor under, and the file, for messages.
    func storedName(of name: String) -> String
    func path(of name: String) -> String
    /// The source's name for a config.json field, for messages.
    func configField(_ field: String) -> String
    var mappedBytes: Int { get }
    var fileCount: Int { get }
}

extension ModelFolder: WeightSource {
    public var sourcePath: String { url.path }
    public var configPath: String { configURL.path }
    public func shape(of name: String) -> [Int]? { tensor(name)?.info.shape }
    public func matrix(_ name: String) throws -> WeightMatrix { try view(name).matrix() }
    public func floats(_ name: String) throws -> [Float] { try view(name).floats() }
    public func storedName(of name: String) -> String { name }
    public func path(of name: String) -> String { tensor(name)?.path ?? url.path }
    public func configField(_ field: String) -> String { field }
    public var fileCount: Int { files.count }

    private func view(_ name: String) throws -> TensorView {
        guard let t = tensor(name) else { throw MixtureError.invalidFile(path: url.path, reason: "missing tensor '\(name)'") }
        return t
    }
}

/// All weights of a decoder-only model, as views into the mapped checkpoint.
public struct TransformerWeights: @unchecked Sendable {
    public var embedding: WeightMatrix
    public var layers: [DecoderLayerWeights]
    public var finalNorm: [Float]
    public var languageModelHead: WeightMatrix
    /// Storage types seen among the matrices (`BF16`, `Q4_K`, ...), for reporting.
    public var dtypes: Set<String>

    /// Looks up and checks every tensor the architecture needs.
    public init(folder: ModelFolder, architecture a: ArchitectureDescription) throws {
        try self.init(source: folder, architecture: a)
    }

    /// Looks up and checks every tensor the architecture needs, by its Hugging Face name.
    public init(source: WeightSource, architecture a: ArchitectureDescription) throws {
        var dtypes = Set<String>()
        let folderPath = source.sourcePath

        func shape(_ name: String) throws -> [Int] {
            guard let shape = source.shape(of: name) else {
                throw MixtureError.invalidFile(path: folderPath, reason: "missing tensor '\(source.storedName(of: name))' (needed by \(a.modelType))")
            }
            return shape
        }
        func matrix(_ name: String, _ rows: Int, _ columns: Int) throws -> WeightMatrix {
            let found = try shape(name)
            guard found == [rows, columns] else {
                throw MixtureError.invalidFile(path: source.path(of: name), reason: "tensor '\(source.storedName(of: name))' has shape \(found), expected [\(rows), \(columns)]")
            }
            let m = try source.matrix(name)
            dtypes.insert(m.typeName)
            return m
        }
        func vector(_ name: String, _ count: Int) throws -> [Float] {
            let found = try shape(name)
            guard found == [count] else {
                throw MixtureError.invalidFile(path: source.path(of: name), reason: "tensor '\(source.storedName(of: name))' has shape \(found), expected [\(count)]")
            }
            return try source.floats(name)
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
        let storedLayers = Self.layerCount(in: source.tensorNames, prefix: "model.layers.")
        guard a.layerCount <= storedLayers else {
            throw MixtureError.invalidConfig(path: source.configPath, field: source.configField("num_hidden_layers"),
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
                if source.shape(of: "\(prefix).experts.0.\(m.naming.gate).weight") == nil, let fusedShape = source.shape(of: fusedName) {
                    // transformers' in-memory layout: gate_up_proj [E, 2I, H] (gate rows first), down_proj [E, H, I].
                    let size = m.expertIntermediateSize
                    guard fusedShape == [m.expertCount, 2 * size, a.hiddenSize] else {
                        throw MixtureError.invalidFile(path: source.path(of: fusedName), reason: "tensor '\(fusedName)' has shape \(fusedShape), expected [\(m.expertCount), \(2 * size), \(a.hiddenSize)]")
                    }
                    let downName = "\(prefix).experts.down_proj"
                    let downShape = try shape(downName)
                    guard downShape == [m.expertCount, a.hiddenSize, size] else {
                        throw MixtureError.invalidFile(path: source.path(of: downName), reason: "tensor '\(downName)' has shape \(downShape), expected [\(m.expertCount), \(a.hiddenSize), \(size)]")
                    }
                    let gateUp = try source.matrix(fusedName), downAll = try source.matrix(downName)
                    dtypes.insert(gateUp.typeName)
                    for e in 0..<m.expertCount {
                        let rows = gateUp.rows(e * 2 * size ..< (e + 1) * 2 * size)
                        experts.append(FeedForwardWeights(
                            gate: LinearWeights(weight: rows.rows(0..<size), bias: nil),
                            up: LinearWeights(weight: rows.rows(size..<2 * size), bias: nil),
                            down: LinearWeights(weight: downAll.rows(e * a.hiddenSize ..< (e + 1) * a.hiddenSize), bias: nil)))
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
