/// Character predicates with the exact definitions the tokenizers library (Rust `char` methods and
/// the Oniguruma regex classes) uses.
enum UnicodeCategories {
    /// Rust `char::is_whitespace` and Oniguruma `\s`: the Unicode White_Space property.
    @inline(__always)
    static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if value < 0x80 { return value == 0x20 || (value >= 0x09 && value <= 0x0D) }
        return ScalarProperties.info(scalar) & ScalarProperties.whitespaceFlag != 0
    }

    /// `\w` of the Rust regex crate (UTS #18 Word): Alphabetic, Mark, Decimal_Number,
    /// Connector_Punctuation, Join_Control. Used where the library compiles a pattern with that
    /// crate instead of Oniguruma (the Whitespace pre-tokenizer, single-word checks).
    static func isRegexCrateWord(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if value < 0x80 {
            return (value >= 0x30 && value <= 0x39) || ((value | 0x20) >= 0x61 && (value | 0x20) <= 0x7A) || value == 0x5F
        }
        if value == 0x200C || value == 0x200D { return true }
        return ScalarClass.isWord(scalar)
    }

    /// `\p{L}`.
    @inline(__always)
    static func isLetter(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if value < 0x80 { return (value | 0x20) >= 0x61 && (value | 0x20) <= 0x7A }
        return ScalarProperties.categoryBit(scalar) & 0b11111 != 0
    }

    /// Rust `char::is_numeric` (Unicode 17, like Swift's tables), for the Digits pre-tokenizer.
    static func isNumeric(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if value < 0x80 { return value >= 0x30 && value <= 0x39 }
        switch scalar.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    /// `\p{N}` (Oniguruma, Unicode 16).
    @inline(__always)
    static func isNumber(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if value < 0x80 { return value >= 0x30 && value <= 0x39 }
        return ScalarProperties.categoryBit(scalar) & (0b111 << 8) != 0
    }

    /// Unicode punctuation (P*) as the `unicode_categories` crate (Unicode 8.0) sees it.
    static func isPunctuation(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.value == 0x166D || scalar.value == 0x111C9 { return true }  // Po in Unicode 8.0
        let info = ScalarProperties.info(scalar)
        return info & ScalarProperties.unicode8Flag != 0 && (1 << UInt32(info & ScalarProperties.categoryMask)) & (0b1111111 << 11) != 0
    }

    /// BERT punctuation: ASCII punctuation (which includes symbols such as `$` and `+`) or any P*.
    static func isBertPunctuation(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if value < 0x80 {
            return (value >= 0x21 && value <= 0x2F) || (value >= 0x3A && value <= 0x40)
                || (value >= 0x5B && value <= 0x60) || (value >= 0x7B && value <= 0x7E)
        }
        return isPunctuation(scalar)
    }

    /// BERT's control characters: `unicode_categories` `is_other` (Unicode 8.0 tables), which in
    /// effect is Cc, Cf, Cs, Co — unassigned code points are kept.
    static func isOther(_ scalar: Unicode.Scalar) -> Bool {
        let info = ScalarProperties.info(scalar)
        return info & ScalarProperties.unicode8Flag != 0
            && (1 << UInt32(info & ScalarProperties.categoryMask)) & (0b1111 << 25) != 0
    }

    /// Mn as the `unicode_categories` crate (Unicode 8.0) sees it, for BERT's accent stripping.
    static func isNonspacingMark(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x1885, 0x1886, 0xA9BD, 0x111C9: return false  // Lo or Mc in Unicode 8.0
        case 0x1734, 0x1171E: return true  // Mn in Unicode 8.0
        default: break
        }
        let info = ScalarProperties.info(scalar)
        return info & ScalarProperties.unicode8Flag != 0 && 1 << UInt32(info & ScalarProperties.categoryMask) == 1 << 5
    }

    /// Combining marks (M*) as the normalization crate (Unicode 9.0) sees them, for StripAccents.
    static func isMark(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x111C9: return false  // Mn since Unicode 10
        case 0x1CF2, 0x1CF3: return true  // Mc in Unicode 9.0
        default: break
        }
        let info = ScalarProperties.info(scalar)
        return info & ScalarProperties.unicode9Flag != 0 && (1 << UInt32(info & ScalarProperties.categoryMask)) & (0b111 << 5) != 0
    }

    /// Context-free full lowercase mapping, as Rust `char::to_lowercase` (no final-sigma rule).
    static func appendLowercase(_ scalar: Unicode.Scalar, to output: inout Scalars) {
        let value = scalar.value
        if value < 0x80 {
            output.append((value >= 0x41 && value <= 0x5A) ? Unicode.Scalar(value + 0x20)! : scalar)
            return
        }
        if !scalar.properties.changesWhenLowercased {
            output.append(scalar)
            return
        }
        output.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
    }
}

/// GPT-2's reversible byte ↔ printable-character table used by the ByteLevel pre-tokenizer and decoder.
enum ByteLevelTable {
    static let byteToScalar: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var extra: UInt32 = 0
        for byte in 0..<256 {
            let printable = (byte >= 0x21 && byte <= 0x7E) || (byte >= 0xA1 && byte <= 0xAC) || (byte >= 0xAE && byte <= 0xFF)
            if printable {
                table[byte] = Unicode.Scalar(UInt32(byte))!
            } else {
                table[byte] = Unicode.Scalar(256 + extra)!
                extra += 1
            }
        }
        return table
    }()

    static let scalarToByte: [UInt32: UInt8] = {
        var map = [UInt32: UInt8]()
        for (byte, scalar) in byteToScalar.enumerated() { map[scalar.value] = UInt8(byte) }
        return map
    }()
}
