import Foundation
import XCTest
@testable import MixtureTokenizers

final class TokenizerAPITests: XCTestCase {
    func testLoadsFromFolderOrFileAndReadsTokenizerConfig() throws {
        let folder = Fixtures.tokenizers.appendingPathComponent("gpt2_legacy_merges")
        let fromFolder = try Tokenizer.load(from: folder)
        let fromFile = try Tokenizer.load(from: folder.appendingPathComponent("tokenizer.json"))
        XCTAssertEqual(fromFolder.bosToken, "<|endoftext|>")
        XCTAssertEqual(fromFolder.eosToken, "<|endoftext|>")
        XCTAssertEqual(fromFolder.bosTokenID, 0)
        XCTAssertEqual(fromFolder.eosTokenID, 0)
        XCTAssertNil(fromFolder.unknownToken)
        XCTAssertEqual(fromFile.eosTokenID, 0, "a tokenizer.json path also finds the tokenizer_config.json beside it")
        XCTAssertEqual(try fromFolder.encode("Hello world"), try fromFile.encode("Hello world"))
    }

    func testSpecialTokenIDsAreNilWithoutConfig() throws {
        let tokenizer = try Fixtures.tokenizer("llama2")
        XCTAssertNil(tokenizer.bosTokenID)
        XCTAssertEqual(tokenizer.tokenID("<s>"), 1)
        XCTAssertEqual(tokenizer.tokenID("<0x0A>"), 13)
        XCTAssertNil(tokenizer.tokenID("definitely not a token"))
        XCTAssertEqual(tokenizer.token(forID: 1), "<s>")
        XCTAssertTrue(tokenizer.isSpecialToken(1))
        XCTAssertFalse(tokenizer.isSpecialToken(13))
    }

    func testVocabularyLookupDistinguishesCanonicallyEquivalentStrings() throws {
        // Swift's String == treats "é" and "e\u{301}" as equal; the vocabulary must not.
        let json = #"{"model": {"type": "WordLevel", "vocab": {"\u00e9": 0, "[UNK]": 1}, "unk_token": "[UNK]"},"#
            + #" "pre_tokenizer": {"type": "WhitespaceSplit"}}"#
        let tokenizer = try Tokenizer(tokenizerJSON: Data(json.utf8))
        XCTAssertEqual(try tokenizer.encode("\u{E9} e\u{301}"), [0, 1])
        XCTAssertEqual(tokenizer.tokenID("\u{E9}"), 0)
        XCTAssertNil(tokenizer.tokenID("e\u{301}"))
    }

    func testEncodeDecodeRoundTripsOnByteLevel() throws {
        let tokenizer = try Fixtures.tokenizer("llama3")
        let text = "Grüße 👨‍👩‍👧 日本語\n\tcode()  "
        let ids = try tokenizer.encode(text)
        XCTAssertEqual(ids.first, 0, "the template adds <|begin_of_text|>")
        XCTAssertEqual(tokenizer.decode(ids), text)
        XCTAssertEqual(tokenizer.decode(ids, skipSpecialTokens: false), "<|begin_of_text|>" + text)
    }

    func testPreTokenizeShowsTheModelWords() throws {
        let tokenizer = try Fixtures.tokenizer("bert")
        XCTAssertEqual(tokenizer.preTokenize("Hello, WORLD! 日本"), ["hello", ",", "world", "!", "日", "本"])
    }

    func testUnsupportedComponentIsAClearError() throws {
        let json = #"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "Foo"}}"#
        XCTAssertThrowsError(try Tokenizer(tokenizerJSON: Data(json.utf8))) { error in
            let message = "\(error)"
            XCTAssertTrue(message.hasPrefix("tokenizer.json: unsupported pre_tokenizer type 'Foo' (supported: "), message)
            XCTAssertTrue(message.contains("ByteLevel"), message)
        }
        let model = #"{"model": {"type": "Mystery", "vocab": {}}}"#
        XCTAssertThrowsError(try Tokenizer(tokenizerJSON: Data(model.utf8))) { error in
            XCTAssertEqual("\(error)", "tokenizer.json: unsupported model type 'Mystery' (supported: BPE, Unigram, WordLevel, WordPiece)")
        }
    }

    func testMalformedInputsNameTheFileAndField() throws {
        XCTAssertThrowsError(try Tokenizer(tokenizerJSON: Data("{\"model\": ".utf8))) { error in
            XCTAssertTrue("\(error)".hasPrefix("tokenizer.json: invalid JSON"), "\(error)")
        }
        let badMerge = #"{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]}}"#
        XCTAssertThrowsError(try Tokenizer(tokenizerJSON: Data(badMerge.utf8))) { error in
            XCTAssertEqual("\(error)", "tokenizer.json: invalid 'model.merges': merge 0 produces \"ab\", which is not in the vocabulary")
        }
        let badBehavior = #"{"model": {"type": "WordLevel", "vocab": {}}, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"String": " "}, "behavior": "Sideways"}]}}"#
        XCTAssertThrowsError(try Tokenizer(tokenizerJSON: Data(badBehavior.utf8))) { error in
            XCTAssertTrue("\(error)".hasPrefix("tokenizer.json: invalid 'pre_tokenizer.pretokenizers[0].behavior': unknown behavior 'Sideways'"), "\(error)")
        }
        let badRegex = #"{"model": {"type": "WordLevel", "vocab": {}}, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(?<=x)y"}, "behavior": "Isolated"}}"#
        XCTAssertThrowsError(try Tokenizer(tokenizerJSON: Data(badRegex.utf8))) { error in
            XCTAssertTrue("\(error)".contains("unsupported regex pattern \"(?<=x)y\""), "\(error)")
        }
        XCTAssertThrowsError(try Tokenizer.load(from: URL(fileURLWithPath: "/nonexistent/model"))) { error in
            XCTAssertEqual("\(error)", "/nonexistent/model: no tokenizer.json found (expected a tokenizer.json file or a folder containing one)")
        }
    }

    // Issue 18: one huge id used to size the id → token table (a multi-terabyte allocation).
    func testTokenIDBeyondU32IsAnErrorNamingTheField() throws {
        let json = #"{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1099511627776}, "merges": []}}"#
        XCTAssertThrowsError(try Tokenizer(tokenizerJSON: Data(json.utf8))) { error in
            XCTAssertEqual("\(error)", "tokenizer.json: invalid 'model.vocab': token \"b\" has id 1099511627776, beyond the u32 range of token ids")
        }
        let added = #"{"added_tokens": [{"id": 1099511627776, "content": "<x>", "special": true}], "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}"#
        XCTAssertThrowsError(try Tokenizer(tokenizerJSON: Data(added.utf8))) { error in
            XCTAssertTrue("\(error)".contains("1099511627776 is outside the u32 range"), "\(error)")
        }
    }

    func testSparseHugeIDsInsideU32CostWhatTheVocabularyHolds() throws {
        // The library accepts any u32 id; so do we, without a 4-billion-entry table.
        for type in ["BPE", "WordLevel", "WordPiece"] {
            let extra = type == "BPE" ? #", "merges": [["a", "b"]]"# : #", "unk_token": "a""#
            let json = #"{"model": {"type": "\#(type)", "vocab": {"a": 0, "b": 4000000000, "ab": 7}\#(extra)}}"#
            let tokenizer = try Tokenizer(tokenizerJSON: Data(json.utf8))
            XCTAssertEqual(tokenizer.token(forID: 4_000_000_000), "b", type)
            XCTAssertEqual(tokenizer.token(forID: 7), "ab", type)
            XCTAssertNil(tokenizer.token(forID: 5), type)
            XCTAssertEqual(tokenizer.vocabularySize, 3, type)
        }
        let bpe = try Tokenizer(tokenizerJSON: Data(#"{"model": {"type": "BPE", "vocab": {"a": 0, "b": 4000000000, "ab": 7}, "merges": [["a", "b"]]}}"#.utf8))
        XCTAssertEqual(try bpe.encode("abb"), [7, 4_000_000_000])
    }

    func testMinimalHandWrittenTokenizer() throws {
        // Merges in the pair form; no normalizer, pre-tokenizer or decoder.
        let json = #"""
        {"added_tokens": [{"id": 4, "content": "<eos>", "special": true, "normalized": false}],
         "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "abab": 3}, "merges": [["a", "b"], ["ab", "ab"]]}}
        """#
        let tokenizer = try Tokenizer(tokenizerJSON: Data(json.utf8))
        XCTAssertEqual(try tokenizer.encode("ababa<eos>"), [3, 0, 4])
        XCTAssertEqual(tokenizer.decode([3, 0, 4]), "abab a")
        XCTAssertEqual(tokenizer.decode([3, 0, 4], skipSpecialTokens: false), "abab a <eos>")
        XCTAssertEqual(tokenizer.decode([3, 99]), "abab", "unknown ids are skipped")
        XCTAssertEqual(tokenizer.vocabularySize, 5)
    }

    func testEncodingIsThreadSafe() throws {
        let tokenizer = try Fixtures.tokenizer("qwen2")
        let texts = (0..<64).map { "text number \($0) with 数字 \($0 * 7919) and émoji 😀" }
        let expected = try texts.map { try tokenizer.encode($0) }
        var results = [[Int]](repeating: [], count: texts.count)
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: texts.count) { index in
            let ids = (try? tokenizer.encode(texts[index])) ?? []
            lock.lock()
            results[index] = ids
            lock.unlock()
        }
        XCTAssertEqual(results, expected)
    }
}
