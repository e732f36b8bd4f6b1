import Foundation
import MixtureCore
import MixtureFormats

/// The tokenizer stored in a GGUF file's `tokenizer.ggml.*` metadata, mapped onto the same pipeline
/// as tokenizer.json with llama.cpp's semantics (llama-vocab.cpp):
///
/// - `gpt2`: byte-level BPE over `tokenizer.ggml.merges`, the text split first by the regexes that
///   llama.cpp runs for `tokenizer.ggml.pre` (each one splits the pieces of the one before, keeping
///   unmatched text as pieces of its own), then mapped to the GPT-2 byte alphabet; `llama-bpe` and
///   the others llama.cpp marks so use a whole-word vocabulary hit before merging (`ignore_merges`).
///   The table of names is generated from llama.cpp's source (`GGUFPreTokenizerTable.swift`).
/// - `llama`: SentencePiece BPE as llama.cpp runs it: spaces become `▁`, a `▁` goes in front when
///   `add_space_prefix` (default true) and the highest-scoring adjacent pair whose concatenation is
///   a token merges first (leftmost on ties); characters outside the vocabulary become `<0xXX>`.
/// - `bert`: WordPiece (greedy longest match, a word with no full match is `[UNK]`) after BERT's
///   clean-up, CJK isolation, accent stripping and lowercasing (`tokenizer.ggml.normalizer.*`,
///   both on by default), `[CLS] … [SEP]`.
///
/// Tokens of type CONTROL, USER_DEFINED and UNKNOWN are matched in the text before the model runs
/// (CONTROL and UNKNOWN only with `parseSpecial`, as llama.cpp's `parse_special`); BOS/EOS are
/// added when `tokenizer.ggml.add_bos_token` / `add_eos_token` say so (llama.cpp's defaults per
/// model and pre-tokenizer otherwise).
public enum GGUFTokenizer {
    /// llama.cpp's token types (`tokenizer.ggml.token_type`).
    enum TokenType: Int {
        case undefined = 0, normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    public static func load(_ file: GGUFFile, parseSpecial: Bool = true) throws -> Tokenizer {
        try load(metadata: file.metadata, path: file.path, parseSpecial: parseSpecial)
    }

    /// The tokenizer of a GGUF file's metadata; `path` names the file in errors.
    public static func load(metadata: [String: GGUFValue], path: String, parseSpecial: Bool = true) throws -> Tokenizer {
        try build(metadata: metadata, path: path, parseSpecial: parseSpecial).tokenizer
    }

    /// What tokenizer.json needs beyond the built pipeline.
    struct Description {
        var model: [String: Any] = [:]
        /// Spelling of each id in the model's vocabulary.
        var vocabulary: [String] = []
        /// BPE merges as the model holds them: (left id << 32 | right id) → (rank << 32 | merged id).
        var merges: [UInt64: UInt64] = [:]
        var normalizer: [String: Any]?
        var preTokenizer: [String: Any]?
        var decoder: [String: Any] = [:]
        var added: [AddedToken] = []
        var prefix: [Int] = []
        var suffix: [Int] = []
        var special: [String: String] = [:]
        var chatTemplate: String?
    }

    static func build(metadata: [String: GGUFValue], path: String, parseSpecial: Bool) throws -> (tokenizer: Tokenizer, description: Description) {
        var description = Description()
        func fail(_ key: String, _ detail: String) -> TokenizerError {
            TokenizerError("\(path): invalid '\(key)': \(detail)")
        }
        // llama.cpp writes "no_vocab" (older files "none") for a model without a vocabulary.
        guard let model = metadata["tokenizer.ggml.model"]?.string, model != "no_vocab", model != "none",
              let tokenValues = metadata["tokenizer.ggml.tokens"]?.array else {
            throw TokenizerError("\(path): no tokenizer inside the file (no 'tokenizer.ggml.model' with 'tokenizer.ggml.tokens'); pass --tokenizer with the model's tokenizer.json")
        }
        var tokens: [String] = []
        tokens.reserveCapacity(tokenValues.count)
        for (id, value) in tokenValues.enumerated() {
            guard let token = value.string else { throw fail("tokenizer.ggml.tokens", "item \(id) is not a string") }
            tokens.append(token)
        }
        guard !tokens.isEmpty, tokens.count <= Int(UInt32.max) else {
            throw fail("tokenizer.ggml.tokens", "\(tokens.count) tokens")
        }
        var types = [TokenType](repeating: .normal, count: tokens.count)
        if let typeValues = metadata["tokenizer.ggml.token_type"]?.array {
            guard typeValues.count == tokens.count else {
                throw fail("tokenizer.ggml.token_type", "\(typeValues.count) types for \(tokens.count) tokens")
            }
            for (id, value) in typeValues.enumerated() {
                guard let raw = value.integer, let type = TokenType(rawValue: raw) else {
                    throw fail("tokenizer.ggml.token_type", "item \(id) is not a token type 0-6")
                }
                types[id] = type
            }
        }
        // llama.cpp's rule: a default outside the vocabulary is dropped; the file's id replaces the
        // default when it lies inside the vocabulary, and is ignored (default kept) otherwise.
        func special(_ key: String, _ fallback: Int?) throws -> Int? {
            let base = fallback.flatMap { $0 >= 0 && $0 < tokens.count ? $0 : nil }
            guard let value = metadata[key] else { return base }
            guard let id = value.integer else { throw fail(key, "expected an integer") }
            return id >= 0 && id < tokens.count ? id : base
        }
        func flag(_ key: String, _ fallback: Bool) throws -> Bool {
            guard let value = metadata[key] else { return fallback }
            guard let bool = value.bool else { throw fail(key, "expected a bool") }
            return bool
        }

        var vocabulary = [TokenKey: Int](minimumCapacity: tokens.count)
        // llama.cpp's token_to_id keeps the last id of a repeated string.
        for (id, token) in tokens.enumerated() { vocabulary[TokenKey(token)] = id }
        let byID = TokensByID(dense: tokens)

        let normalizer: Normalizer?
        let preTokenizer: PreTokenizer?
        let decoder: TokenDecoder
        let tokenModel: TokenizerModel
        var defaultBOS: Int?
        var defaultEOS: Int?
        var defaultUnknown: Int?
        var addBOSDefault: Bool
        var addSEPDefault = false
        var noBOSToken = false
        var defaultSEP: Int?
        func object(_ storage: [String: Any]) -> JSONObject { JSONObject(file: path, path: "", storage: storage) }
        var bpeMerges: [UInt64: UInt64] = [:]
        description.vocabulary = tokens

        switch model {
        case "gpt2":
            let pre = metadata["tokenizer.ggml.pre"]?.string ?? "default"
            guard let split = preTokenizerRules[pre] else {
                if let reason = unsupportedPreTokenizers.first(where: { $0.hasPrefix(pre + " (") }) {
                    throw TokenizerError("\(path): 'tokenizer.ggml.pre' \(reason.debugDescription) is not supported yet")
                }
                throw TokenizerError("\(path): unknown 'tokenizer.ggml.pre' \(pre.debugDescription): llama.cpp does not know it either (known: \(preTokenizerRules.keys.sorted().joined(separator: ", ")))")
            }
            guard let mergeValues = metadata["tokenizer.ggml.merges"]?.array else {
                throw TokenizerError("\(path): missing 'tokenizer.ggml.merges' (a gpt2 tokenizer needs its merges)")
            }
            var merges = [UInt64: UInt64](minimumCapacity: mergeValues.count)
            for (rank, value) in mergeValues.enumerated() {
                guard let line = value.string else { throw fail("tokenizer.ggml.merges", "item \(rank) is not a string") }
                // llama.cpp splits at the first space after the first byte.
                let bytes = Array(line.utf8)
                guard bytes.count > 1, let space = bytes[1...].firstIndex(of: 0x20) else { continue }
                let left = String(decoding: bytes[..<space], as: UTF8.self)
                let right = String(decoding: bytes[(space + 1)...], as: UTF8.self)
                // llama.cpp ranks pairs without checking them; a pair outside the vocabulary never applies.
                guard let leftID = vocabulary[token: left], let rightID = vocabulary[token: right],
                      let mergedID = vocabulary[token: left + right] else { continue }
                let key = UInt64(leftID) << 32 | UInt64(rightID)
                if merges[key] == nil { merges[key] = UInt64(rank) << 32 | UInt64(mergedID) }
            }
            tokenModel = BPEModel(vocabulary: vocabulary, tokens: byID, merges: merges, unknownToken: nil,
                           fuseUnknown: false, byteFallback: false, ignoreMerges: split.ignoreMerges)
            bpeMerges = merges
            description.model = ["type": "BPE", "fuse_unk": false, "byte_fallback": false, "ignore_merges": split.ignoreMerges]
            normalizer = nil
            var stages: [[String: Any]] = split.regexes.map {
                ["type": "Split", "pattern": ["Regex": $0], "behavior": "Isolated", "invert": false]
            }
            stages.append(["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false])
            description.preTokenizer = ["type": "Sequence", "pretokenizers": stages]
            description.decoder = ["type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true]
            preTokenizer = try PreTokenizers.parse(object(description.preTokenizer!))
            decoder = try Decoders.parse(object(description.decoder))
            defaultBOS = 11
            defaultEOS = 11
            addBOSDefault = split.addBOS
            addSEPDefault = split.addSEP
            noBOSToken = split.noBOSToken
        case "llama":
            guard let scoreValues = metadata["tokenizer.ggml.scores"]?.array, scoreValues.count == tokens.count else {
                throw fail("tokenizer.ggml.scores", "a llama tokenizer needs one score per token")
            }
            var scores = [Float](repeating: 0, count: tokens.count)
            for (id, value) in scoreValues.enumerated() {
                guard let score = value.number else { throw fail("tokenizer.ggml.scores", "item \(id) is not a number") }
                scores[id] = Float(score)
            }
            bpeMerges = sentencePieceMerges(tokens, scores, vocabulary)
            let unknownID = try special("tokenizer.ggml.unknown_token_id", 0)
            tokenModel = BPEModel(vocabulary: vocabulary, tokens: byID, merges: bpeMerges,
                                  unknownToken: unknownID.map { tokens[$0] }, fuseUnknown: true, byteFallback: true,
                                  ignoreMerges: false)
            description.model = ["type": "BPE", "fuse_unk": true, "byte_fallback": true, "ignore_merges": false]
            if let unknownID { description.model["unk_token"] = tokens[unknownID] }
            let addSpacePrefix = try flag("tokenizer.ggml.add_space_prefix", true)
            var steps: [[String: Any]] = []
            if addSpacePrefix { steps.append(["type": "Prepend", "prepend": "▁"]) }
            steps.append(["type": "Replace", "pattern": ["String": " "], "content": "▁"])
            description.normalizer = ["type": "Sequence", "normalizers": steps]
            normalizer = try Normalizers.parse(object(description.normalizer!))
            preTokenizer = nil
            var decoders: [[String: Any]] = [["type": "Replace", "pattern": ["String": "▁"], "content": " "],
                                             ["type": "ByteFallback"], ["type": "Fuse"]]
            if addSpacePrefix { decoders.append(["type": "Strip", "content": " ", "start": 1, "stop": 0]) }
            description.decoder = ["type": "Sequence", "decoders": decoders]
            decoder = try Decoders.parse(object(description.decoder))
            defaultBOS = 1
            defaultEOS = 2
            defaultUnknown = 0
            addBOSDefault = true
        case "bert":
            // llama.cpp's converter stores a word-initial piece as "▁piece" and a continuation
            // without "##"; WordPiece gets its usual spelling back ([…] tokens stay as they are).
            var wordPiece = [TokenKey: Int](minimumCapacity: tokens.count)
            var spelled = [String?](repeating: nil, count: tokens.count)
            for (id, token) in tokens.enumerated() {
                let name: String
                if token.hasPrefix("\u{2581}") {
                    name = String(token.unicodeScalars.dropFirst().map(Character.init))
                } else if token.hasPrefix("[") && token.hasSuffix("]") || types[id] == .control || types[id] == .unknown {
                    name = token
                } else {
                    name = "##" + token
                }
                wordPiece[TokenKey(name)] = id
                spelled[id] = name
            }
            description.vocabulary = spelled.map { $0! }
            let unknownID = try special("tokenizer.ggml.unknown_token_id", 100)
            tokenModel = WordPieceModel(vocabulary: wordPiece, tokens: TokensByID(dense: spelled),
                                        unknownToken: unknownID.flatMap { spelled[$0] } ?? "[UNK]",
                                        continuingSubwordPrefix: "##", maxInputCharsPerWord: Int.max)
            let lowercase = try flag("tokenizer.ggml.normalizer.lowercase", true)
            let stripAccents = try flag("tokenizer.ggml.normalizer.strip_accents", lowercase)
            description.model = ["type": "WordPiece", "unk_token": unknownID.flatMap { spelled[$0] } ?? "[UNK]",
                                 "continuing_subword_prefix": "##", "max_input_chars_per_word": 1 << 30]
            description.normalizer = ["type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                                      "strip_accents": stripAccents, "lowercase": lowercase]
            description.preTokenizer = ["type": "BertPreTokenizer"]
            description.decoder = ["type": "WordPiece", "prefix": "##", "cleanup": true]
            normalizer = try Normalizers.parse(object(description.normalizer!))
            preTokenizer = try PreTokenizers.parse(object(description.preTokenizer!))
            decoder = try Decoders.parse(object(description.decoder))
            defaultBOS = 101
            defaultUnknown = 100
            defaultSEP = 102
            addBOSDefault = true
            addSEPDefault = true
        default:
            throw TokenizerError("\(path): unsupported 'tokenizer.ggml.model' \(model.debugDescription) (supported: gpt2, llama, bert)")
        }

        // chatglm-bpe/glm4 default to no BOS; a BOS id in the file still counts.
        let bos = try special("tokenizer.ggml.bos_token_id", noBOSToken ? nil : defaultBOS)
        let eos = try special("tokenizer.ggml.eos_token_id", defaultEOS)
        let unknown = try special("tokenizer.ggml.unknown_token_id", defaultUnknown)
        let pad = try special("tokenizer.ggml.padding_token_id", nil)
        let addBOS = try flag("tokenizer.ggml.add_bos_token", addBOSDefault)
        let addEOS = try flag("tokenizer.ggml.add_eos_token", false)
        let sep = try special("tokenizer.ggml.seperator_token_id", defaultSEP)
        let addSEP = try flag("tokenizer.ggml.add_sep_token", addSEPDefault)

        var added: [AddedToken] = []
        for (id, type) in types.enumerated() {
            let special: Bool
            switch type {
            case .control, .unknown: special = true
            case .userDefined: special = false
            default: continue
            }
            if special && !parseSpecial { continue }
            added.append(try AddedToken(json: object(["id": id, "content": tokens[id], "special": special,
                                                      "normalized": false])))
        }
        let post = BOSEOSProcessing(prefix: addBOS ? bos.map { [$0] } ?? [] : [],
                                    suffix: (addEOS ? eos.map { [$0] } ?? [] : []) + (addSEP ? sep.map { [$0] } ?? [] : []))
        description.added = added
        description.prefix = post.prefix
        description.suffix = post.suffix
        for (key, id) in [("bos_token", bos), ("eos_token", eos), ("unk_token", unknown), ("pad_token", pad), ("sep_token", sep)] {
            if let id { description.special[key] = tokens[id] }
        }
        description.chatTemplate = metadata["tokenizer.chat_template"]?.string
        description.merges = bpeMerges
        let tokenizer = Tokenizer(normalizer: normalizer, preTokenizer: preTokenizer, model: tokenModel,
                         postProcessor: post.addedTokenCount > 0 ? post : nil, decoder: decoder,
                         addedVocabulary: AddedVocabulary(tokens: added, normalizer: normalizer),
                         truncation: nil, padding: nil,
                         bosToken: bos.map { tokens[$0] }, eosToken: eos.map { tokens[$0] },
                         unknownToken: unknown.map { tokens[$0] }, padToken: pad.map { tokens[$0] })
        return (tokenizer, description)
    }

    /// SentencePiece BPE as merges: every split of every token into two tokens is a pair, ranked by
    /// the token's score (higher first; equal scores share a rank, so the leftmost pair wins, as in
    /// llama.cpp's bigram queue).
    static func sentencePieceMerges(_ tokens: [String], _ scores: [Float], _ vocabulary: [TokenKey: Int]) -> [UInt64: UInt64] {
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        var rankOf = [Int](repeating: 0, count: tokens.count)
        var rank = 0
        for (position, id) in order.enumerated() {
            if position > 0 && scores[id] != scores[order[position - 1]] { rank += 1 }
            rankOf[id] = rank
        }
        var merges = [UInt64: UInt64]()
        for (id, token) in tokens.enumerated() {
            let scalars = Array(token.unicodeScalars)
            guard scalars.count > 1 else { continue }
            for cut in 1..<scalars.count {
                guard let left = vocabulary[TokenKey(scalars[..<cut])],
                      let right = vocabulary[TokenKey(scalars[cut...])] else { continue }
                // The concatenation is looked up as a string, as llama.cpp does: the last id of a
                // repeated token string is the one a merge produces.
                guard let merged = vocabulary[TokenKey(token)], merged == id else { continue }
                let key = UInt64(left) << 32 | UInt64(right)
                let value = UInt64(rankOf[merged]) << 32 | UInt64(merged)
                if let existing = merges[key], existing <= value { continue }
                merges[key] = value
            }
        }
        return merges
    }
}

/// BOS before and EOS after the sequence, as llama.cpp's `add_special`.
struct BOSEOSProcessing: PostProcessor {
    let prefix: [Int]
    let suffix: [Int]

    func process(_ ids: [Int]) -> [Int] { prefix + ids + suffix }
    var addedTokenCount: Int { prefix.count + suffix.count }
}

extension GGUFTokenizer {
    /// `tokenizer.json` and `tokenizer_config.json` for the tokenizer in a GGUF file's metadata, in
    /// the tokenizers library's format (it loads them and encodes as this pipeline does), the chat
    /// template carried over. Nil when the file holds no tokenizer.
    public static func huggingFaceFiles(metadata: [String: GGUFValue], path: String) throws -> [String: Data]? {
        guard let model = metadata["tokenizer.ggml.model"]?.string, model != "no_vocab", model != "none",
              metadata["tokenizer.ggml.tokens"] != nil else { return nil }
        let d = try build(metadata: metadata, path: path, parseSpecial: true).description

        var out = "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":["
        out += d.added.map { token in
            "{\"id\":\(token.id),\"content\":\(token.content.jsonQuoted),\"single_word\":false,\"lstrip\":false,"
                + "\"rstrip\":false,\"normalized\":false,\"special\":\(token.special)}"
        }.joined(separator: ",")
        out += "],\"normalizer\":" + (try d.normalizer.map(jsonValue) ?? "null")
        out += ",\"pre_tokenizer\":" + (try d.preTokenizer.map(jsonValue) ?? "null")
        out += ",\"post_processor\":" + (try postProcessor(d).map(jsonValue) ?? "null")
        out += ",\"decoder\":" + (try jsonValue(d.decoder))
        // The model object by hand: the vocabulary keeps every spelling byte for byte and in id order
        // (a Swift dictionary would merge canonically equivalent keys).
        var modelJSON = try jsonValue(d.model)
        modelJSON.removeLast()
        var seen = Set<String>()
        var vocabulary: [String] = []
        vocabulary.reserveCapacity(d.vocabulary.count)
        // Later ids win for a repeated spelling, as in the loader; write each spelling once.
        var lastID = [String: Int]()
        for (id, token) in d.vocabulary.enumerated() { lastID[token.jsonQuoted] = id }
        for (id, token) in d.vocabulary.enumerated() {
            let key = token.jsonQuoted
            guard lastID[key] == id, seen.insert(key).inserted else { continue }
            vocabulary.append("\(key):\(id)")
        }
        modelJSON += ",\"vocab\":{" + vocabulary.joined(separator: ",") + "}"
        if d.model["type"] as? String == "BPE" {
            let pairs = d.merges.sorted { $0.value < $1.value }.map { key, _ in
                (d.vocabulary[Int(key >> 32)], d.vocabulary[Int(key & 0xFFFF_FFFF)])
            }
            modelJSON += ",\"merges\":[" + pairs.map { "[\($0.0.jsonQuoted),\($0.1.jsonQuoted)]" }.joined(separator: ",") + "]"
        }
        out += ",\"model\":" + modelJSON + "}}"

        var config: [String: Any] = ["tokenizer_class": "PreTrainedTokenizerFast", "clean_up_tokenization_spaces": false,
                                     "model_max_length": 1_000_000_000_000_000_000 as Int]
        for (key, value) in d.special { config[key] = value }
        if let template = d.chatTemplate { config["chat_template"] = template }
        config["add_bos_token"] = !d.prefix.isEmpty
        let configData = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return ["tokenizer.json": Data(out.utf8), "tokenizer_config.json": configData]
    }

    /// TemplateProcessing for the BOS/EOS/SEP that the file asks for.
    static func postProcessor(_ d: Description) -> [String: Any]? {
        guard !d.prefix.isEmpty || !d.suffix.isEmpty else { return nil }
        var specials: [String: Any] = [:]
        func item(_ id: Int) -> [String: Any] {
            let name = d.vocabulary[id]
            specials[name] = ["id": name, "ids": [id], "tokens": [name]]
            return ["SpecialToken": ["id": name, "type_id": 0]]
        }
        let single = d.prefix.map(item) + [["Sequence": ["id": "A", "type_id": 0]]] + d.suffix.map(item)
        let pair = single + [["Sequence": ["id": "B", "type_id": 1]]] + d.suffix.map(item)
        return ["type": "TemplateProcessing", "single": single, "pair": pair, "special_tokens": specials]
    }

    static func jsonValue(_ value: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes]),
               as: UTF8.self)
    }
}
