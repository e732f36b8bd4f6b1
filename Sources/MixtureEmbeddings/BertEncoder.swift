import Foundation
import MixtureCore
import MixtureFormats

/// What differs between BERT-family encoders, decoded from `config.json`.
public struct EncoderDescription: Sendable, Equatable {
    /// Activation of the feed-forward block (`hidden_act`).
    public enum Activation: String, Sendable {
        /// Exact erf GELU (`gelu`).
        case gelu
        /// Tanh approximation (`gelu_new`, `gelu_pytorch_tanh`).
        case geluTanh
        case relu
    }

    public static let supportedModelTypes = ["bert", "roberta", "xlm-roberta"]

    public var modelType: String
    public var vocabularySize: Int
    public var hiddenSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var intermediateSize: Int
    public var maxPositionEmbeddings: Int
    public var typeVocabularySize: Int
    public var layerNormEpsilon: Float
    public var activation: Activation
    /// Position id of the first token: 0 for BERT, `pad_token_id + 1` for RoBERTa-style models, whose
    /// position ids count from just past the padding index.
    public var positionOffset: Int
    /// RoBERTa-style models give padding tokens the padding position; `nil` for BERT.
    public var paddingTokenID: Int?

    public var headDimension: Int { hiddenSize / headCount }
    /// The longest sequence the position table can hold.
    public var maxSequenceLength: Int { maxPositionEmbeddings - positionOffset }

    public init(config c: JSONConfig) throws {
        modelType = try c.string("model_type")
        guard Self.supportedModelTypes.contains(modelType) else {
            throw MixtureError.invalidConfig(path: c.path, field: "model_type",
                                             reason: "'\(modelType)' is not a supported encoder (supported: \(Self.supportedModelTypes.joined(separator: ", ")))")
        }
        vocabularySize = try c.count("vocab_size", atMost: PlausibleBounds.vocabulary)
        hiddenSize = try c.count("hidden_size", atMost: PlausibleBounds.hiddenSize)
        layerCount = try c.count("num_hidden_layers", atMost: PlausibleBounds.layers)
        headCount = try c.count("num_attention_heads", atMost: PlausibleBounds.heads)
        intermediateSize = try c.count("intermediate_size", atMost: PlausibleBounds.intermediateSize)
        maxPositionEmbeddings = try c.count("max_position_embeddings", atMost: PlausibleBounds.positions)
        typeVocabularySize = try c.count("type_vocab_size", default: 2, atMost: PlausibleBounds.vocabulary)
        layerNormEpsilon = Float(try c.double("layer_norm_eps", default: 1e-12))
        let act = try c.optionalString("hidden_act") ?? "gelu"
        switch act {
        case "gelu": activation = .gelu
        case "gelu_new", "gelu_pytorch_tanh": activation = .geluTanh
        case "relu": activation = .relu
        default:
            throw MixtureError.invalidConfig(path: c.path, field: "hidden_act",
                                             reason: "'\(act)' is not supported (supported: gelu, gelu_new, gelu_pytorch_tanh, relu)")
        }
        let positionType = try c.optionalString("position_embedding_type") ?? "absolute"
        guard positionType == "absolute" else {
            throw MixtureError.invalidConfig(path: c.path, field: "position_embedding_type",
                                             reason: "'\(positionType)' is not supported (only absolute)")
        }
        if modelType == "bert" {
            positionOffset = 0
            paddingTokenID = nil
        } else {
            let pad = try c.count("pad_token_id", default: 1, atMost: PlausibleBounds.vocabulary, allowZero: true)
            positionOffset = pad + 1
            paddingTokenID = pad
        }
        guard hiddenSize % headCount == 0 else {
            throw MixtureError.invalidConfig(path: c.path, field: "num_attention_heads",
                                             reason: "hidden_size \(hiddenSize) is not divisible by \(headCount) heads")
        }
        guard maxSequenceLength > 0 else {
            throw MixtureError.invalidConfig(path: c.path, field: "max_position_embeddings",
                                             reason: "\(maxPositionEmbeddings) leaves no positions after the offset \(positionOffset)")
        }
    }
}

/// A linear layer with bias, as BERT has everywhere.
struct BiasedLinear {
    let weight: WeightMatrix
    let bias: [Float]
}

struct LayerNormWeights {
    let weight: [Float]
    let bias: [Float]
}

struct EncoderLayerWeights {
    let query, key, value, attentionOutput: BiasedLinear
    let attentionNorm: LayerNormWeights
    let intermediate, output: BiasedLinear
    let outputNorm: LayerNormWeights
}

/// Token embeddings of a batch, sequences packed one after another without padding.
public struct EncoderOutput {
    /// `totalTokens × hiddenSize` floats, row-major.
    public let hiddenStates: FloatBuffer
    public let hiddenSize: Int
    /// Row where each sequence starts; `sequenceStarts[i + 1]` is where it ends.
    public let sequenceStarts: [Int]

    public var sequenceCount: Int { sequenceStarts.count - 1 }
    public func tokenCount(_ sequence: Int) -> Int { sequenceStarts[sequence + 1] - sequenceStarts[sequence] }
    /// The first row of `sequence`.
    public func rows(_ sequence: Int) -> UnsafePointer<Float> {
        UnsafePointer(hiddenStates.row(sequenceStarts[sequence], width: hiddenSize))
    }
    /// `sequence`'s token embeddings, one array per token (for tests and inspection).
    public func tokenEmbeddings(_ sequence: Int) -> [[Float]] {
        (sequenceStarts[sequence]..<sequenceStarts[sequence + 1]).map {
            hiddenStates.array($0 * hiddenSize ..< ($0 + 1) * hiddenSize)
        }
    }
}

/// A BERT-family encoder (BERT, RoBERTa, XLM-RoBERTa) loaded from a Hugging Face folder: post-norm
/// blocks of bidirectional self-attention and a GELU feed-forward layer.
///
/// A batch runs packed: every linear layer sees all tokens of all sequences at once, and attention
/// stays inside each sequence. That equals a padded batch whose padding keys are masked out.
public final class BertEncoder: @unchecked Sendable {
    public let architecture: EncoderDescription
    /// Keeps the memory-mapped weights alive.
    public let folder: ModelFolder
    let wordEmbeddings: WeightMatrix
    let positionEmbeddings: WeightMatrix
    /// Row 0 of the token-type table: single sentences have token type 0 everywhere.
    let tokenTypeEmbedding: [Float]
    let embeddingNorm: LayerNormWeights
    let layers: [EncoderLayerWeights]

    public static func load(from url: URL) throws -> BertEncoder {
        try BertEncoder(folder: ModelFolder(url: url))
    }

    public init(folder: ModelFolder) throws {
        self.folder = folder
        let config = try JSONConfig(data: folder.configData, path: folder.configURL.path)
        let d = try EncoderDescription(config: config)
        architecture = d
        HeapPolicy.keepLargeAllocationsInHeap()

        // transformers saves a bare encoder without a prefix, and a task model with `bert.` / `roberta.`.
        let prefixes = ["", "bert.", "roberta.", "model."]
        guard let prefix = prefixes.first(where: { folder.tensor($0 + "embeddings.word_embeddings.weight") != nil }) else {
            throw MixtureError.invalidFile(path: folder.url.path,
                                           reason: "no tensor 'embeddings.word_embeddings.weight' (with or without a bert./roberta. prefix): not a BERT-family checkpoint")
        }
        func matrix(_ name: String, rows: Int, columns: Int) throws -> WeightMatrix {
            guard let view = folder.tensor(prefix + name) else {
                throw MixtureError.invalidFile(path: folder.url.path, reason: "missing tensor '\(prefix + name)'")
            }
            let m = try view.matrix()
            guard view.info.shape.count == 2, m.rows == rows, m.columns == columns else {
                throw MixtureError.invalidFile(path: view.path,
                                               reason: "tensor '\(prefix + name)' has shape \(view.info.shape), expected [\(rows), \(columns)]")
            }
            return m
        }
        func vector(_ name: String, count: Int) throws -> [Float] {
            guard let view = folder.tensor(prefix + name) else {
                throw MixtureError.invalidFile(path: folder.url.path, reason: "missing tensor '\(prefix + name)'")
            }
            guard view.info.shape == [count] else {
                throw MixtureError.invalidFile(path: view.path,
                                               reason: "tensor '\(prefix + name)' has shape \(view.info.shape), expected [\(count)]")
            }
            return try view.floats()
        }
        func linear(_ name: String, outputs: Int, inputs: Int) throws -> BiasedLinear {
            BiasedLinear(weight: try matrix(name + ".weight", rows: outputs, columns: inputs),
                         bias: try vector(name + ".bias", count: outputs))
        }
        func norm(_ name: String) throws -> LayerNormWeights {
            LayerNormWeights(weight: try vector(name + ".weight", count: d.hiddenSize),
                             bias: try vector(name + ".bias", count: d.hiddenSize))
        }

        let h = d.hiddenSize
        wordEmbeddings = try matrix("embeddings.word_embeddings.weight", rows: d.vocabularySize, columns: h)
        positionEmbeddings = try matrix("embeddings.position_embeddings.weight", rows: d.maxPositionEmbeddings, columns: h)
        tokenTypeEmbedding = try matrix("embeddings.token_type_embeddings.weight", rows: d.typeVocabularySize, columns: h)
            .rows(0..<1).toFloats()
        embeddingNorm = try norm("embeddings.LayerNorm")
        layers = try (0..<d.layerCount).map { l in
            let p = "encoder.layer.\(l)."
            return EncoderLayerWeights(
                query: try linear(p + "attention.self.query", outputs: h, inputs: h),
                key: try linear(p + "attention.self.key", outputs: h, inputs: h),
                value: try linear(p + "attention.self.value", outputs: h, inputs: h),
                attentionOutput: try linear(p + "attention.output.dense", outputs: h, inputs: h),
                attentionNorm: try norm(p + "attention.output.LayerNorm"),
                intermediate: try linear(p + "intermediate.dense", outputs: d.intermediateSize, inputs: h),
                output: try linear(p + "output.dense", outputs: h, inputs: d.intermediateSize),
                outputNorm: try norm(p + "output.LayerNorm"))
        }
    }

    /// Position ids of one sequence as transformers computes them: `0..<n` for BERT; for RoBERTa,
    /// non-padding tokens count up from `padding_idx + 1` and padding tokens sit at `padding_idx`.
    func positionIDs(_ tokens: [Int]) -> [Int] {
        guard let pad = architecture.paddingTokenID else { return Array(0..<tokens.count) }
        var seen = 0
        return tokens.map { id in
            if id == pad { return pad }
            seen += 1
            return pad + seen
        }
    }

    /// Runs the encoder on a batch of token-id sequences of any lengths and returns the last hidden
    /// state of every token.
    public func encode(_ batch: [[Int]]) throws -> EncoderOutput {
        let d = architecture
        for (s, tokens) in batch.enumerated() {
            guard !tokens.isEmpty else {
                throw MixtureError.invalidArgument("sequence \(s) of the batch is empty: an encoder needs at least one token")
            }
            guard tokens.count <= d.maxSequenceLength else {
                throw MixtureError.invalidArgument("sequence \(s) has \(tokens.count) tokens; the model holds at most \(d.maxSequenceLength) (max_position_embeddings \(d.maxPositionEmbeddings))")
            }
            for id in tokens where id < 0 || id >= d.vocabularySize {
                throw MixtureError.invalidArgument("token id \(id) in sequence \(s) is out of range: the vocabulary has \(d.vocabularySize) entries")
            }
        }
        var starts = [0]
        for tokens in batch { starts.append(starts.last! + tokens.count) }
        let total = starts.last!
        let h = d.hiddenSize
        let x = FloatBuffer(count: total * h)
        guard total > 0 else { return EncoderOutput(hiddenStates: x, hiddenSize: h, sequenceStarts: starts) }

        // Embeddings: word + position + token type 0, then LayerNorm.
        let scratch = FloatBuffer(count: h)
        for (s, tokens) in batch.enumerated() {
            for (i, (id, position)) in zip(tokens, positionIDs(tokens)).enumerated() {
                let row = x.row(starts[s] + i, width: h)
                wordEmbeddings.copyRow(id, into: row)
                positionEmbeddings.copyRow(position, into: scratch.pointer)
                axpy(1, scratch.pointer, row, count: h)
                axpy(1, tokenTypeEmbedding, row, count: h)
            }
        }
        layerNorm(x, embeddingNorm, rows: total)

        let context = FloatBuffer(count: total * h)
        let update = FloatBuffer(count: total * h)
        let inner = FloatBuffer(count: total * d.intermediateSize)
        for layer in layers {
            attention(layer, input: x, sequenceStarts: starts, context: context)
            run(layer.attentionOutput, input: context, output: update, rows: total)
            axpy(1, update.pointer, x.pointer, count: total * h)
            layerNorm(x, layer.attentionNorm, rows: total)

            run(layer.intermediate, input: x, output: inner, rows: total)
            activate(inner, count: total * d.intermediateSize)
            run(layer.output, input: inner, output: update, rows: total)
            axpy(1, update.pointer, x.pointer, count: total * h)
            layerNorm(x, layer.outputNorm, rows: total)
        }
        return EncoderOutput(hiddenStates: x, hiddenSize: h, sequenceStarts: starts)
    }

    // MARK: - Attention

    /// Bidirectional scaled dot-product attention within each sequence; writes the heads' mixed values.
    func attention(_ w: EncoderLayerWeights, input: FloatBuffer, sequenceStarts starts: [Int], context: FloatBuffer) {
        let d = architecture
        let h = d.hiddenSize, hd = d.headDimension, heads = d.headCount
        let total = starts.last!
        let q = FloatBuffer(count: total * h), k = FloatBuffer(count: total * h), v = FloatBuffer(count: total * h)
        run([(w.query, q), (w.key, k), (w.value, v)], input: input, rows: total)

        // One (sequence, head) pair per unit of work: the head's keys are transposed once
        // ([dimension][key], keys padded to a multiple of 8) so each query's scores are vector FMAs
        // over eight keys at a time.
        var longest = 0
        for s in 0..<(starts.count - 1) { longest = max(longest, starts[s + 1] - starts[s]) }
        let padded = (longest + 7) / 8 * 8
        let scale = 1 / Float(hd).squareRoot()
        let sequences = starts.count - 1
        Parallel.forRanges(sequences * heads, minimumPerThread: 1) { units in
            let keys = UnsafeMutablePointer<Float>.allocate(capacity: max(1, hd * padded))
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: max(8, padded))
            defer { keys.deallocate(); scores.deallocate() }
            for unit in units {
                let s = unit / heads, head = unit % heads
                let first = starts[s], n = starts[s + 1] - first
                let width = (n + 7) / 8 * 8
                keys.update(repeating: 0, count: hd * width)
                for j in 0..<n {
                    let key = k.row(first + j, width: h) + head * hd
                    for dd in 0..<hd { keys[dd * width + j] = key[dd] }
                }
                for t in first..<(first + n) {
                    let query = q.row(t, width: h) + head * hd
                    var j = 0
                    while j < width {
                        var acc = SIMD8<Float>()
                        for dd in 0..<hd {
                            acc.addProduct(SIMD8<Float>(repeating: query[dd]),
                                           UnsafeRawPointer(keys + dd * width + j).loadUnaligned(as: SIMD8<Float>.self))
                        }
                        UnsafeMutableRawPointer(scores + j).storeBytes(of: acc * scale, as: SIMD8<Float>.self)
                        j += 8
                    }
                    Softmax.inPlace(scores, count: n)
                    // Weighted sum of the values, eight dimensions at a time in a register.
                    let out = context.row(t, width: h) + head * hd
                    let values = v.row(first, width: h) + head * hd
                    var dd = 0
                    while dd + 8 <= hd {
                        var acc = SIMD8<Float>()
                        for j in 0..<n {
                            acc.addProduct(SIMD8<Float>(repeating: scores[j]),
                                           UnsafeRawPointer(values + j * h + dd).loadUnaligned(as: SIMD8<Float>.self))
                        }
                        UnsafeMutableRawPointer(out + dd).storeBytes(of: acc, as: SIMD8<Float>.self)
                        dd += 8
                    }
                    while dd < hd {
                        var acc: Float = 0
                        for j in 0..<n { acc += scores[j] * values[j * h + dd] }
                        out[dd] = acc
                        dd += 1
                    }
                }
            }
        }
    }

    // MARK: - Helpers

    private func run(_ layer: BiasedLinear, input: FloatBuffer, output: FloatBuffer, rows: Int) {
        run([(layer, output)], input: input, rows: rows)
    }

    /// Several layers over the same `rows` of `input`, in one parallel region.
    private func run(_ layers: [(layer: BiasedLinear, output: FloatBuffer)], input: FloatBuffer, rows: Int) {
        Linear.run(layers.map { LinearJob(weight: $0.layer.weight, input: input.pointer, output: $0.output.pointer, tokens: rows) })
        for (layer, output) in layers { output.addToRows(layer.bias, rows: rows) }
    }

    /// LayerNorm of every row, in place.
    private func layerNorm(_ x: FloatBuffer, _ norm: LayerNormWeights, rows: Int) {
        let h = architecture.hiddenSize, eps = architecture.layerNormEpsilon
        norm.weight.withUnsafeBufferPointer { weight in
            norm.bias.withUnsafeBufferPointer { bias in
                Parallel.forRanges(rows, minimumPerThread: 16) { range in
                    for t in range {
                        let row = x.row(t, width: h)
                        Norms.layer(row, weight: weight.baseAddress!, bias: bias.baseAddress!, eps: eps, output: row, count: h)
                    }
                }
            }
        }
    }

    private func activate(_ x: FloatBuffer, count: Int) {
        let activation = architecture.activation
        Parallel.forRanges(count, minimumPerThread: 4096) { range in
            let p = x.pointer
            switch activation {
            case .gelu: Activations.gelu(p + range.lowerBound, count: range.count)
            case .geluTanh: for i in range { p[i] = Self.geluTanh(p[i]) }
            case .relu: for i in range { p[i] = max(0, p[i]) }
            }
        }
    }

    /// GELU's tanh approximation, as `gelu_new` / `gelu_pytorch_tanh`.
    static func geluTanh(_ x: Float) -> Float {
        let inner = 0.797_884_560_802_865_4 * (Double(x) + 0.044715 * Double(x) * Double(x) * Double(x))
        return Float(0.5 * Double(x) * (1 + Foundation.tanh(inner)))
    }
}
