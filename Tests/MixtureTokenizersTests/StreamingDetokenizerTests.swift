import XCTest
@testable import MixtureTokenizers

final class StreamingDetokenizerTests: XCTestCase {
    /// Tokenizers used for generation: streamed text must equal the one-shot decode. (WordPiece's
    /// cleanup rewrites spaces across several tokens, so BERT-style decoders are not streamable
    /// token by token; they are not used to generate.)
    static let generationTokenizers = ["gpt2", "roberta", "llama3", "qwen2", "llama2", "mistral", "metaspace_split",
                                       "unigram_t5", "unigram_byte_fallback", "spm_precompiled", "o200k_split",
                                       "deepseek_split", "added_tokens_normalized", "metaspace_legacy"]

    func testStreamedTextEqualsFullDecode() throws {
        var checked = 0
        for name in Self.generationTokenizers {
            let tokenizer = try Fixtures.tokenizer(name)
            for golden in try Fixtures.goldens(name).cases {
                for skip in [true, false] {
                    var stream = tokenizer.streamingDetokenizer(skipSpecialTokens: skip)
                    var streamed = ""
                    for id in golden.ids { streamed += stream.append(id) }
                    streamed += stream.finish()
                    let expected = tokenizer.decode(golden.ids, skipSpecialTokens: skip)
                    XCTAssertEqual(streamed, expected, "\(name): streaming \(golden.text.debugDescription)")
                    checked += 1
                }
            }
        }
        XCTAssertGreaterThan(checked, 1000)
    }

    func testNeverEmitsABrokenCharacter() throws {
        // Byte-fallback tokenizers spell rare characters as <0xF0><0x9F><0x98><0x80>.
        for name in ["llama2", "mistral", "gpt2", "qwen2"] {
            let tokenizer = try Fixtures.tokenizer(name)
            let text = "日本😀👨‍👩‍👧 ok ñ 𝓜"
            let ids = try tokenizer.encode(text, addSpecialTokens: false)
            var stream = tokenizer.streamingDetokenizer()
            var chunks: [String] = []
            for id in ids {
                let chunk = stream.append(id)
                XCTAssertFalse(chunk.unicodeScalars.contains("\u{FFFD}"), "\(name): chunk \(chunk.debugDescription) is broken")
                if !chunk.isEmpty { chunks.append(chunk) }
            }
            chunks.append(stream.finish())
            XCTAssertEqual(chunks.joined(), tokenizer.decode(ids), name)
        }
    }

    /// A skipped special token must not become the first token of a decoding window, or the
    /// Strip/Metaspace decoders would eat the next word's leading space.
    func testSkippedSpecialTokensDoNotSwallowSpaces() throws {
        for name in ["mistral", "metaspace_split", "llama2"] {
            let tokenizer = try Fixtures.tokenizer(name)
            let hello = try tokenizer.encode("Hello", addSpecialTokens: false)
            let world = try tokenizer.encode(" world", addSpecialTokens: false)
            let ids = hello + [tokenizer.tokenID("</s>")!, 999_999] + world
            var stream = tokenizer.streamingDetokenizer()
            let streamed = stream.append(contentsOf: ids) + stream.finish()
            XCTAssertEqual(streamed, tokenizer.decode(ids), name)
        }
    }

    func testHeldBackBytesComeOutAtFinish() throws {
        let tokenizer = try Fixtures.tokenizer("llama2")
        let partialEmoji = [tokenizer.tokenID("<0xF0>")!, tokenizer.tokenID("<0x9F>")!]
        var stream = tokenizer.streamingDetokenizer()
        XCTAssertEqual(stream.append(contentsOf: partialEmoji), "")
        XCTAssertEqual(stream.finish(), tokenizer.decode(partialEmoji))
        XCTAssertEqual(stream.tokenIDs, [], "finish resets the stream")
    }
}
