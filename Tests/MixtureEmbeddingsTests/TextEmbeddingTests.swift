import Foundation
import MixtureEmbeddings
import XCTest

/// The text API: tokenization (with sentence-transformers' truncation) and embeddings of strings.
final class TextEmbeddingTests: XCTestCase {
    func testTinyFoldersTokenizeAndEmbedTextsLikeSentenceTransformers() throws {
        for folder in [EmbeddingFixtures.tinyBertCLS, EmbeddingFixtures.tinyRobertaMean] {
            let model = try SentenceTransformer.load(from: folder)
            let golden = try TinyGolden.load(folder)
            XCTAssertEqual(try golden.texts.texts.map(model.tokenize), golden.texts.token_ids, folder.lastPathComponent)
            assertEmbeddingsMatch(try model.embed(golden.texts.texts), golden.texts.embeddings, folder.lastPathComponent)
        }
    }

    func testMiniLMTokenizesAndEmbedsSentencesLikeSentenceTransformers() throws {
        let model = try SentenceTransformer.load(from: try EmbeddingFixtures.requireMiniLM())
        let golden = try MiniLMGolden.load()
        for (sentence, expected) in zip(golden.sentences, golden.token_ids) {
            XCTAssertEqual(try model.tokenize(sentence), expected, "tokens of \(sentence.prefix(40))")
        }
        // Matching ids make the rest the token-id path (EmbeddingParityTests); the short sentences check
        // the text path end to end without paying twice for the long ones in debug builds.
        let short = golden.token_ids.indices.filter { golden.token_ids[$0].count <= 32 }
        XCTAssertGreaterThanOrEqual(short.count, 8)
        assertEmbeddingsMatch(try model.embed(short.map { golden.sentences[$0] }, batchSize: 5),
                              short.map { golden.embeddings[$0] }, "all-MiniLM-L6-v2 texts")
    }
}
