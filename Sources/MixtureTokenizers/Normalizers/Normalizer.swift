import Foundation

/// The `normalizer` of tokenizer.json: rewrites text before pre-tokenization.
protocol Normalizer {
    func normalize(_ text: Scalars) -> Scalars
    /// Also reports whether the text's first scalar was removed, so the result no longer starts at
    /// the original offset 0 (Metaspace `prepend_scheme: first` checks that offset).
    func normalizeReportingLeadingDrop(_ text: Scalars) -> (Scalars, droppedLeading: Bool)
}

extension Normalizer {
    func normalizeReportingLeadingDrop(_ text: Scalars) -> (Scalars, droppedLeading: Bool) {
        (normalize(text), false)
    }
}

enum Normalizers {
    static let supported = ["BertNormalizer", "ByteLevel", "Lowercase", "NFC", "NFD", "NFKC", "NFKD", "Nmt", "Precompiled",
                            "Prepend", "Replace", "Sequence", "Strip", "StripAccents"]

    static func parse(_ json: JSONObject) throws -> Normalizer {
        let type = try json.type()
        switch type {
        case "Sequence":
            return SequenceNormalizer(normalizers: try json.objects("normalizers").map(parse))
        case "NFC": return UnicodeNormalizer(form: .nfc)
        case "NFD": return UnicodeNormalizer(form: .nfd)
        case "NFKC": return UnicodeNormalizer(form: .nfkc)
        case "NFKD": return UnicodeNormalizer(form: .nfkd)
        case "Lowercase": return LowercaseNormalizer()
        case "StripAccents": return StripAccentsNormalizer()
        case "Strip":
            return StripNormalizer(stripLeft: try json.bool("strip_left", default: true),
                                   stripRight: try json.bool("strip_right", default: true))
        case "Prepend":
            return PrependNormalizer(prepend: try json.requiredString("prepend").scalars)
        case "Replace":
            return ReplaceNormalizer(pattern: try SplitPattern.parse(json, "pattern"),
                                     content: try json.requiredString("content").scalars)
        case "BertNormalizer":
            let lowercase = try json.bool("lowercase", default: true)
            return BertNormalizer(cleanText: try json.bool("clean_text", default: true),
                                  handleChineseChars: try json.bool("handle_chinese_chars", default: true),
                                  stripAccents: try json.bool("strip_accents") ?? lowercase,
                                  lowercase: lowercase)
        case "Nmt": return NmtNormalizer()
        case "ByteLevel": return ByteLevelNormalizer()
        case "Precompiled":
            return try PrecompiledNormalizer(json: json)
        default:
            throw TokenizerError.unsupportedType(json.file, "normalizer", type, supported: supported)
        }
    }
}

struct SequenceNormalizer: Normalizer {
    let normalizers: [Normalizer]

    func normalizeReportingLeadingDrop(_ text: Scalars) -> (Scalars, droppedLeading: Bool) {
        var text = text
        var dropped = false
        for normalizer in normalizers {
            let result = normalizer.normalizeReportingLeadingDrop(text)
            text = result.0
            dropped = dropped || result.droppedLeading
        }
        return (text, dropped)
    }

    func normalize(_ text: Scalars) -> Scalars {
        var text = text
        for normalizer in normalizers { text = normalizer.normalize(text) }
        return text
    }
}

/// NFC, NFD, NFKC and NFKD (ASCII text is invariant under all four).
///
/// Composition uses the standard library's NFC: Foundation's composition on Linux truncates
/// supplementary-plane starters to 16 bits (U+10041 + U+0301 became "Á"). Decomposition uses
/// Foundation followed by an explicit canonical reordering, which Foundation skips after some
/// compatibility decompositions (U+1FCE U+0323).
struct UnicodeNormalizer: Normalizer {
    enum Form { case nfc, nfd, nfkc, nfkd }
    let form: Form

    func normalize(_ text: Scalars) -> Scalars {
        if text.allSatisfy({ $0.isASCII }) { return text }
        let isNew = { (scalar: Unicode.Scalar) in
            !scalar.isASCII && ScalarProperties.info(scalar) & ScalarProperties.newerThanNormalizationTablesFlag != 0
        }
        guard text.contains(where: isNew) else { return UnicodeNormalizer.apply(form, text.string).scalars }
        // Scalars newer than the reference's tables pass through; the text around them is
        // normalized on its own.
        var output = Scalars()
        output.reserveCapacity(text.count)
        var segmentStart = 0
        for index in text.indices where isNew(text[index]) {
            if segmentStart < index {
                output.append(contentsOf: UnicodeNormalizer.apply(form, text[segmentStart..<index].string).unicodeScalars)
            }
            output.append(text[index])
            segmentStart = index + 1
        }
        if segmentStart < text.count {
            output.append(contentsOf: UnicodeNormalizer.apply(form, text[segmentStart...].string).unicodeScalars)
        }
        return output
    }

    static func apply(_ form: Form, _ string: String) -> String {
        switch form {
        case .nfc: return composed(string)
        case .nfd: return reordered(string.decomposedStringWithCanonicalMapping)
        case .nfkc: return composed(string.decomposedStringWithCompatibilityMapping)
        case .nfkd: return reordered(string.decomposedStringWithCompatibilityMapping)
        }
    }

    /// Canonical ordering: each run of non-starters stably sorted by combining class.
    private static func reordered(_ string: String) -> String {
        var scalars = Array(string.unicodeScalars)
        var changed = false
        var index = 0
        while index < scalars.count {
            guard scalars[index].properties.canonicalCombiningClass.rawValue != 0 else {
                index += 1
                continue
            }
            var end = index + 1
            while end < scalars.count && scalars[end].properties.canonicalCombiningClass.rawValue != 0 { end += 1 }
            if end - index > 1 {
                let run = scalars[index..<end].enumerated().sorted {
                    let a = $0.element.properties.canonicalCombiningClass.rawValue
                    let b = $1.element.properties.canonicalCombiningClass.rawValue
                    return a != b ? a < b : $0.offset < $1.offset
                }.map(\.element)
                if !run.elementsEqual(scalars[index..<end]) {
                    scalars.replaceSubrange(index..<end, with: run)
                    changed = true
                }
            }
            index = end
        }
        return changed ? scalars.string : string
    }

    private static func composed(_ string: String) -> String {
        String(decoding: string._nfcCodeUnits, as: UTF8.self)
    }
}

struct LowercaseNormalizer: Normalizer {
    func normalize(_ text: Scalars) -> Scalars {
        var output = Scalars()
        output.reserveCapacity(text.count)
        for scalar in text { UnicodeCategories.appendLowercase(scalar, to: &output) }
        return output
    }
}

/// Removes combining marks (Mn, Mc, Me); meant to follow NFD/NFKD.
struct StripAccentsNormalizer: Normalizer {
    func normalizeReportingLeadingDrop(_ text: Scalars) -> (Scalars, droppedLeading: Bool) {
        (normalize(text), text.first.map { !$0.isASCII && UnicodeCategories.isMark($0) } ?? false)
    }
    func normalize(_ text: Scalars) -> Scalars {
        text.filter { $0.isASCII || !UnicodeCategories.isMark($0) }
    }
}

struct StripNormalizer: Normalizer {
    let stripLeft: Bool
    let stripRight: Bool

    func normalizeReportingLeadingDrop(_ text: Scalars) -> (Scalars, droppedLeading: Bool) {
        (normalize(text), stripLeft && text.first.map(UnicodeCategories.isWhitespace) ?? false)
    }

    func normalize(_ text: Scalars) -> Scalars {
        var start = 0
        var end = text.count
        if stripLeft { while start < end && UnicodeCategories.isWhitespace(text[start]) { start += 1 } }
        if stripRight { while end > start && UnicodeCategories.isWhitespace(text[end - 1]) { end -= 1 } }
        return Array(text[start..<end])
    }
}

struct PrependNormalizer: Normalizer {
    let prepend: Scalars

    func normalize(_ text: Scalars) -> Scalars {
        text.isEmpty ? text : prepend + text
    }
}

struct ReplaceNormalizer: Normalizer {
    let pattern: SplitPattern
    let content: Scalars

    func normalizeReportingLeadingDrop(_ text: Scalars) -> (Scalars, droppedLeading: Bool) {
        guard content.isEmpty else { return (normalize(text), false) }
        let ranges = pattern.findMatches(text)
        return (normalize(text), ranges.first.map { $0.isMatch && $0.end > $0.start } ?? false)
    }

    func normalize(_ text: Scalars) -> Scalars {
        var output = Scalars()
        output.reserveCapacity(text.count)
        for range in pattern.findMatches(text) {
            if range.isMatch {
                output.append(contentsOf: content)
            } else {
                output.append(contentsOf: text[range.start..<range.end])
            }
        }
        return output
    }
}

/// BERT's BasicTokenizer cleaning: control characters dropped, whitespace unified, CJK ideographs
/// padded with spaces, accents stripped, lowercased, in that order.
struct BertNormalizer: Normalizer {
    let cleanText: Bool
    let handleChineseChars: Bool
    let stripAccents: Bool
    let lowercase: Bool

    func normalizeReportingLeadingDrop(_ text: Scalars) -> (Scalars, droppedLeading: Bool) {
        guard let first = text.first else { return (text, false) }
        var dropped = false
        if cleanText && first != "\t" && first != "\n" && first != "\r"
            && (first.value == 0 || first.value == 0xFFFD || UnicodeCategories.isOther(first)) {
            dropped = true
        }
        if stripAccents && UnicodeCategories.isNonspacingMark(first) { dropped = true }
        return (normalize(text), dropped)
    }

    func normalize(_ text: Scalars) -> Scalars {
        var text = text
        if cleanText {
            var output = Scalars()
            output.reserveCapacity(text.count)
            for scalar in text {
                let value = scalar.value
                if value == 0 || value == 0xFFFD { continue }
                if value == 0x09 || value == 0x0A || value == 0x0D {
                    output.append(" ")
                } else if UnicodeCategories.isOther(scalar) {
                    continue
                } else if UnicodeCategories.isWhitespace(scalar) {
                    output.append(" ")
                } else {
                    output.append(scalar)
                }
            }
            text = output
        }
        if handleChineseChars, text.contains(where: BertNormalizer.isChineseChar) {
            var output = Scalars()
            output.reserveCapacity(text.count + 16)
            for scalar in text {
                if BertNormalizer.isChineseChar(scalar) {
                    output.append(" ")
                    output.append(scalar)
                    output.append(" ")
                } else {
                    output.append(scalar)
                }
            }
            text = output
        }
        if stripAccents && !text.allSatisfy({ $0.isASCII }) {
            text = UnicodeNormalizer(form: .nfd).normalize(text).filter { !UnicodeCategories.isNonspacingMark($0) }
        }
        if lowercase {
            text = LowercaseNormalizer().normalize(text)
        }
        return text
    }

    static func isChineseChar(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
             0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }
}

/// SentencePiece's NMT normalization: drops most control characters, maps odd spaces to ' '.
struct NmtNormalizer: Normalizer {
    func normalizeReportingLeadingDrop(_ text: Scalars) -> (Scalars, droppedLeading: Bool) {
        let result = normalize(text)
        return (result, !text.isEmpty && (result.isEmpty || result.count < text.count && NmtNormalizer.drops(text[0])))
    }

    static func drops(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x01...0x08, 0x0B, 0x0E...0x1F, 0x7F, 0x8F, 0x9F: return true
        default: return false
        }
    }
    func normalize(_ text: Scalars) -> Scalars {
        var output = Scalars()
        output.reserveCapacity(text.count)
        for scalar in text {
            switch scalar.value {
            case 0x01...0x08, 0x0B, 0x0E...0x1F, 0x7F, 0x8F, 0x9F:
                continue
            case 0x09, 0x0A, 0x0C, 0x0D, 0x1680, 0x200B...0x200F, 0x2028, 0x2029, 0x2581, 0xFEFF, 0xFFFD:
                output.append(" ")
            default:
                output.append(scalar)
            }
        }
        return output
    }
}

/// The byte-level mapping applied as a normalizer (each UTF-8 byte becomes one printable scalar).
struct ByteLevelNormalizer: Normalizer {
    func normalize(_ text: Scalars) -> Scalars {
        ByteLevelPreTokenizer.mapToByteLevel(text)
    }
}
