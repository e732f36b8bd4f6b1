import Foundation
import MixtureCore
import MixtureFormats

/// Writes a Hugging Face folder with random weights for a given geometry: for demos and speed
/// measurements when no trained model is at hand. The weights mean nothing; the shapes, names and
/// config are exactly what transformers writes for the architecture.
public struct SyntheticCheckpoint {
    public var modelType: String = "olmoe"
    public var vocabularySize: Int
    public var hiddenSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var keyValueHeadCount: Int
    public var intermediateSize: Int
    public var expertCount: Int
    public var expertsPerToken: Int
    public var dtype: DType = .bfloat16
    public var seed: UInt64 = 0
    /// Standard deviation of the weights (transformers' default `initializer_range`).
    public var scale: Float = 0.02

    public init(vocabularySize: Int, hiddenSize: Int, layerCount: Int, headCount: Int, keyValueHeadCount: Int,
                intermediateSize: Int, expertCount: Int, expertsPerToken: Int) {
        self.vocabularySize = vocabularySize
        self.hiddenSize = hiddenSize
        self.layerCount = layerCount
        self.headCount = headCount
        self.keyValueHeadCount = keyValueHeadCount
        self.intermediateSize = intermediateSize
        self.expertCount = expertCount
        self.expertsPerToken = expertsPerToken
    }

    /// OLMoE-1B-7B's geometry with `layers` layers (the real model has 16).
    public static func olmoeGeometry(layers: Int = 4) -> SyntheticCheckpoint {
        SyntheticCheckpoint(vocabularySize: 50304, hiddenSize: 2048, layerCount: layers, headCount: 16, keyValueHeadCount: 16,
                            intermediateSize: 1024, expertCount: 64, expertsPerToken: 8)
    }

    /// A small MoE that runs instantly anywhere (the demo model).
    public static func demo() -> SyntheticCheckpoint {
        SyntheticCheckpoint(vocabularySize: 4096, hiddenSize: 512, layerCount: 4, headCount: 8, keyValueHeadCount: 8,
                            intermediateSize: 256, expertCount: 16, expertsPerToken: 4)
    }

    public var config: [String: Any] {
        [
            "architectures": ["OlmoeForCausalLM"], "model_type": modelType, "vocab_size": vocabularySize,
            "hidden_size": hiddenSize, "num_hidden_layers": layerCount, "num_attention_heads": headCount,
            "num_key_value_heads": keyValueHeadCount, "intermediate_size": intermediateSize, "num_experts": expertCount,
            "num_experts_per_tok": expertsPerToken, "norm_topk_prob": false, "hidden_act": "silu", "rms_norm_eps": 1e-5,
            "rope_theta": 10000.0, "max_position_embeddings": 4096, "tie_word_embeddings": false, "attention_bias": false,
            "dtype": dtype.torchName, "bos_token_id": 1, "eos_token_id": 0,
            "comment": "synthetic checkpoint with random weights written by `mixture`; it produces meaningless text",
        ]
    }

    /// Writes `config.json` and `model.safetensors` into `folder` (created if needed; files appear atomically).
    public func write(to folder: URL, progress: ((Int, Int) -> Void)? = nil) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let head = hiddenSize / headCount
        var shapes: [(String, [Int], Bool)] = [
            ("model.embed_tokens.weight", [vocabularySize, hiddenSize], false),
            ("model.norm.weight", [hiddenSize], true),
            ("lm_head.weight", [vocabularySize, hiddenSize], false),
        ]
        for l in 0..<layerCount {
            let p = "model.layers.\(l)"
            shapes += [
                ("\(p).input_layernorm.weight", [hiddenSize], true),
                ("\(p).post_attention_layernorm.weight", [hiddenSize], true),
                ("\(p).self_attn.q_proj.weight", [headCount * head, hiddenSize], false),
                ("\(p).self_attn.k_proj.weight", [keyValueHeadCount * head, hiddenSize], false),
                ("\(p).self_attn.v_proj.weight", [keyValueHeadCount * head, hiddenSize], false),
                ("\(p).self_attn.o_proj.weight", [hiddenSize, headCount * head], false),
                ("\(p).self_attn.q_norm.weight", [headCount * head], true),
                ("\(p).self_attn.k_norm.weight", [keyValueHeadCount * head], true),
                ("\(p).mlp.gate.weight", [expertCount, hiddenSize], false),
            ]
            for e in 0..<expertCount {
                shapes += [
                    ("\(p).mlp.experts.\(e).gate_proj.weight", [intermediateSize, hiddenSize], false),
                    ("\(p).mlp.experts.\(e).up_proj.weight", [intermediateSize, hiddenSize], false),
                    ("\(p).mlp.experts.\(e).down_proj.weight", [hiddenSize, intermediateSize], false),
                ]
            }
        }
        let storage = SafeTensorsDType(rawValue: dtype.rawValue)!
        let total = shapes.count
        var done = 0
        let entries = shapes.enumerated().map { (index, item) -> SafeTensorsWriter.Entry in
            let (name, shape, isNorm) = item
            let dtype = self.dtype
            let seed = self.seed &+ UInt64(index) &* 0x9E37_79B9
            let halfWidth = scale * 3.0.squareRoot().float
            return SafeTensorsWriter.Entry(name: name, dtype: storage, shape: shape) { buffer in
                let count = shape.reduce(1, *)
                // Uniform(-a, a) with the requested standard deviation; norms are ones, as transformers initialises them.
                Parallel.forRanges(count, alignment: 4096, minimumPerThread: 1 << 16) { range in
                    var generator = SeededGenerator(seed: seed &+ UInt64(range.lowerBound))
                    for i in range {
                        let value: Float = isNorm ? 1 : Float(generator.nextUnit() * 2 - 1) * halfWidth
                        switch dtype {
                        case .float32: buffer.storeBytes(of: value, toByteOffset: i * 4, as: Float.self)
                        case .bfloat16: buffer.storeBytes(of: ScalarConversion.bfloat16Bits(from: value), toByteOffset: i * 2, as: UInt16.self)
                        case .float16: buffer.storeBytes(of: ScalarConversion.float16Bits(from: value), toByteOffset: i * 2, as: UInt16.self)
                        }
                    }
                }
                done += 1
                progress?(done, total)
            }
        }
        try SafeTensorsWriter.write(entries, metadata: ["format": "pt"], to: folder.appendingPathComponent("model.safetensors"))
        let configData = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
        try configData.write(to: folder.appendingPathComponent("config.json"), options: .atomic)
    }
}

extension Double {
    var float: Float { Float(self) }
}
