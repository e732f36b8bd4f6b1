/// One entry of `added_tokens` in tokenizer.json.
public struct AddedToken: Equatable, Sendable {
    public let id: Int
    public let content: String
    public let special: Bool
    public let singleWord: Bool
    public let leftStrip: Bool
    public let rightStrip: Bool
    /// Matched in the normalized text rather than the raw input.
    public let normalized: Bool

    init(json: JSONObject) throws {
        guard let id = try json.int("id") else { throw TokenizerError.missingField(json.file, json.fieldPath("id")) }
        guard id >= 0 && id <= Int(UInt32.max) else { throw json.error("id", "\(id) is outside the u32 range of token ids") }
        self.id = id
        content = try json.requiredString("content")
        special = try json.bool("special", default: false)
        singleWord = try json.bool("single_word", default: false)
        leftStrip = try json.bool("lstrip", default: false)
        rightStrip = try json.bool("rstrip", default: false)
        normalized = try json.bool("normalized", default: !special)
    }
}

/// Finds added tokens in text before the model sees it (AddedVocabulary::extract_and_normalize):
/// tokens with `normalized: false` are matched in the raw input, the others in each normalized
/// piece, leftmost-longest, honouring `single_word`, `lstrip` and `rstrip`.
struct AddedVocabulary {
    let tokens: [AddedToken]
    let byID: [Int: AddedToken]
    let byContent: [TokenKey: AddedToken]
    /// The token string an id maps back to: the normalized content for `normalized` tokens (as
    /// the library's `id_to_token` reports it), otherwise the content.
    let decodedContent: [Int: String]
    private let rawMatcher: TokenMatcher
    private let normalizedMatcher: TokenMatcher

    init(tokens: [AddedToken], normalizer: Normalizer?) {
        self.tokens = tokens
        var byID = [Int: AddedToken]()
        var byContent = [TokenKey: AddedToken]()
        for token in tokens {
            byID[token.id] = token
            byContent[TokenKey(token.content)] = token
        }
        self.byID = byID
        self.byContent = byContent
        var decodedContent = [Int: String]()
        for token in tokens {
            if token.normalized, let normalizer {
                decodedContent[token.id] = normalizer.normalize(token.content.scalars).string
            } else {
                decodedContent[token.id] = token.content
            }
        }
        self.decodedContent = decodedContent
        // Like the library, a token's pattern in the normalized set is its normalized content.
        rawMatcher = TokenMatcher(tokens.filter { !$0.normalized }.map { ($0.content.scalars, $0) })
        normalizedMatcher = TokenMatcher(tokens.filter { $0.normalized }.map { token in
            let content = token.content.scalars
            return (normalizer?.normalize(content) ?? content, token)
        })
    }

    func extractAndNormalize(_ text: Scalars, normalizer: Normalizer?) -> [Piece] {
        var pieces = [Piece(text, startsAtOrigin: true)]
        pieces.splitEach { rawMatcher.split($0) }
        pieces.splitEach { piece in
            var piece = piece
            if let normalizer {
                let (normalized, droppedLeading) = normalizer.normalizeReportingLeadingDrop(piece.scalars)
                piece.scalars = normalized
                if droppedLeading { piece.startsAtOrigin = false }
            }
            return normalizedMatcher.split(piece)
        }
        return pieces
    }
}

/// Leftmost-longest matching of a set of token strings (Aho-Corasick `LeftmostLongest`).
struct TokenMatcher {
    private var trie = ScalarTrie()
    private var entries: [AddedToken] = []
    private var firstScalars = Set<UInt32>()

    init(_ patterns: [(Scalars, AddedToken)]) {
        for (pattern, token) in patterns where !pattern.isEmpty {
            entries.append(token)
            trie.insert(pattern, id: entries.count - 1)
            firstScalars.insert(pattern[0].value)
        }
    }

    var isEmpty: Bool { entries.isEmpty }

    func split(_ piece: Piece) -> [Piece] {
        let text = piece.scalars
        if entries.isEmpty || text.isEmpty { return [piece] }
        var result: [Piece] = []
        var consumed = 0
        var position = 0
        while position < text.count {
            guard firstScalars.contains(text[position].value) else {
                position += 1
                continue
            }
            var longest: (end: Int, entry: Int)?
            trie.forEachPrefix(of: text, from: position) { end, entry in longest = (end, entry) }
            guard let found = longest else {
                position += 1
                continue
            }
            let token = entries[found.entry]
            var start = position
            var stop = found.end
            if token.singleWord {
                let startIsBoundary = start == 0 || !TokenMatcher.isWordCharacter(text[start - 1])
                let stopIsBoundary = stop == text.count || !TokenMatcher.isWordCharacter(text[stop])
                if !startIsBoundary || !stopIsBoundary {
                    // Aho-Corasick moves on past the discarded match.
                    position = found.end
                    continue
                }
            }
            if token.leftStrip {
                var newStart = start
                while newStart > 0 && UnicodeCategories.isWhitespace(text[newStart - 1]) { newStart -= 1 }
                start = max(newStart, consumed)
            }
            if token.rightStrip {
                while stop < text.count && UnicodeCategories.isWhitespace(text[stop]) { stop += 1 }
            }
            if consumed < start { result.append(piece.slice(consumed, start)) }
            var tokenPiece = piece.slice(start, stop)
            tokenPiece.addedTokenID = token.id
            result.append(tokenPiece)
            consumed = stop
            position = max(found.end, stop)
        }
        if consumed < text.count { result.append(piece.slice(consumed, text.count)) }
        return result
    }

    /// `\w` of the Rust regex crate, which the library uses for the single-word checks.
    static func isWordCharacter(_ scalar: Unicode.Scalar) -> Bool {
        UnicodeCategories.isRegexCrateWord(scalar)
    }
}
