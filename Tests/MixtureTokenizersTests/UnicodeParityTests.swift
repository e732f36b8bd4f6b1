import Foundation
import XCTest
@testable import MixtureTokenizers

/// The reference library mixes Unicode versions: Oniguruma (split patterns) knows 16.0, Rust's
/// `char` 17.0, its normalization crate 9.0 and the `unicode_categories` crate (BERT) 8.0. These
/// cases, recorded from tokenizers 0.23.3, pin each version boundary; they were found by comparing
/// every code point below U+20000 in three contexts.
final class UnicodeParityTests: XCTestCase {
    private func hex(_ scalars: Scalars) -> String {
        scalars.map { String($0.value, radix: 16, uppercase: true) }.joined(separator: " ")
    }

    private func normalized(_ type: String, _ text: String, extra: String = "") throws -> String {
        let json = #"{"type": "\#(type)"\#(extra)}"#
        let normalizer = try Normalizers.parse(try JSONObject.parse(data: Data(json.utf8), file: "test"))
        return hex(normalizer.normalize(text.scalars))
    }

    private func preTokenized(_ json: String, _ text: String) throws -> [String] {
        let preTokenizer = try PreTokenizers.parse(try JSONObject.parse(data: Data(json.utf8), file: "test"))
        var pieces = [Piece(text.scalars, startsAtOrigin: true)]
        preTokenizer.preTokenize(&pieces)
        return pieces.map { $0.scalars.string }
    }

    func testCompositionKeepsSupplementaryStarters() throws {
        // Foundation's composition on Linux would turn U+10041 U+0301 into "Á".
        XCTAssertEqual(try normalized("NFC", "\u{10041}\u{301}"), "10041 301")
    }

    func testDecompositionIsCanonicallyOrdered() throws {
        XCTAssertEqual(try normalized("NFKD", "\u{1FCE}\u{323}\u{301}"), "20 323 313 301 301")
    }

    func testScalarsNewerThanUnicode9AreNotNormalized() throws {
        XCTAssertEqual(try normalized("NFD", "a\u{1DF6}\u{301}"), "61 1DF6 301")
        XCTAssertEqual(try normalized("NFKC", "\u{32FF}"), "32FF")
    }

    func testBertCleaningUsesUnicode8Categories() throws {
        let options = #", "lowercase": false, "handle_chinese_chars": false, "clean_text": true"#
        XCTAssertEqual(try normalized("BertNormalizer", "a\u{378}b\u{200B}c\u{13430}d", extra: options + #", "strip_accents": false"#),
                       "61 378 62 63 13430 64")
        XCTAssertEqual(try normalized("BertNormalizer", "e\u{301}\u{8D4}x\u{1734}", extra: options + #", "strip_accents": true"#),
                       "65 8D4 78")
    }

    func testStripAccentsUsesUnicode9Marks() throws {
        let json = #"{"type": "Sequence", "normalizers": [{"type": "NFD"}, {"type": "StripAccents"}]}"#
        let normalizer = try Normalizers.parse(try JSONObject.parse(data: Data(json.utf8), file: "test"))
        XCTAssertEqual(hex(normalizer.normalize("e\u{301}\u{7FD}\u{1CF2}".scalars)), "65 7FD")
    }

    func testRegexClassesUseUnicode16() throws {
        let json = #"{"type": "Split", "pattern": {"Regex": "\\p{L}+|\\p{N}+|[^\\p{L}\\p{N}]+"}, "behavior": "Isolated"}"#
        XCTAssertEqual(try preTokenized(json, "ab\u{3342D}cd\u{11DE0}"), ["ab", "\u{3342D}", "cd", "\u{11DE0}"])
    }

    func testDigitsUseRustCharTables() throws {
        XCTAssertEqual(try preTokenized(#"{"type": "Digits", "individual_digits": true}"#, "a\u{11DE0}b"), ["a", "\u{11DE0}", "b"])
    }

    func testBertPunctuationUsesUnicode8() throws {
        XCTAssertEqual(try preTokenized(#"{"type": "BertPreTokenizer"}"#, "a\u{166D}b\u{2E50}c"), ["a", "\u{166D}", "b\u{2E50}c"])
    }
}
