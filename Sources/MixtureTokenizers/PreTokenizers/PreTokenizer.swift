import MixtureCore
/// The `pre_tokenizer` of tokenizer.json: splits normalized text into the words the model sees.
protocol PreTokenizer {
    func preTokenize(_ pieces: inout [Piece])
}

enum PreTokenizers {
    static let supported = ["BertPreTokenizer", "ByteLevel", "CharDelimiterSplit", "Digits", "Metaspace", "Punctuation",
                            "Sequence", "Split", "Whitespace", "WhitespaceSplit"]

    static func parse(_ json: JSONObject) throws -> PreTokenizer {
        let type = try json.type()
        switch type {
        case "Sequence":
            return SequencePreTokenizer(preTokenizers: try json.objects("pretokenizers").map(parse))
        case "ByteLevel":
            return ByteLevelPreTokenizer(addPrefixSpace: try json.bool("add_prefix_space", default: true),
                                         useRegex: try json.bool("use_regex", default: true))
        case "Split":
            return SplitPreTokenizer(pattern: try SplitPattern.parse(json, "pattern"),
                                     behavior: try SplitDelimiterBehavior.parse(json, "behavior"),
                                     invert: try json.bool("invert", default: false))
        case "Metaspace":
            return try MetaspacePreTokenizer(json: json)
        case "BertPreTokenizer":
            return BertPreTokenizer()
        case "Whitespace":
            return WhitespacePreTokenizer()
        case "WhitespaceSplit":
            return WhitespaceSplitPreTokenizer()
        case "Punctuation":
            let behavior = json.has("behavior") ? try SplitDelimiterBehavior.parse(json, "behavior") : .isolated
            return PunctuationPreTokenizer(behavior: behavior)
        case "Digits":
            return DigitsPreTokenizer(individualDigits: try json.bool("individual_digits", default: false))
        case "CharDelimiterSplit":
            let delimiter = try json.requiredString("delimiter").scalars
            guard delimiter.count == 1 else { throw json.error("delimiter", "expected a single character") }
            return CharDelimiterSplitPreTokenizer(delimiter: delimiter[0])
        default:
            throw TokenizerError.unsupportedType(json.file, "pre_tokenizer", type, supported: supported)
        }
    }
}

struct SequencePreTokenizer: PreTokenizer {
    let preTokenizers: [PreTokenizer]

    func preTokenize(_ pieces: inout [Piece]) {
        for preTokenizer in preTokenizers { preTokenizer.preTokenize(&pieces) }
    }
}

struct SplitPreTokenizer: PreTokenizer {
    let pattern: SplitPattern
    let behavior: SplitDelimiterBehavior
    let invert: Bool

    func preTokenize(_ pieces: inout [Piece]) {
        pieces.splitEach { pattern.split($0, behavior: behavior, invert: invert) }
    }
}

/// GPT-2's byte-level pre-tokenizer: optional leading space, the GPT-2 split regex, then every
/// UTF-8 byte mapped to a printable scalar.
struct ByteLevelPreTokenizer: PreTokenizer {
    static let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    static let gpt2Regex = SplitPattern.regex(try! TokenizerRegex(gpt2Pattern))

    let addPrefixSpace: Bool
    let useRegex: Bool

    func preTokenize(_ pieces: inout [Piece]) {
        pieces.splitEach { piece in
            var piece = piece
            if addPrefixSpace && piece.scalars.first != " " {
                piece.scalars.insert(" ", at: 0)
            }
            return useRegex ? ByteLevelPreTokenizer.gpt2Regex.split(piece, behavior: .isolated) : [piece]
        }
        for index in pieces.indices where pieces[index].addedTokenID == nil {
            pieces[index].scalars = ByteLevelPreTokenizer.mapToByteLevel(pieces[index].scalars)
        }
    }

    static func mapToByteLevel(_ text: Scalars) -> Scalars {
        let table = ByteLevelTable.byteToScalar
        var output = Scalars()
        output.reserveCapacity(text.count)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(4)
        for scalar in text {
            if scalar.value < 0x80 {
                output.append(table[Int(scalar.value)])
                continue
            }
            bytes.removeAll(keepingCapacity: true)
            scalar.appendUTF8(to: &bytes)
            for byte in bytes { output.append(table[Int(byte)]) }
        }
        return output
    }
}

/// SentencePiece-style: spaces become `▁`, a `▁` is prepended per `prepend_scheme`, and with
/// `split` every `▁` starts a new word.
struct MetaspacePreTokenizer: PreTokenizer {
    enum PrependScheme: String { case always, first, never }

    let replacement: Unicode.Scalar
    let prependScheme: PrependScheme
    let split: Bool

    init(replacement: Unicode.Scalar, prependScheme: PrependScheme, split: Bool) {
        self.replacement = replacement
        self.prependScheme = prependScheme
        self.split = split
    }

    init(json: JSONObject) throws {
        let replacement = (try json.string("replacement") ?? "▁").scalars
        guard replacement.count == 1 else { throw json.error("replacement", "expected a single character") }
        self.replacement = replacement[0]
        self.prependScheme = try MetaspacePreTokenizer.prependScheme(json)
        self.split = try json.bool("split", default: true)
    }

    /// `prepend_scheme`, or the legacy `add_prefix_space` flag.
    static func prependScheme(_ json: JSONObject) throws -> PrependScheme {
        if let name = try json.string("prepend_scheme") {
            guard let scheme = PrependScheme(rawValue: name) else {
                throw json.error("prepend_scheme", "unknown scheme '\(name)' (supported: always, first, never)")
            }
            return scheme
        }
        return try json.bool("add_prefix_space", default: true) ? .always : .never
    }

    func preTokenize(_ pieces: inout [Piece]) {
        let delimiter = SplitPattern.string([replacement])
        pieces.splitEach { piece in
            var piece = piece
            for index in piece.scalars.indices where piece.scalars[index] == " " {
                piece.scalars[index] = replacement
            }
            let startsWithReplacement = piece.scalars.first == replacement
            switch prependScheme {
            case .always:
                if !startsWithReplacement { piece.scalars.insert(replacement, at: 0) }
            case .first:
                if !startsWithReplacement && piece.startsAtOrigin { piece.scalars.insert(replacement, at: 0) }
            case .never:
                break
            }
            return split ? delimiter.split(piece, behavior: .mergedWithNext) : [piece]
        }
    }
}

/// BERT's BasicTokenizer splitting: on whitespace (removed), then on punctuation (isolated).
struct BertPreTokenizer: PreTokenizer {
    static let whitespace = SplitPattern.predicate(UnicodeCategories.isWhitespace)
    static let punctuation = SplitPattern.predicate(UnicodeCategories.isBertPunctuation)

    func preTokenize(_ pieces: inout [Piece]) {
        pieces.splitEach { BertPreTokenizer.whitespace.split($0, behavior: .removed) }
        pieces.splitEach { BertPreTokenizer.punctuation.split($0, behavior: .isolated) }
    }
}

/// `\w+|[^\w\s]+`, keeping the matches. The library compiles this one with the Rust regex crate,
/// whose `\w` includes Join_Control (ZWJ), unlike Oniguruma's.
struct WhitespacePreTokenizer: PreTokenizer {
    func preTokenize(_ pieces: inout [Piece]) {
        pieces.splitEach { piece in
            var result: [Piece] = []
            let text = piece.scalars
            var position = 0
            while position < text.count {
                let scalar = text[position]
                if UnicodeCategories.isWhitespace(scalar) {
                    position += 1
                    continue
                }
                let isWord = UnicodeCategories.isRegexCrateWord(scalar)
                var end = position + 1
                while end < text.count {
                    let next = text[end]
                    if isWord ? !UnicodeCategories.isRegexCrateWord(next)
                              : (UnicodeCategories.isRegexCrateWord(next) || UnicodeCategories.isWhitespace(next)) {
                        break
                    }
                    end += 1
                }
                result.append(piece.slice(position, end))
                position = end
            }
            return result
        }
    }
}

struct WhitespaceSplitPreTokenizer: PreTokenizer {
    func preTokenize(_ pieces: inout [Piece]) {
        pieces.splitEach { BertPreTokenizer.whitespace.split($0, behavior: .removed) }
    }
}

struct PunctuationPreTokenizer: PreTokenizer {
    let behavior: SplitDelimiterBehavior

    func preTokenize(_ pieces: inout [Piece]) {
        pieces.splitEach { BertPreTokenizer.punctuation.split($0, behavior: behavior) }
    }
}

struct DigitsPreTokenizer: PreTokenizer {
    static let numeric = SplitPattern.predicate(UnicodeCategories.isNumeric)
    let individualDigits: Bool

    func preTokenize(_ pieces: inout [Piece]) {
        let behavior: SplitDelimiterBehavior = individualDigits ? .isolated : .contiguous
        pieces.splitEach { DigitsPreTokenizer.numeric.split($0, behavior: behavior) }
    }
}

struct CharDelimiterSplitPreTokenizer: PreTokenizer {
    let delimiter: Unicode.Scalar

    func preTokenize(_ pieces: inout [Piece]) {
        let pattern = SplitPattern.string([delimiter])
        pieces.splitEach { pattern.split($0, behavior: .removed) }
    }
}
