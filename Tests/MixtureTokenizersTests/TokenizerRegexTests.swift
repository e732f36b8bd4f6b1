import XCTest
@testable import MixtureTokenizers

/// The split-pattern regex engine follows Oniguruma: leftmost match, first alternative wins,
/// greedy unless `?`-lazy, look-ahead, scoped case-insensitivity.
final class TokenizerRegexTests: XCTestCase {
    private func matches(_ pattern: String, _ text: String) throws -> [[Int]] {
        try TokenizerRegex(pattern).matches(in: Array(text.unicodeScalars)).map { [$0.0, $0.1] }
    }

    private func pieces(_ pattern: String, _ text: String) throws -> [String] {
        let scalars = Array(text.unicodeScalars)
        return try TokenizerRegex(pattern).matches(in: scalars).map { scalars[$0.0..<$0.1].string }
    }

    func testQuantifiersAlternationAndGroups() throws {
        XCTAssertEqual(try matches(#"a+?b"#, "aaab xab"), [[0, 4], [6, 8]])
        XCTAssertEqual(try matches(#"\d{2,3}"#, "1 12 1234 12345"), [[2, 4], [5, 8], [10, 13], [13, 15]])
        XCTAssertEqual(try matches(#"(?:ab){2}"#, "ababab abab"), [[0, 4], [7, 11]])
        XCTAssertEqual(try matches(#"colou?r"#, "color colour colouur"), [[0, 5], [6, 12]])
        XCTAssertEqual(try matches(#".+"#, "ab\ncd"), [[0, 2], [3, 5]])
    }

    func testCaseInsensitiveGroupIsScoped() throws {
        XCTAssertEqual(try matches(#"(?i:ab|cd)+"#, "ABcdAb x aB"), [[0, 6], [9, 11]])
        XCTAssertEqual(try matches(#"(?i:'s)x"#, "'Sx 'SX"), [[0, 3]])
        // Unicode simple case folding: the long s folds to s.
        XCTAssertEqual(try matches(#"(?i:'s)"#, "'ſ"), [[0, 2]])
    }

    func testLookaheadAndAnchors() throws {
        XCTAssertEqual(try matches(#"\s+(?!\S)|\s+"#, "a   b  \n"), [[1, 3], [3, 4], [5, 8]])
        XCTAssertEqual(try matches(#"x(?=y)"#, "xy xz xy"), [[0, 1], [6, 7]])
        XCTAssertEqual(try matches(#"^\w+|\w+$"#, "one two three"), [[0, 3], [8, 13]])
    }

    func testCharacterClasses() throws {
        XCTAssertEqual(try matches(#"[^a-c\d]+"#, "abcxyz123def"), [[3, 6], [9, 12]])
        XCTAssertEqual(try matches(#"[\-\]x]+"#, "a-]x]b"), [[1, 5]])
        XCTAssertEqual(try pieces(#"\p{L}+|\p{N}+"#, "日本語123abc٣"), ["日本語", "123", "abc", "٣"])
        XCTAssertEqual(try pieces(#"[\p{Lu}]+"#, "aBCdÉ"), ["BC", "É"])
    }

    /// Oniguruma's `\w` is Alphabetic, marks, decimal digits and connectors; outside brackets it
    /// also takes the Latin-1 digits ² ³ ¹ ¼ ½ ¾, inside brackets it does not (measured against
    /// the tokenizers library).
    func testOnigurumaWordClassQuirks() throws {
        XCTAssertEqual(try pieces(#"\w+|[^\w\s]+"#, "a²b a①b Ⅻx"), ["a²b", "a", "①", "b", "Ⅻx"])
        XCTAssertEqual(try pieces(#"\w+|[^\w\s]+"#, "①½²x"), ["①½²", "x"])
        XCTAssertEqual(try pieces(#"\w+"#, "a\u{200D}b"), ["a", "b"])
    }

    func testGPT2PatternSplitsLikeTheLibrary() throws {
        let pattern = ByteLevelPreTokenizer.gpt2Pattern
        XCTAssertEqual(try pieces(pattern, "Hello world's 2024!!   end\n\n"),
                       ["Hello", " world", "'s", " 2024", "!!", "  ", " end", "\n\n"])
        XCTAssertEqual(try pieces(pattern, "I'M don't"), ["I", "'", "M", " don", "'t"])
    }

    func testLlama3PatternContractionsAndDigitGroups() throws {
        let pattern = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
        XCTAssertEqual(try pieces(pattern, "I'M 1234567 ok.\n\n  x"),
                       ["I", "'M", " ", "123", "456", "7", " ok", ".\n\n", " ", " x"])
    }

    func testLongRunsNeedNoRecursion() throws {
        let text = String(repeating: "a", count: 200_000) + String(repeating: " ", count: 100_000) + "b"
        XCTAssertEqual(try matches(ByteLevelPreTokenizer.gpt2Pattern, text), [[0, 200_000], [200_000, 299_999], [299_999, 300_001]])
    }

    /// Patterns that can match nothing split as the `onig` crate iterates: an empty match right
    /// after the previous match is skipped.
    func testEmptyMatchesFollowOnigIteration() throws {
        XCTAssertEqual(try matches(#"x*"#, "axxb"), [[0, 0], [1, 3], [4, 4]])
        let isolated = SplitPattern.regex(try TokenizerRegex(#"x*"#))
        XCTAssertEqual(isolated.split(Piece("axxb".scalars, startsAtOrigin: true), behavior: .isolated).map { $0.scalars.string },
                       ["a", "xx", "b"])
        let lookahead = SplitPattern.regex(try TokenizerRegex(#"(?=a)"#))
        XCTAssertEqual(lookahead.split(Piece("banana".scalars, startsAtOrigin: true), behavior: .mergedWithPrevious)
            .map { $0.scalars.string }, ["b", "an", "an", "a"])
        XCTAssertEqual(ReplaceNormalizer(pattern: isolated, content: ["-"]).normalize("axxb".scalars).string, "-a-b-")
    }

    func testUnsupportedSyntaxIsAnError() {
        XCTAssertThrowsError(try TokenizerRegex(#"(?<=a)b"#))
        XCTAssertThrowsError(try TokenizerRegex(#"a++"#))
        XCTAssertThrowsError(try TokenizerRegex(#"\p{Greek}"#))
        XCTAssertThrowsError(try TokenizerRegex(#"(ab"#))
    }
}
