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
    /// `tokenizer.ggml.pre` names and the regexes llama.cpp splits with, in order.
    static func preTokenizerRegexes(_ pre: String) -> (regexes: [String], ignoreMerges: Bool, addBOS: Bool)? {
        let gpt2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
        let llama3 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
        let qwen2 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
        let qwen35 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
        switch pre {
        case "default":
            return (["[\\p{P}\\$\\+<=>\\^~\\|]+", gpt2, "\\p{N}+", "[0-9][0-9][0-9]"], false, false)
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2":
            return ([llama3], true, true)
        case "dbrx", "smaug-bpe":
            return ([llama3], false, false)
        case "deepseek-llm":
            return (["[\r\n]",
                     "\\s?[A-Za-z\u{B5}\u{C0}-\u{D6}\u{D8}-\u{F6}\u{F8}-\u{1BA}\u{1BC}-\u{1BF}\u{1C4}-\u{293}\u{295}-\u{2AF}\u{370}-\u{373}\u{376}\u{377}\u{37B}-\u{37D}\u{37F}\u{386}\u{388}-\u{38A}\u{38C}\u{38E}-\u{3A1}\u{3A3}-\u{3F5}\u{3F7}-\u{481}\u{48A}-\u{52F}\u{531}-\u{556}\u{10A0}-\u{10C5}\u{13A0}-\u{13F5}\u{13F8}-\u{13FD}\u{1C90}-\u{1CBA}\u{1CBD}-\u{1CBF}\u{1D00}-\u{1D2B}\u{1D6B}-\u{1D77}\u{1D79}-\u{1D9A}\u{1E00}-\u{1F15}\u{1F18}-\u{1F1D}\u{1F20}-\u{1F45}\u{1F48}-\u{1F4D}\u{1F50}-\u{1F57}\u{1F59}\u{1F5B}\u{1F5D}\u{1F5F}-\u{1F7D}\u{1F80}-\u{1FB4}\u{1FB6}-\u{1FBC}\u{1FBE}\u{1FC2}-\u{1FC4}\u{1FC6}-\u{1FCC}\u{1FD0}-\u{1FD3}\u{1FD6}-\u{1FDB}\u{1FE0}-\u{1FEC}\u{1FF2}-\u{1FF4}\u{1FF6}-\u{1FFC}\u{2102}\u{2107}\u{210A}-\u{2113}\u{2115}\u{2119}-\u{211D}\u{2124}\u{2126}\u{2128}\u{212A}-\u{212D}\u{212F}-\u{2134}\u{2139}\u{213C}-\u{213F}\u{2145}-\u{2149}\u{214E}\u{2183}\u{2184}\u{2C00}-\u{2C7B}\u{2C7E}-\u{2CE4}\u{2CEB}-\u{2CEE}\u{2CF2}\u{2CF3}\u{A640}-\u{A66D}\u{A680}-\u{A69B}\u{A722}-\u{A76F}\u{A771}-\u{A787}\u{A78B}-\u{A78E}\u{AB70}-\u{ABBF}\u{FB00}-\u{FB06}\u{FB13}-\u{FB17}\u{FF21}-\u{FF3A}\u{FF41}-\u{FF5A}\u{10400}-\u{1044F}\u{104B0}-\u{104D3}\u{104D8}-\u{104FB}\u{10C80}-\u{10CB2}\u{10CC0}-\u{10CF2}\u{118A0}-\u{118DF}\u{1E900}-\u{1E943}]+",
                     "\\s?[!-/:-~\u{FF01}-\u{FF0F}\u{FF1A}-\u{FF5E}\u{2018}-\u{201F}\u{3000}-\u{3002}]+",
                     "\\s+$",
                     "[\u{4E00}-\u{9FA5}\u{800}-\u{4E00}\u{AC00}-\u{D7FF}]+",
                     "\\p{N}+"], false, false)
        case "deepseek-coder":
            return (["[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[\u{4E00}-\u{9FA5}\u{800}-\u{4E00}\u{AC00}-\u{D7FF}]+", "\\p{N}"], false, false)
        case "deepseek-v3":
            return (["\\p{N}{1,3}", "[\u{4E00}-\u{9FA5}\u{3040}-\u{309F}\u{30A0}-\u{30FF}]+",
                     "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"],
                    false, false)
        case "falcon":
            return (["[\\p{P}\\$\\+<=>\\^~\\|`]+", gpt2, "[0-9][0-9][0-9]"], false, false)
        case "starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b":
            return (["\\p{N}", gpt2], false, false)
        case "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum",
             "mpt", "olmo", "jais", "trillion", "granite-docling", "modern-bert":
            return ([gpt2], false, false)
        case "qwen2", "deepseek-r1-qwen", "stablelm2", "hunyuan", "kormo":
            return ([qwen2], false, false)
        case "qwen35":
            return ([qwen35], false, false)
        default:
            return nil
        }
    }

    static let supportedPreTokenizers = ["default", "llama-bpe", "llama3", "dbrx", "smaug-bpe", "deepseek-llm",
                                         "deepseek-coder", "deepseek-v3", "falcon", "starcoder", "refact",
                                         "command-r", "smollm", "gpt-2", "mpt", "olmo", "qwen2", "qwen35",
                                         "stablelm2"]

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
        /// (left, right) pairs in rank order, for BPE.
        var merges: [(String, String)] = []
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
        func tokenID(_ key: String) throws -> Int? {
            guard let value = metadata[key] else { return nil }
            guard let id = value.integer else { throw fail(key, "expected an integer") }
            // llama.cpp treats an id outside the vocabulary as absent (-1 is common for "none").
            return id >= 0 && id < tokens.count ? id : nil
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
        var defaultSEP: Int?
        func object(_ storage: [String: Any]) -> JSONObject { JSONObject(file: path, path: "", storage: storage) }
        var bpeMerges: [UInt64: UInt64] = [:]
        description.vocabulary = tokens

        switch model {
        case "gpt2":
            let pre = metadata["tokenizer.ggml.pre"]?.string ?? "default"
            guard let split = preTokenizerRegexes(pre) else {
                throw TokenizerError("\(path): unsupported 'tokenizer.ggml.pre' \(pre.debugDescription) (supported: \(supportedPreTokenizers.joined(separator: ", ")))")
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
            let unknownID = try metadata["tokenizer.ggml.unknown_token_id"] == nil ? (tokens.count > 0 ? 0 : nil)
                : tokenID("tokenizer.ggml.unknown_token_id")
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
            let unknownID = try metadata["tokenizer.ggml.unknown_token_id"] == nil ? (100 < tokens.count ? 100 : nil)
                : tokenID("tokenizer.ggml.unknown_token_id")
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

        let bos = try metadata["tokenizer.ggml.bos_token_id"] == nil ? defaultBOS.flatMap { $0 < tokens.count ? $0 : nil }
            : tokenID("tokenizer.ggml.bos_token_id")
        let eos = try metadata["tokenizer.ggml.eos_token_id"] == nil ? defaultEOS.flatMap { $0 < tokens.count ? $0 : nil }
            : tokenID("tokenizer.ggml.eos_token_id")
        let unknown = try metadata["tokenizer.ggml.unknown_token_id"] == nil ? defaultUnknown.flatMap { $0 < tokens.count ? $0 : nil }
            : tokenID("tokenizer.ggml.unknown_token_id")
        let pad = try tokenID("tokenizer.ggml.padding_token_id")
        let addBOS = try flag("tokenizer.ggml.add_bos_token", addBOSDefault)
        let addEOS = try flag("tokenizer.ggml.add_eos_token", false)
        let sep = try metadata["tokenizer.ggml.seperator_token_id"] == nil ? defaultSEP.flatMap { $0 < tokens.count ? $0 : nil }
            : tokenID("tokenizer.ggml.seperator_token_id")
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
        description.merges = bpeMerges.sorted { $0.value < $1.value }.map { key, _ in
            (description.vocabulary[Int(key >> 32)], description.vocabulary[Int(key & 0xFFFF_FFFF)])
        }
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
            "{\"id\":\(token.id),\"content\":\(jsonString(token.content)),\"single_word\":false,\"lstrip\":false,"
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
        for (id, token) in d.vocabulary.enumerated() { lastID[jsonString(token)] = id }
        for (id, token) in d.vocabulary.enumerated() {
            let key = jsonString(token)
            guard lastID[key] == id, seen.insert(key).inserted else { continue }
            vocabulary.append("\(key):\(id)")
        }
        modelJSON += ",\"vocab\":{" + vocabulary.joined(separator: ",") + "}"
        if d.model["type"] as? String == "BPE" {
            modelJSON += ",\"merges\":[" + d.merges.map { "[\(jsonString($0.0)),\(jsonString($0.1))]" }.joined(separator: ",") + "]"
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

    /// A JSON string literal: quotes, backslashes and control characters escaped, the rest as UTF-8.
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
