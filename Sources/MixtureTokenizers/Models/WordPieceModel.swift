/// BERT's WordPiece: greedy longest-match-first; continuation pieces carry `##`; a word with any
/// unmatched remainder becomes a single `unk_token`.
final class WordPieceModel: TokenizerModel {
    let vocabulary: [TokenKey: Int]
    let tokens: TokensByID
    let unknownToken: String
    let continuingSubwordPrefix: String
    let maxInputCharsPerWord: Int
    private let cache = WordCache()
    /// Every token, for matches at the start of a word.
    private let initialTrie: ScalarTrie
    /// Tokens starting with the prefix, prefix removed, for matches inside a word.
    private let continuationTrie: ScalarTrie

    convenience init(json: JSONObject) throws {
        let (vocabulary, tokens) = try TokenizerModels.parseVocabulary(json)
        self.init(vocabulary: vocabulary, tokens: tokens, unknownToken: try json.string("unk_token") ?? "[UNK]",
                  continuingSubwordPrefix: try json.string("continuing_subword_prefix") ?? "##",
                  maxInputCharsPerWord: try json.int("max_input_chars_per_word") ?? 100)
    }

    init(vocabulary: [TokenKey: Int], tokens: TokensByID, unknownToken: String, continuingSubwordPrefix: String,
         maxInputCharsPerWord: Int) {
        self.vocabulary = vocabulary
        self.tokens = tokens
        self.unknownToken = unknownToken
        self.continuingSubwordPrefix = continuingSubwordPrefix
        self.maxInputCharsPerWord = maxInputCharsPerWord
        var initialTrie = ScalarTrie()
        var continuationTrie = ScalarTrie()
        let prefix = Array(continuingSubwordPrefix.unicodeScalars)
        for (token, id) in vocabulary {
            let scalars = Array(token.string.unicodeScalars)
            initialTrie.insert(scalars, id: id)
            if scalars.count > prefix.count && scalars.starts(with: prefix) {
                continuationTrie.insert(Array(scalars[prefix.count...]), id: id)
            }
        }
        self.initialTrie = initialTrie
        self.continuationTrie = continuationTrie
    }

    var vocabularySize: Int { vocabulary.count }
    func tokenToID(_ token: String) -> Int? { vocabulary[token: token] }
    func idToToken(_ id: Int) -> String? { tokens[id] }

    func tokenize(_ word: Scalars, into ids: inout [Int]) throws {
        if word.isEmpty { return }
        if let cached = cache.get(word) {
            ids.append(contentsOf: cached)
            return
        }
        let result = try pieces(word)
        cache.set(word, result)
        ids.append(contentsOf: result)
    }

    private func pieces(_ word: Scalars) throws -> [Int] {
        guard let unknownID = vocabulary[token: unknownToken] else {
            throw TokenizerError.encoding("WordPiece unk_token \(unknownToken.debugDescription) is not in the vocabulary")
        }
        if word.count > maxInputCharsPerWord { return [unknownID] }
        // Greedy longest match first: the longest vocabulary entry starting here (a walk down a
        // trie finds it in one pass instead of trying every shorter substring).
        var result: [Int] = []
        var start = 0
        while start < word.count {
            var longest: (end: Int, id: Int)?
            (start == 0 ? initialTrie : continuationTrie).forEachPrefix(of: word, from: start) { end, id in
                longest = (end, id)
            }
            guard let match = longest else { return [unknownID] }
            result.append(match.id)
            start = match.end
        }
        return result
    }
}
