import Foundation

/// The `model` of tokenizer.json: turns one pre-tokenized word into ids.
protocol TokenizerModel: AnyObject {
    func tokenize(_ word: Scalars, into ids: inout [Int]) throws
    func tokenToID(_ token: String) -> Int?
    func idToToken(_ id: Int) -> String?
    /// Number of entries in the model's own vocabulary.
    var vocabularySize: Int { get }
}

enum TokenizerModels {
    static let supported = ["BPE", "Unigram", "WordLevel", "WordPiece"]

    static func parse(_ json: JSONObject) throws -> TokenizerModel {
        // Old files may omit the model type; infer it from its fields as the library does.
        let type: String
        if let declared = try json.string("type") {
            type = declared
        } else if json.has("merges") {
            type = "BPE"
        } else if json.has("unk_id") || json.raw("vocab") is [Any] {
            type = "Unigram"
        } else if json.has("max_input_chars_per_word") || json.has("continuing_subword_prefix") {
            type = "WordPiece"
        } else {
            type = "WordLevel"
        }
        switch type {
        case "BPE": return try BPEModel(json: json)
        case "WordPiece": return try WordPieceModel(json: json)
        case "Unigram": return try UnigramModel(json: json)
        case "WordLevel": return try WordLevelModel(json: json)
        default:
            throw TokenizerError.unsupportedType(json.file, "model", type, supported: supported)
        }
    }

    /// `{"token": id, …}` plus the reverse table.
    static func parseVocabulary(_ json: JSONObject) throws -> (vocabulary: [TokenKey: Int], tokens: TokensByID) {
        guard let raw = json.raw("vocab") else { throw TokenizerError.missingField(json.file, json.fieldPath("vocab")) }
        guard let dictionary = raw as? [String: Any] else { throw json.error("vocab", "expected an object of token → id") }
        var vocabulary = [TokenKey: Int](minimumCapacity: dictionary.count)
        for (token, value) in dictionary {
            guard let id = JSONObject.integer(value), id >= 0 else {
                throw json.error("vocab", "token \(token.debugDescription) has no valid id")
            }
            // The library reads ids as u32 and refuses the file otherwise.
            guard id <= Int(UInt32.max) else {
                throw json.error("vocab", "token \(token.debugDescription) has id \(id), beyond the u32 range of token ids")
            }
            vocabulary[TokenKey(token)] = id
        }
        return (vocabulary, TokensByID(vocabulary))
    }
}

/// Token strings by id: an array for the usual contiguous ids, a dictionary when they are sparse, so
/// that a vocabulary with one huge id costs what it holds rather than what that id would index.
struct TokensByID {
    private let dense: [String?]
    private let sparse: [Int: String]

    init(_ vocabulary: [TokenKey: Int]) {
        let maxID = vocabulary.values.max() ?? -1
        if maxID < 2 * vocabulary.count + 1024 {
            var dense = [String?](repeating: nil, count: maxID + 1)
            for (token, id) in vocabulary { dense[id] = token.string }
            self.dense = dense
            sparse = [:]
        } else {
            dense = []
            var sparse = [Int: String](minimumCapacity: vocabulary.count)
            for (token, id) in vocabulary { sparse[id] = token.string }
            self.sparse = sparse
        }
    }

    /// Token strings indexed by id (as a GGUF vocabulary stores them), duplicates included.
    init(dense: [String?]) {
        self.dense = dense
        sparse = [:]
    }

    subscript(id: Int) -> String? {
        if id >= 0 && id < dense.count { return dense[id] }
        return sparse[id]
    }
}

/// A word as a cache key, hashed and compared as raw memory (much cheaper than hashing the
/// scalars one by one).
struct WordKey: Hashable {
    let scalars: Scalars

    static func == (a: WordKey, b: WordKey) -> Bool {
        a.scalars.count == b.scalars.count && a.scalars.withUnsafeBytes { x in
            b.scalars.withUnsafeBytes { y in memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0 }
        }
    }

    func hash(into hasher: inout Hasher) {
        scalars.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}

/// A bounded per-word cache shared by encode calls; encoding may run on several threads.
final class WordCache {
    private var storage: [WordKey: [Int]] = [:]
    private let lock = NSLock()
    private let capacity: Int

    init(capacity: Int = 20_000) {
        self.capacity = capacity
    }

    func get(_ word: Scalars) -> [Int]? {
        lock.lock()
        defer { lock.unlock() }
        return storage[WordKey(scalars: word)]
    }

    /// Words this long are rare and would only bloat the cache.
    static let maximumWordLength = 256

    func set(_ word: Scalars, _ ids: [Int]) {
        if word.count > WordCache.maximumWordLength { return }
        lock.lock()
        defer { lock.unlock() }
        if storage.count >= capacity { storage.removeAll(keepingCapacity: true) }
        storage[WordKey(scalars: word)] = ids
    }
}

final class WordLevelModel: TokenizerModel {
    let vocabulary: [TokenKey: Int]
    let tokens: TokensByID
    let unknownToken: String?

    init(json: JSONObject) throws {
        (vocabulary, tokens) = try TokenizerModels.parseVocabulary(json)
        unknownToken = try json.string("unk_token")
    }

    var vocabularySize: Int { vocabulary.count }
    func tokenToID(_ token: String) -> Int? { vocabulary[token: token] }
    func idToToken(_ id: Int) -> String? { tokens[id] }

    func tokenize(_ word: Scalars, into ids: inout [Int]) throws {
        if let id = vocabulary[TokenKey(word.string)] {
            ids.append(id)
        } else if let unknownToken, let id = vocabulary[token: unknownToken] {
            ids.append(id)
        } else {
            throw TokenizerError.encoding("WordLevel: \(word.string.debugDescription) is not in the vocabulary and unk_token is missing")
        }
    }
}
