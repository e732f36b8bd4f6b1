/// The `decoder` of tokenizer.json (named apart from `Swift.Decoder`): turns the tokens of a
/// sequence back into text. Each decoder maps a list of token strings to a new list (the
/// library's `decode_chain`); the results are concatenated at the end.
protocol TokenDecoder {
    func decodeChain(_ tokens: [String]) -> [String]
}

enum Decoders {
    static let supported = ["BPEDecoder", "ByteFallback", "ByteLevel", "CTC", "Fuse", "Metaspace", "Replace", "Sequence",
                            "Strip", "WordPiece"]

    static func parse(_ json: JSONObject) throws -> TokenDecoder {
        let type = try json.type()
        switch type {
        case "Sequence":
            return SequenceDecoder(decoders: try json.objects("decoders").map(parse))
        case "ByteLevel":
            return ByteLevelDecoder()
        case "Metaspace":
            let replacement = (try json.string("replacement") ?? "▁")
            guard replacement.unicodeScalars.count == 1 else { throw json.error("replacement", "expected a single character") }
            return MetaspaceDecoder(replacement: replacement,
                                    prependScheme: try MetaspacePreTokenizer.prependScheme(json))
        case "WordPiece":
            return WordPieceDecoder(prefix: try json.string("prefix") ?? "##", cleanup: try json.bool("cleanup", default: true))
        case "ByteFallback":
            return ByteFallbackDecoder()
        case "Fuse":
            return FuseDecoder()
        case "Strip":
            let content = try json.requiredString("content")
            guard content.unicodeScalars.count == 1 else { throw json.error("content", "expected a single character") }
            return StripDecoder(content: content.unicodeScalars.first!, start: try json.int("start") ?? 0,
                                stop: try json.int("stop") ?? 0)
        case "Replace":
            return ReplaceDecoder(pattern: try SplitPattern.parse(json, "pattern"), content: try json.requiredString("content"))
        case "BPEDecoder":
            return BPEDecoder(suffix: try json.string("suffix") ?? "</w>")
        case "CTC":
            return CTCDecoder(padToken: try json.string("pad_token") ?? "<pad>",
                              wordDelimiterToken: try json.string("word_delimiter_token") ?? "|",
                              cleanup: try json.bool("cleanup", default: true))
        default:
            throw TokenizerError.unsupportedType(json.file, "decoder", type, supported: supported)
        }
    }
}

struct SequenceDecoder: TokenDecoder {
    let decoders: [TokenDecoder]

    func decodeChain(_ tokens: [String]) -> [String] {
        decoders.reduce(tokens) { $1.decodeChain($0) }
    }
}

/// Maps the byte-level scalars back to bytes and decodes them as (lossy) UTF-8. A token holding a
/// scalar outside the table (an added token, say) contributes its own UTF-8 bytes.
struct ByteLevelDecoder: TokenDecoder {
    func decodeChain(_ tokens: [String]) -> [String] {
        var bytes: [UInt8] = []
        let table = ByteLevelTable.scalarToByte
        for token in tokens {
            let start = bytes.count
            var mapped = true
            for scalar in token.unicodeScalars {
                guard let byte = table[scalar.value] else {
                    mapped = false
                    break
                }
                bytes.append(byte)
            }
            if !mapped {
                bytes.removeSubrange(start...)
                bytes.append(contentsOf: token.utf8)
            }
        }
        return [String(decoding: bytes, as: UTF8.self)]
    }
}

struct MetaspaceDecoder: TokenDecoder {
    let replacement: String
    let prependScheme: MetaspacePreTokenizer.PrependScheme

    func decodeChain(_ tokens: [String]) -> [String] {
        let replacementScalar = replacement.unicodeScalars.first!
        return tokens.enumerated().map { index, token in
            var output = String.UnicodeScalarView()
            for scalar in token.unicodeScalars {
                if scalar == replacementScalar {
                    if index == 0 && prependScheme != .never { continue }
                    output.append(" ")
                } else {
                    output.append(scalar)
                }
            }
            return String(output)
        }
    }
}

struct WordPieceDecoder: TokenDecoder {
    let prefix: String
    let cleanup: Bool

    func decodeChain(_ tokens: [String]) -> [String] {
        tokens.enumerated().map { index, token in
            var token = token
            if index != 0 {
                // Compare scalars: `##` followed by a combining mark is one grapheme.
                if token.unicodeScalars.starts(with: prefix.unicodeScalars) {
                    token = String(String.UnicodeScalarView(token.unicodeScalars.dropFirst(prefix.unicodeScalars.count)))
                } else {
                    token = " " + token
                }
            }
            return cleanup ? WordPieceDecoder.cleanup(token) : token
        }
    }

    /// Undoes BERT's spacing around punctuation and contractions.
    static func cleanup(_ text: String) -> String {
        text.replacingAll(" .", with: ".")
            .replacingAll(" ?", with: "?")
            .replacingAll(" !", with: "!")
            .replacingAll(" ,", with: ",")
            .replacingAll(" ' ", with: "'")
            .replacingAll(" n't", with: "n't")
            .replacingAll(" 'm", with: "'m")
            .replacingAll(" do not", with: " don't")
            .replacingAll(" 's", with: "'s")
            .replacingAll(" 've", with: "'ve")
            .replacingAll(" 're", with: "'re")
    }
}

/// `<0xE6><0x97><0xA5>` byte tokens are joined into text; an invalid run becomes one U+FFFD per byte.
struct ByteFallbackDecoder: TokenDecoder {
    func decodeChain(_ tokens: [String]) -> [String] {
        var output: [String] = []
        output.reserveCapacity(tokens.count)
        var pending: [UInt8] = []
        func flush() {
            guard !pending.isEmpty else { return }
            if let text = String(validatingUTF8Bytes: pending) {
                output.append(text)
            } else {
                for _ in pending { output.append("\u{FFFD}") }
            }
            pending.removeAll()
        }
        for token in tokens {
            if let byte = ByteFallbackDecoder.byte(of: token) {
                pending.append(byte)
            } else {
                flush()
                output.append(token)
            }
        }
        flush()
        return output
    }

    static func byte(of token: String) -> UInt8? {
        let utf8 = Array(token.utf8)
        guard utf8.count == 6, utf8[0] == UInt8(ascii: "<"), utf8[1] == UInt8(ascii: "0"), utf8[2] == UInt8(ascii: "x"),
              utf8[5] == UInt8(ascii: ">") else { return nil }
        return UInt8(String(decoding: utf8[3..<5], as: UTF8.self), radix: 16)
    }
}

struct FuseDecoder: TokenDecoder {
    func decodeChain(_ tokens: [String]) -> [String] {
        [tokens.joined()]
    }
}

/// Removes up to `start` leading and `stop` trailing `content` characters from each token.
struct StripDecoder: TokenDecoder {
    let content: Unicode.Scalar
    let start: Int
    let stop: Int

    func decodeChain(_ tokens: [String]) -> [String] {
        tokens.map { token in
            let scalars = Array(token.unicodeScalars)
            var startCut = 0
            for index in 0..<min(start, scalars.count) {
                if scalars[index] == content { startCut = index + 1 } else { break }
            }
            var stopCut = scalars.count
            for offset in 0..<min(stop, scalars.count) {
                let index = scalars.count - offset - 1
                if scalars[index] == content { stopCut = index } else { break }
            }
            return stopCut > startCut ? scalars[startCut..<stopCut].string : ""
        }
    }
}

struct ReplaceDecoder: TokenDecoder {
    let pattern: SplitPattern
    let content: String

    func decodeChain(_ tokens: [String]) -> [String] {
        let normalizer = ReplaceNormalizer(pattern: pattern, content: content.scalars)
        return tokens.map { normalizer.normalize($0.scalars).string }
    }
}

/// Original BPE word-end marker: `</w>` becomes a space, except on the last token.
struct BPEDecoder: TokenDecoder {
    let suffix: String

    func decodeChain(_ tokens: [String]) -> [String] {
        tokens.enumerated().map { index, token in
            token.replacingAll(suffix, with: index == tokens.count - 1 ? "" : " ")
        }
    }
}

/// Connectionist temporal classification output: repeated tokens collapse, padding disappears.
struct CTCDecoder: TokenDecoder {
    let padToken: String
    let wordDelimiterToken: String
    let cleanup: Bool

    func decodeChain(_ tokens: [String]) -> [String] {
        var output: [String] = []
        var previous: String?
        for token in tokens {
            defer { previous = token }
            if let previous, token.utf8.elementsEqual(previous.utf8) { continue }
            var replaced = token.replacingAll(padToken, with: "")
            if cleanup {
                replaced = WordPieceDecoder.cleanup(replaced).replacingAll(wordDelimiterToken, with: " ")
            }
            if !replaced.isEmpty { output.append(replaced) }
        }
        return output
    }
}

extension String {
    /// Replaces every non-overlapping occurrence, scanning by Unicode scalars (not graphemes, so a
    /// pattern never fails to match inside a combining sequence).
    func replacingAll(_ target: String, with replacement: String) -> String {
        if target.isEmpty { return self }
        let text = Array(unicodeScalars)
        let needle = Array(target.unicodeScalars)
        guard text.count >= needle.count else { return self }
        var output = String.UnicodeScalarView()
        var position = 0
        var found = false
        while position < text.count {
            if position + needle.count <= text.count && text[position] == needle[0]
                && text[position..<position + needle.count].elementsEqual(needle) {
                output.append(contentsOf: replacement.unicodeScalars)
                position += needle.count
                found = true
            } else {
                output.append(text[position])
                position += 1
            }
        }
        return found ? String(output) : self
    }

    init?(validatingUTF8Bytes bytes: [UInt8]) {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var scalars = String.UnicodeScalarView()
        loop: while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): scalars.append(scalar)
            case .emptyInput: break loop
            case .error: return nil
            }
        }
        self = String(scalars)
    }
}
