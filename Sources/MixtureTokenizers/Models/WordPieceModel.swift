/// BERT's WordPiece: greedy longest-match-first; continuation pieces carry `##`; a word with any
/// unmatched remainder becomes a single `unk_token`.
final class WordPieceModel: TokenizerModel {
    let vocabulary: [TokenKey: Int]
    let tokens: [String?]
    let unknownToken: String
    let continuingSubwordPrefix: String
    let maxInputCharsPerWord: Int
    private let cache = WordCache()

    init(json: JSONObject) throws {
        (vocabulary, tokens) = try TokenizerModels.parseVocabulary(json)
        unknownToken = try json.string("unk_token") ?? "[UNK]"
        continuingSubwordPrefix = try json.string("continuing_subword_prefix") ?? "##"
        maxInputCharsPerWord = try json.int("max_input_chars_per_word") ?? 100
    }

    var vocabularySize: Int { vocabulary.count }
    func tokenToID(_ token: String) -> Int? { vocabulary[token: token] }
    func idToToken(_ id: Int) -> String? { id >= 0 && id < tokens.count ? tokens[id] : nil }

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
        var result: [Int] = []
        var start = 0
        while start < word.count {
            var end = word.count
            var found: Int?
            while start < end {
                var candidate = word[start..<end].string
                if start > 0 { candidate = continuingSubwordPrefix + candidate }
                if let id = vocabulary[token: candidate] {
                    found = id
                    break
                }
                end -= 1
            }
            guard let id = found else { return [unknownID] }
            result.append(id)
            start = end
        }
        return result
    }
}
