import ArgumentParser
import Foundation
import MixtureFormats
import MixtureCore
import MixtureModels

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a model: architecture, layers, experts, parameters, dtype, bytes mapped.")

    @OptionGroup var options: ModelOptions

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func run() throws {
        let model = try TransformerModel.load(from: options.url, residency: options.residency)
        let a = model.architecture
        let (total, active) = a.parameterCounts
        let dtypes = model.weights.dtypes.sorted()
        var object: [String: Any] = [
            "model_type": a.modelType, "layers": a.layerCount, "hidden_size": a.hiddenSize,
            "attention_heads": a.headCount, "key_value_heads": a.keyValueHeadCount, "head_dim": a.headDimension,
            "vocab_size": a.vocabularySize, "parameters_total": total, "parameters_active_per_token": active,
            "dtypes": dtypes, "bytes_mapped": model.source.mappedBytes, "shards": model.source.fileCount,
            "bytes_read_per_decoded_token": model.bytesReadPerDecodedToken,
        ]
        if let m = a.moe {
            object["experts"] = m.expertCount
            object["experts_per_token"] = m.expertsPerToken
            object["moe_layers"] = a.sparseLayers.sorted()
            object["expert_intermediate_size"] = m.expertIntermediateSize
            object["shared_expert_intermediate_size"] = m.sharedExpertIntermediateSize as Any
            object["norm_topk_prob"] = m.normalizeTopKProbabilities
        }
        // A GGUF file: the stored tensor types and its tokenizer.
        var fileTypes: [(String, Int)] = []
        var tokenizerLine: String?
        if let gguf = model.source as? GGUFWeights {
            var counts: [String: Int] = [:]
            for tensor in gguf.file.tensors { counts[tensor.type.description, default: 0] += 1 }
            fileTypes = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            object["gguf_tensor_types"] = Dictionary(uniqueKeysWithValues: fileTypes)
            let meta = gguf.file.metadata
            if let kind = meta["tokenizer.ggml.model"]?.string, let tokens = meta["tokenizer.ggml.tokens"]?.array {
                let pre = meta["tokenizer.ggml.pre"]?.string
                object["tokenizer"] = ["model": kind, "pre": pre as Any, "tokens": tokens.count,
                                       "chat_template": meta["tokenizer.chat_template"] != nil]
                tokenizerLine = "\(kind)" + (pre.map { " (\($0))" } ?? "") + ", \(tokens.count) tokens"
                    + (meta["tokenizer.chat_template"] != nil ? ", chat template" : "")
            } else {
                object["tokenizer"] = NSNull()
            }
        }
        if json {
            print(try jsonString(of: object))
            return
        }
        print("model:        \(options.model)")
        print("architecture: \(a.modelType), \(a.layerCount) layers, hidden \(a.hiddenSize), vocab \(a.vocabularySize)")
        print("attention:    \(a.headCount) heads, \(a.keyValueHeadCount) key/value heads, head_dim \(a.headDimension), rope theta \(a.ropeTheta)"
              + (a.queryKeyNorm == .none ? "" : ", q/k norm \(a.queryKeyNorm.rawValue)")
              + (a.slidingWindows.contains { $0 != nil } ? ", sliding window \(a.slidingWindows.compactMap { $0 }.first!)" : ""))
        if let m = a.moe {
            let sparse = a.sparseLayers.count == a.layerCount ? "all layers" : "layers \(a.sparseLayers.sorted())"
            print("experts:      \(m.expertCount) per MoE layer, top-\(m.expertsPerToken) (\(sparse)), expert width \(m.expertIntermediateSize)"
                  + (m.sharedExpertIntermediateSize.map { ", shared expert width \($0)" } ?? "")
                  + (m.normalizeTopKProbabilities ? ", top-k weights renormalised" : ""))
        } else {
            print("mlp:          dense, width \(a.intermediateSize)")
        }
        print(String(format: "parameters:   %@ total, %@ active per token", human(total), human(active)))
        print("dtype:        \(dtypes.joined(separator: ", "))" + (fileTypes.isEmpty ? "" : " in memory"))
        if !fileTypes.isEmpty {
            let quantized = fileTypes.contains { !["F32", "F16", "BF16"].contains($0.0) }
            print("file types:   \(fileTypes.map { "\($0.0) ×\($0.1)" }.joined(separator: ", "))"
                  + (quantized ? " (quantized matrices are read in place; Q8_0/Q4_0/Q4_K/Q6_K by integer kernels, \(QuantizedKernels.integerInstructionSet))" : ""))
            print("tokenizer:    \(tokenizerLine ?? "none in the file (pass --tokenizer to commands that need text)")")
        }
        print(String(format: "mapped:       %.1f MB in %d file(s); %.1f MB of weights read per decoded token",
                     Double(model.source.mappedBytes) / 1e6, model.source.fileCount, Double(model.bytesReadPerDecodedToken) / 1e6))
    }
}

func human(_ count: Int) -> String {
    let c = Double(count)
    if c >= 1e9 { return String(format: "%.2fB", c / 1e9) }
    if c >= 1e6 { return String(format: "%.1fM", c / 1e6) }
    if c >= 1e3 { return String(format: "%.1fK", c / 1e3) }
    return "\(count)"
}
