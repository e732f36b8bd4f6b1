import Foundation
import MixtureFormats

/// A Hugging Face `tokenizer.json` pipeline: added tokens → normalizer → pre-tokenizer → model →
/// post-processor, and the decoder for the way back. Encoding is token-for-token identical to the
/// `tokenizers` library for the components it supports; any other component is a load error.
///
/// Thread-safe: the only mutable state is the per-word caches, which are locked.
public final class Tokenizer: @unchecked Sendable {
    let normalizer: Normalizer?
    let preTokenizer: PreTokenizer?
    let model: TokenizerModel
    let postProcessor: PostProcessor?
    let decoder: TokenDecoder?
    let addedVocabulary: AddedVocabulary
    let truncation: Truncation?
    let padding: Padding?

    /// `added_tokens`, special or not, in file order.
    public var addedTokens: [AddedToken] { addedVocabulary.tokens }

    /// Special tokens named by tokenizer_config.json, when it was present.
    public let bosToken: String?
    public let eosToken: String?
    public let unknownToken: String?
    public let padToken: String?

    public var bosTokenID: Int? { bosToken.flatMap(tokenID) }
    public var eosTokenID: Int? { eosToken.flatMap(tokenID) }
    public var unknownTokenID: Int? { unknownToken.flatMap(tokenID) }
    public var padTokenID: Int? { padToken.flatMap(tokenID) }

    /// Loads `tokenizer.json` from a file, or from a model folder that holds it; a
    /// `tokenizer_config.json` beside it supplies the named special tokens. A GGUF file gives the
    /// tokenizer in its metadata (see `GGUFTokenizer`).
    public static func load(from url: URL) throws -> Tokenizer {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw TokenizerError.fileNotFound(url.path)
        }
        if !isDirectory.boolValue, GGUFFile.hasMagic(url) {
            return try GGUFTokenizer.load(GGUFFile(path: url.path))
        }
        let tokenizerURL = isDirectory.boolValue ? url.appendingPathComponent("tokenizer.json") : url
        guard FileManager.default.fileExists(atPath: tokenizerURL.path) else {
            throw TokenizerError.fileNotFound(url.path)
        }
        let configURL = tokenizerURL.deletingLastPathComponent().appendingPathComponent("tokenizer_config.json")
        let data: Data
        do {
            data = try Data(contentsOf: tokenizerURL)
        } catch {
            throw TokenizerError.unreadable(tokenizerURL.path, error.localizedDescription)
        }
        var configData: Data?
        if FileManager.default.fileExists(atPath: configURL.path) {
            do {
                configData = try Data(contentsOf: configURL)
            } catch {
                throw TokenizerError.unreadable(configURL.path, error.localizedDescription)
            }
        }
        return try Tokenizer(tokenizerJSON: data, tokenizerConfigJSON: configData, fileName: tokenizerURL.path,
                             configFileName: configURL.path)
    }

    /// Builds a tokenizer from the contents of tokenizer.json (and optionally tokenizer_config.json).
    public convenience init(tokenizerJSON: Data, tokenizerConfigJSON: Data? = nil, fileName: String = "tokenizer.json",
                            configFileName: String = "tokenizer_config.json") throws {
        let json = try JSONObject.parse(data: tokenizerJSON, file: fileName)
        let normalizer = try json.object("normalizer").map(Normalizers.parse)
        let added = json.has("added_tokens") ? try json.objects("added_tokens").map(AddedToken.init) : []
        var special: [String?] = [nil, nil, nil, nil]
        if let tokenizerConfigJSON {
            let config = try JSONObject.parse(data: tokenizerConfigJSON, file: configFileName)
            for (index, key) in ["bos_token", "eos_token", "unk_token", "pad_token"].enumerated() {
                special[index] = try Tokenizer.specialTokenName(config, key)
            }
        }
        self.init(normalizer: normalizer,
                  preTokenizer: try json.object("pre_tokenizer").map(PreTokenizers.parse),
                  model: try TokenizerModels.parse(try json.requiredObject("model")),
                  postProcessor: try json.object("post_processor").map(PostProcessors.parse),
                  decoder: try json.object("decoder").map(Decoders.parse),
                  addedVocabulary: AddedVocabulary(tokens: added, normalizer: normalizer),
                  truncation: try json.object("truncation").map(Truncation.init),
                  padding: try json.object("padding").map(Padding.init),
                  bosToken: special[0], eosToken: special[1], unknownToken: special[2], padToken: special[3])
    }

    init(normalizer: Normalizer?, preTokenizer: PreTokenizer?, model: TokenizerModel, postProcessor: PostProcessor?,
         decoder: TokenDecoder?, addedVocabulary: AddedVocabulary, truncation: Truncation?, padding: Padding?,
         bosToken: String?, eosToken: String?, unknownToken: String?, padToken: String?) {
        self.normalizer = normalizer
        self.preTokenizer = preTokenizer
        self.model = model
        self.postProcessor = postProcessor
        self.decoder = decoder
        self.addedVocabulary = addedVocabulary
        self.truncation = truncation
        self.padding = padding
        self.bosToken = bosToken
        self.eosToken = eosToken
        self.unknownToken = unknownToken
        self.padToken = padToken
    }

    private convenience init(copying other: Tokenizer, truncation: Truncation?, padding: Padding?) {
        self.init(normalizer: other.normalizer, preTokenizer: other.preTokenizer, model: other.model,
                  postProcessor: other.postProcessor, decoder: other.decoder, addedVocabulary: other.addedVocabulary,
                  truncation: truncation, padding: padding, bosToken: other.bosToken, eosToken: other.eosToken,
                  unknownToken: other.unknownToken, padToken: other.padToken)
    }

    /// The same tokenizer without the `truncation` and `padding` of its tokenizer.json (as the
    /// library's `no_truncation()` / `no_padding()`), sharing its vocabulary and caches. Prefer
    /// this to editing the JSON: re-serializing with Foundation rounds Unigram scores.
    public func withoutTruncationOrPadding() -> Tokenizer {
        Tokenizer(copying: self, truncation: nil, padding: nil)
    }

    /// `max_length` of the tokenizer.json truncation, if any.
    public var truncationMaxLength: Int? { truncation?.maxLength }

    /// A special token in tokenizer_config.json: a string or an AddedToken object.
    private static func specialTokenName(_ config: JSONObject, _ key: String) throws -> String? {
        guard let value = config.raw(key) else { return nil }
        if let name = value as? String { return name }
        if let object = value as? [String: Any], let content = object["content"] as? String { return content }
        throw config.error(key, "expected a string or {\"content\": …}")
    }

    /// Token ids of `text`; with `addSpecialTokens` the post-processor's template (e.g. BOS) is
    /// applied, and truncation/padding from tokenizer.json as the library applies them.
    public func encode(_ text: String, addSpecialTokens: Bool = true) throws -> [Int] {
        var pieces = addedVocabulary.extractAndNormalize(text.scalars, normalizer: normalizer)
        preTokenizer?.preTokenize(&pieces)
        var ids: [Int] = []
        ids.reserveCapacity(text.utf8.count / 3 + 4)
        for piece in pieces {
            if let id = piece.addedTokenID {
                ids.append(id)
            } else {
                try model.tokenize(piece.scalars, into: &ids)
            }
        }
        if let truncation {
            let added = addSpecialTokens ? (postProcessor?.addedTokenCount ?? 0) : 0
            ids = truncation.truncate(ids, addedTokenCount: added)
        }
        if addSpecialTokens, let postProcessor {
            ids = postProcessor.process(ids)
        }
        if let padding {
            ids = padding.pad(ids)
        }
        return ids
    }

    /// The words the model sees for `text` (after added-token extraction, normalization and
    /// pre-tokenization); added tokens appear with their content.
    public func preTokenize(_ text: String) -> [String] {
        var pieces = addedVocabulary.extractAndNormalize(text.scalars, normalizer: normalizer)
        preTokenizer?.preTokenize(&pieces)
        return pieces.map { $0.scalars.string }
    }

    /// Text of `ids`; unknown ids are skipped, special tokens too unless `skipSpecialTokens` is false.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = true) -> String {
        var tokens: [String] = []
        tokens.reserveCapacity(ids.count)
        for id in ids {
            if let token = decodedToken(id, skipSpecialTokens: skipSpecialTokens) { tokens.append(token) }
        }
        guard let decoder else { return tokens.joined(separator: " ") }
        return decoder.decodeChain(tokens).joined()
    }

    /// The token string `decode` passes to the decoder for `id`, or nil when `decode` drops it.
    func decodedToken(_ id: Int, skipSpecialTokens: Bool) -> String? {
        if let added = addedVocabulary.byID[id] {
            if skipSpecialTokens && added.special { return nil }
            return addedVocabulary.decodedContent[id] ?? added.content
        }
        guard let token = model.idToToken(id) else { return nil }
        if skipSpecialTokens, let added = addedVocabulary.byContent[token: token], added.special { return nil }
        return token
    }

    /// The id of a token string (added tokens first, then the model vocabulary).
    public func tokenID(_ token: String) -> Int? {
        addedVocabulary.byContent[token: token]?.id ?? model.tokenToID(token)
    }

    /// The token string of an id, as stored in the vocabulary (e.g. `Ġworld`, `▁the`, `##ing`).
    public func token(forID id: Int) -> String? {
        addedVocabulary.decodedContent[id] ?? model.idToToken(id)
    }

    public func isSpecialToken(_ id: Int) -> Bool {
        addedVocabulary.byID[id]?.special ?? false
    }

    /// Size of the vocabulary including added tokens (the library's `get_vocab_size(true)`).
    public var vocabularySize: Int {
        var size = model.vocabularySize
        for token in addedVocabulary.tokens where model.idToToken(token.id) == nil { size += 1 }
        return size
    }

    /// A detokenizer for generation that emits text as soon as it is complete UTF-8.
    public func streamingDetokenizer(skipSpecialTokens: Bool = true) -> StreamingDetokenizer {
        StreamingDetokenizer(tokenizer: self, skipSpecialTokens: skipSpecialTokens)
    }
}

/// `truncation` of tokenizer.json, for single sequences.
struct Truncation {
    let maxLength: Int
    let fromLeft: Bool

    init(json: JSONObject) throws {
        guard let maxLength = try json.int("max_length") else {
            throw TokenizerError.missingField(json.file, json.fieldPath("max_length"))
        }
        self.maxLength = maxLength
        fromLeft = try json.string("direction") == "Left"
    }

    func truncate(_ ids: [Int], addedTokenCount: Int) -> [Int] {
        let total = ids.count + addedTokenCount
        guard total > maxLength else { return ids }
        let keep = max(0, ids.count - (total - maxLength))
        return fromLeft ? Array(ids.suffix(keep)) : Array(ids.prefix(keep))
    }
}

/// `padding` of tokenizer.json: `Fixed` length, or `BatchLongest` (a single sequence is its own
/// longest), optionally rounded up to `pad_to_multiple_of`.
struct Padding {
    let fixedLength: Int?
    let multiple: Int?
    let padID: Int
    let padLeft: Bool

    init(json: JSONObject) throws {
        // `"BatchLongest"` or `{"Fixed": n}`.
        if json.raw("strategy") is String {
            fixedLength = nil
        } else if let strategy = try json.object("strategy") {
            fixedLength = try strategy.int("Fixed")
        } else {
            fixedLength = nil
        }
        multiple = try json.int("pad_to_multiple_of")
        padID = try json.int("pad_id") ?? 0
        padLeft = try json.string("direction") == "Left"
    }

    func pad(_ ids: [Int]) -> [Int] {
        var target = fixedLength ?? ids.count
        if let multiple, multiple > 0, target % multiple != 0 { target += multiple - target % multiple }
        guard ids.count < target else { return ids }
        let filler = [Int](repeating: padID, count: target - ids.count)
        return padLeft ? filler + ids : ids + filler
    }
}
