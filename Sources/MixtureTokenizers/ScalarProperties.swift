/// General category, White_Space and Alphabetic of every BMP scalar in one 128 KiB table, built
/// once per process: the split patterns and pre-tokenizers ask these questions several times per
/// scalar, and the standard library answers each with a table search.
///
/// The reference library's tables are older than Swift's, and differ by component (measured
/// over every code point): Oniguruma and Rust's `char` know Unicode 16, so scalars assigned later
/// (e.g. CJK Extension J in 17.0) are treated as unassigned (Rust's `char::is_numeric` knows
/// 17.0, see `UnicodeCategories.isNumeric`); its normalization crate stops at Unicode 9.0; the
/// `unicode_categories` crate behind BERT's cleaning and punctuation stops at 8.0.
enum ScalarProperties {
    static let categoryMask: UInt16 = 0x1F
    static let whitespaceFlag: UInt16 = 1 << 5
    static let alphabeticFlag: UInt16 = 1 << 6
    /// Assigned after Unicode 9.0: left alone by NFD/NFKD/NFC/NFKC (and, having no combining
    /// class there, blocking reordering and composition across it).
    static let newerThanNormalizationTablesFlag: UInt16 = 1 << 7
    /// Assigned in Unicode 8.0 or earlier.
    static let unicode8Flag: UInt16 = 1 << 8
    /// Assigned in Unicode 9.0 or earlier.
    static let unicode9Flag: UInt16 = 1 << 9

    static let basicMultilingualPlane: [UInt16] = {
        var table = [UInt16](repeating: 0, count: 0x10000)
        for value in 0..<0x10000 {
            guard let scalar = Unicode.Scalar(UInt32(value)) else {
                table[value] = UInt16(categoryIndex(.surrogate))
                continue
            }
            table[value] = compute(scalar)
        }
        return table
    }()

    static func compute(_ scalar: Unicode.Scalar) -> UInt16 {
        let properties = scalar.properties
        guard let age = properties.age, age.major <= 16 else {
            return UInt16(categoryIndex(.unassigned)) | newerThanNormalizationTablesFlag
        }
        var info = UInt16(categoryIndex(properties.generalCategory))
        if age.major > 9 { info |= newerThanNormalizationTablesFlag }
        if age.major <= 8 { info |= unicode8Flag }
        if age.major <= 9 { info |= unicode9Flag }
        if properties.isWhitespace { info |= whitespaceFlag }
        if properties.isAlphabetic { info |= alphabeticFlag }
        return info
    }

    @inline(__always)
    static func info(_ scalar: Unicode.Scalar) -> UInt16 {
        let value = scalar.value
        return value < 0x10000 ? basicMultilingualPlane[Int(value)] : compute(scalar)
    }

    /// Bit position of a category in `ScalarClass.categoryBit` masks.
    @inline(__always)
    static func categoryBit(_ scalar: Unicode.Scalar) -> UInt32 {
        1 << UInt32(info(scalar) & categoryMask)
    }

    @inline(__always)
    static func has(_ scalar: Unicode.Scalar, _ flag: UInt16) -> Bool {
        info(scalar) & flag != 0
    }

    static func categoryIndex(_ category: Unicode.GeneralCategory) -> Int {
        ScalarClass.categoryBit(category).trailingZeroBitCount
    }
}
