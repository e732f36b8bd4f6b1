/// A set of Unicode scalars as a regex character class denotes it: ranges, general categories and
/// the Oniguruma shorthand classes, possibly negated and case-insensitive.
struct ScalarClass {
    enum Item {
        case range(UInt32, UInt32)
        /// A bit set over `ScalarClass.categoryBit`.
        case categories(UInt32)
        case whitespace
        /// `\w` inside brackets.
        case word
        /// `\w` outside brackets: Oniguruma also counts the Latin-1 digits ¹ ² ³ ¼ ½ ¾ there.
        case standaloneWord
        case digit
        case anyButNewline
        case nested(ScalarClass)
    }

    var items: [Item] = []
    var negated = false
    var ignoreCase = false
    /// Membership of the 128 ASCII scalars, precomputed by `finalize()`.
    private var asciiLow: UInt64 = 0
    private var asciiHigh: UInt64 = 0

    init(items: [Item] = [], negated: Bool = false, ignoreCase: Bool = false) {
        self.items = items
        self.negated = negated
        self.ignoreCase = ignoreCase
    }

    mutating func finalize() {
        asciiLow = 0
        asciiHigh = 0
        for value in UInt32(0)..<128 where slowMatches(Unicode.Scalar(value)!) {
            if value < 64 { asciiLow |= 1 << UInt64(value) } else { asciiHigh |= 1 << UInt64(value - 64) }
        }
    }

    @inline(__always)
    func matches(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if value < 64 { return asciiLow & (1 << UInt64(value)) != 0 }
        if value < 128 { return asciiHigh & (1 << UInt64(value - 64)) != 0 }
        return slowMatches(scalar)
    }

    func slowMatches(_ scalar: Unicode.Scalar) -> Bool {
        var found = containsExactly(scalar)
        if !found && ignoreCase {
            for variant in ScalarClass.caseVariants(of: scalar) where containsExactly(variant) {
                found = true
                break
            }
        }
        return found != negated
    }

    private func containsExactly(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        for item in items {
            switch item {
            case .range(let low, let high):
                if value >= low && value <= high { return true }
            case .categories(let mask):
                if mask & ScalarProperties.categoryBit(scalar) != 0 { return true }
            case .whitespace:
                if UnicodeCategories.isWhitespace(scalar) { return true }
            case .word:
                if ScalarClass.isWord(scalar) { return true }
            case .standaloneWord:
                if ScalarClass.isWord(scalar) { return true }
                switch value {
                case 0xB2, 0xB3, 0xB9, 0xBC, 0xBD, 0xBE: return true
                default: break
                }
            case .digit:
                if value < 0x80 ? (value >= 0x30 && value <= 0x39) : ScalarProperties.categoryBit(scalar) == 1 << 8 {
                    return true
                }
            case .anyButNewline:
                if value != 0x0A { return true }
            case .nested(let inner):
                if inner.matches(scalar) { return true }
            }
        }
        return false
    }

    /// Oniguruma `\w` for Unicode, as measured against the library: Alphabetic, Mark,
    /// Decimal_Number, Connector_Punctuation. (The Rust regex crate's `\w` also has Join_Control;
    /// see `UnicodeCategories.isRegexCrateWord`.)
    static func isWord(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if value < 0x80 {
            return (value >= 0x30 && value <= 0x39) || ((value | 0x20) >= 0x61 && (value | 0x20) <= 0x7A) || value == 0x5F
        }
        let info = ScalarProperties.info(scalar)
        if info & ScalarProperties.alphabeticFlag != 0 { return true }
        // Mn, Mc, Me, Nd, Pc
        return (1 << UInt32(info & ScalarProperties.categoryMask)) & (0b111 << 5 | 1 << 8 | 1 << 11) != 0
    }

    /// Single-scalar case variants, enough for case-insensitive literals (e.g. `(?i:'s)` matching
    /// `'S` and `'ſ`, as Unicode simple case folding does).
    static func caseVariants(of scalar: Unicode.Scalar) -> [Unicode.Scalar] {
        var result: [Unicode.Scalar] = []
        for mapping in [scalar.properties.lowercaseMapping, scalar.properties.uppercaseMapping,
                        scalar.properties.titlecaseMapping] {
            let scalars = mapping.unicodeScalars
            if scalars.count == 1, let first = scalars.first, first != scalar { result.append(first) }
        }
        // Fold the upper case form back down so e.g. ſ (U+017F) → S → s.
        for variant in result {
            let lower = variant.properties.lowercaseMapping.unicodeScalars
            if lower.count == 1, let first = lower.first, first != scalar, !result.contains(first) { result.append(first) }
        }
        return result
    }

    static func categoryBit(_ category: Unicode.GeneralCategory) -> UInt32 {
        switch category {
        case .uppercaseLetter: return 1 << 0
        case .lowercaseLetter: return 1 << 1
        case .titlecaseLetter: return 1 << 2
        case .modifierLetter: return 1 << 3
        case .otherLetter: return 1 << 4
        case .nonspacingMark: return 1 << 5
        case .spacingMark: return 1 << 6
        case .enclosingMark: return 1 << 7
        case .decimalNumber: return 1 << 8
        case .letterNumber: return 1 << 9
        case .otherNumber: return 1 << 10
        case .connectorPunctuation: return 1 << 11
        case .dashPunctuation: return 1 << 12
        case .openPunctuation: return 1 << 13
        case .closePunctuation: return 1 << 14
        case .initialPunctuation: return 1 << 15
        case .finalPunctuation: return 1 << 16
        case .otherPunctuation: return 1 << 17
        case .mathSymbol: return 1 << 18
        case .currencySymbol: return 1 << 19
        case .modifierSymbol: return 1 << 20
        case .otherSymbol: return 1 << 21
        case .spaceSeparator: return 1 << 22
        case .lineSeparator: return 1 << 23
        case .paragraphSeparator: return 1 << 24
        case .control: return 1 << 25
        case .format: return 1 << 26
        case .surrogate: return 1 << 27
        case .privateUse: return 1 << 28
        case .unassigned: return 1 << 29
        @unknown default: return 0
        }
    }

    /// The category mask for a `\p{...}` name, or nil when the name is not a general category.
    static func categoryMask(named name: String) -> UInt32? {
        let letters: UInt32 = 0b11111
        let marks: UInt32 = 0b111 << 5
        let numbers: UInt32 = 0b111 << 8
        let punctuation: UInt32 = 0b1111111 << 11
        let symbols: UInt32 = 0b1111 << 18
        let separators: UInt32 = 0b111 << 22
        let others: UInt32 = 0b11111 << 25
        switch name.replacingOccurrences(of: "_", with: "").replacingOccurrences(of: " ", with: "").lowercased() {
        case "l", "letter": return letters
        case "lu", "uppercaseletter": return 1 << 0
        case "ll", "lowercaseletter": return 1 << 1
        case "lt", "titlecaseletter": return 1 << 2
        case "lm", "modifierletter": return 1 << 3
        case "lo", "otherletter": return 1 << 4
        case "lc", "casedletter", "l&": return 0b111
        case "m", "mark", "combiningmark": return marks
        case "mn", "nonspacingmark": return 1 << 5
        case "mc", "spacingmark": return 1 << 6
        case "me", "enclosingmark": return 1 << 7
        case "n", "number": return numbers
        case "nd", "decimalnumber", "digit": return 1 << 8
        case "nl", "letternumber": return 1 << 9
        case "no", "othernumber": return 1 << 10
        case "p", "punctuation", "punct": return punctuation
        case "pc", "connectorpunctuation": return 1 << 11
        case "pd", "dashpunctuation": return 1 << 12
        case "ps", "openpunctuation": return 1 << 13
        case "pe", "closepunctuation": return 1 << 14
        case "pi", "initialpunctuation": return 1 << 15
        case "pf", "finalpunctuation": return 1 << 16
        case "po", "otherpunctuation": return 1 << 17
        case "s", "symbol": return symbols
        case "sm", "mathsymbol": return 1 << 18
        case "sc", "currencysymbol": return 1 << 19
        case "sk", "modifiersymbol": return 1 << 20
        case "so", "othersymbol": return 1 << 21
        case "z", "separator": return separators
        case "zs", "spaceseparator": return 1 << 22
        case "zl", "lineseparator": return 1 << 23
        case "zp", "paragraphseparator": return 1 << 24
        case "c", "other": return others
        case "cc", "control", "cntrl": return 1 << 25
        case "cf", "format": return 1 << 26
        case "cs", "surrogate": return 1 << 27
        case "co", "privateuse": return 1 << 28
        case "cn", "unassigned": return 1 << 29
        default: return nil
        }
    }
}
