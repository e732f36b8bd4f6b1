import Foundation
import MixtureCore
import MixtureFormats

/// A sentence-transformers model folder: the pipeline listed in `modules.json` (a Transformer, then
/// Pooling, then optionally Normalize), run from token ids. The text API, which tokenizes first, is in
/// SentenceTransformer+Text.swift.
public final class SentenceTransformer: @unchecked Sendable {
    /// A module after the Transformer.
    public enum Stage: Sendable, Equatable {
        case pooling(Pooling)
        case normalize
    }

    /// The model folder (where `modules.json` is).
    public let url: URL
    /// The Transformer module's folder, which holds `config.json`, the weights and the tokenizer.
    public let transformerURL: URL
    public let encoder: BertEncoder
    /// The modules after the Transformer, in order.
    public var stages: [Stage]
    /// Longest tokenized input, special tokens included; longer text is truncated to it.
    public let maxSequenceLength: Int
    /// `do_lower_case` of `sentence_bert_config.json`: text is lowercased before tokenization.
    public let lowercasesInput: Bool

    /// The loaded tokenizer, created on first use by the text API; typed loosely so this file does not
    /// depend on the tokenizer library.
    let tokenizerLock = NSLock()
    var cachedTokenizer: AnyObject?

    public init(url: URL, transformerURL: URL, encoder: BertEncoder, stages: [Stage], maxSequenceLength: Int,
                lowercasesInput: Bool) {
        self.url = url
        self.transformerURL = transformerURL
        self.encoder = encoder
        self.stages = stages
        self.maxSequenceLength = maxSequenceLength
        self.lowercasesInput = lowercasesInput
    }

    /// Length of the embeddings this pipeline returns.
    public var embeddingDimension: Int {
        stages.reduce(encoder.architecture.hiddenSize) { dimension, stage in
            if case .pooling(let p) = stage { return p.outputDimension }
            return dimension
        }
    }

    /// Loads a sentence-transformers folder as `modules.json` describes it.
    public static func load(from url: URL) throws -> SentenceTransformer {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw MixtureError.missingFile(path: url.path, reason: "not a folder (expected a sentence-transformers model folder)")
        }
        let modulesURL = url.appendingPathComponent("modules.json")
        guard let data = FileManager.default.contents(atPath: modulesURL.path) else {
            throw MixtureError.missingFile(path: modulesURL.path, reason: "missing (a sentence-transformers folder lists its modules there)")
        }
        guard let entries = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else {
            throw MixtureError.invalidFile(path: modulesURL.path, reason: "expected a JSON list of module objects")
        }
        let modules = try entries.enumerated().map { i, entry -> (kind: String, type: String, url: URL) in
            guard let type = entry["type"] as? String else {
                throw MixtureError.invalidFile(path: modulesURL.path, reason: "module \(i) has no string 'type'")
            }
            guard let path = entry["path"] as? String, !path.hasPrefix("/"), !path.split(separator: "/").contains("..") else {
                throw MixtureError.invalidFile(path: modulesURL.path, reason: "module \(i) (\(type)) has no relative 'path'")
            }
            let kind = String(type.split(separator: ".").last ?? "")
            return (kind, type, path.isEmpty ? url : url.appendingPathComponent(path))
        }
        guard let first = modules.first, first.kind == "Transformer" else {
            throw MixtureError.invalidFile(path: modulesURL.path,
                                           reason: "the first module must be a Transformer, found \(modules.first?.type ?? "no modules")")
        }

        let transformerURL = first.url
        let encoder = try BertEncoder.load(from: transformerURL)
        let settingsURL = transformerURL.appendingPathComponent("sentence_bert_config.json")
        let settings = FileManager.default.fileExists(atPath: settingsURL.path) ? try JSONConfig.load(settingsURL) : nil
        let maxLength = try maxSequenceLength(settings: settings, transformerURL: transformerURL,
                                              architecture: encoder.architecture)

        var stages: [Stage] = []
        for (i, module) in modules.enumerated().dropFirst() {
            switch module.kind {
            case "Pooling":
                let pooling = try Pooling(config: JSONConfig.load(module.url.appendingPathComponent("config.json")))
                guard pooling.embeddingDimension == encoder.architecture.hiddenSize else {
                    throw MixtureError.invalidConfig(path: module.url.appendingPathComponent("config.json").path, field: "embedding_dimension",
                                                     reason: "\(pooling.embeddingDimension) does not match the encoder's hidden_size \(encoder.architecture.hiddenSize)")
                }
                stages.append(.pooling(pooling))
            case "Normalize":
                stages.append(.normalize)
            default:
                throw MixtureError.invalidFile(path: modulesURL.path,
                                               reason: "module \(i) has type '\(module.type)', which is not supported (supported: Transformer, Pooling, Normalize)")
            }
        }
        let poolingCount = stages.filter { if case .pooling = $0 { return true } else { return false } }.count
        guard poolingCount == 1, case .pooling = stages.first else {
            throw MixtureError.invalidFile(path: modulesURL.path,
                                           reason: "expected exactly one Pooling module right after the Transformer, found \(poolingCount)")
        }
        return SentenceTransformer(url: url, transformerURL: transformerURL, encoder: encoder, stages: stages,
                                   maxSequenceLength: maxLength,
                                   lowercasesInput: try settings?.bool("do_lower_case", default: false) ?? false)
    }

    /// What sentence-transformers truncates to: `max_seq_length` when set; otherwise the tokenizer's
    /// `model_max_length` capped at `max_position_embeddings`. Never more than the position table holds.
    static func maxSequenceLength(settings: JSONConfig?, transformerURL: URL, architecture a: EncoderDescription) throws -> Int {
        var length: Int
        if let settings, let configured = try settings.optionalInt("max_seq_length") {
            guard configured > 0 else {
                throw MixtureError.invalidConfig(path: settings.path, field: "max_seq_length", reason: "must be positive, found \(configured)")
            }
            length = configured
        } else {
            length = a.maxPositionEmbeddings
            let tokenizerConfigURL = transformerURL.appendingPathComponent("tokenizer_config.json")
            if FileManager.default.fileExists(atPath: tokenizerConfigURL.path),
               let modelMaxLength = try JSONConfig.load(tokenizerConfigURL).optionalDouble("model_max_length"), modelMaxLength >= 1 {
                length = Int(min(modelMaxLength, Double(length)))
            }
        }
        return min(length, a.maxSequenceLength)
    }

    /// Embeddings of token-id sequences (special tokens included, as the tokenizer gives them), run
    /// `batchSize` sequences at a time. Sequences longer than the model holds are an error, not truncated.
    public func embed(tokenIDs: [[Int]], batchSize: Int = 32) throws -> [[Float]] {
        guard batchSize > 0 else { throw MixtureError.invalidArgument("batch size must be at least 1, got \(batchSize)") }
        var embeddings: [[Float]] = []
        embeddings.reserveCapacity(tokenIDs.count)
        var start = 0
        while start < tokenIDs.count {
            let batch = Array(tokenIDs[start..<min(start + batchSize, tokenIDs.count)])
            let output = try encoder.encode(batch)
            for s in 0..<output.sequenceCount {
                embeddings.append(applyStages(output, sequence: s))
            }
            start += batchSize
        }
        return embeddings
    }

    /// Pooling, then Normalize if listed, for one sequence of the encoder's output.
    func applyStages(_ output: EncoderOutput, sequence s: Int) -> [Float] {
        var vector: [Float] = []
        for stage in stages {
            switch stage {
            case .pooling(let pooling):
                vector = pooling.pool(output.rows(s), count: output.tokenCount(s), width: output.hiddenSize)
            case .normalize:
                vector = l2Normalized(vector)
            }
        }
        return vector
    }
}
