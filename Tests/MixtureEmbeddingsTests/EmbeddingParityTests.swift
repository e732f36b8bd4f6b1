import Foundation
import MixtureCore
import MixtureEmbeddings
import XCTest

/// Embeddings from token ids against sentence-transformers' (Scripts/gen_embedding_fixtures.py).
final class EmbeddingParityTests: XCTestCase {
    func testTinyBERTWithCLSPoolingMatchesSentenceTransformers() throws {
        let model = try SentenceTransformer.load(from: EmbeddingFixtures.tinyBertCLS)
        let golden = try TinyGolden.load(EmbeddingFixtures.tinyBertCLS)
        XCTAssertEqual(model.stages, [.pooling(Pooling(modes: [.cls], embeddingDimension: 32))], "pipeline comes from the files: CLS, no Normalize")
        XCTAssertEqual(model.maxSequenceLength, golden.max_seq_length)
        XCTAssertEqual(model.encoder.architecture.positionOffset, 0)
        for (b, batch) in golden.id_batches.enumerated() {
            assertEmbeddingsMatch(try model.embed(tokenIDs: batch.token_ids), batch.embeddings, "tiny_bert_cls batch \(b)")
        }
    }

    func testTinyRoBERTaWithMeanPoolingAndNormalizeMatchesSentenceTransformers() throws {
        let model = try SentenceTransformer.load(from: EmbeddingFixtures.tinyRobertaMean)
        let golden = try TinyGolden.load(EmbeddingFixtures.tinyRobertaMean)
        XCTAssertEqual(model.stages, [.pooling(Pooling(modes: [.mean], embeddingDimension: 32)), .normalize])
        XCTAssertEqual(model.encoder.architecture.positionOffset, 1, "RoBERTa positions start at padding_idx + 1")
        for (b, batch) in golden.id_batches.enumerated() {
            let embeddings = try model.embed(tokenIDs: batch.token_ids)
            assertEmbeddingsMatch(embeddings, batch.embeddings, "tiny_roberta_mean batch \(b)")
            for e in embeddings {
                XCTAssertEqual(e.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1, accuracy: 1e-5, "Normalize gives unit length")
            }
        }
    }

    func testEveryPoolingModeMatchesSentenceTransformers() throws {
        let model = try SentenceTransformer.load(from: EmbeddingFixtures.tinyRobertaMean)
        let golden = try TinyGolden.load(EmbeddingFixtures.tinyRobertaMean)
        var checked = Set<String>()
        for (b, batch) in golden.id_batches.enumerated() {
            for (name, expected) in batch.pooling_modes ?? [:] {
                let modes = try name.split(separator: "+").map { part -> Pooling.Mode in
                    try XCTUnwrap(Pooling.Mode(rawValue: String(part)), "mode \(part)")
                }
                model.stages = [.pooling(Pooling(modes: modes, embeddingDimension: 32))]
                assertEmbeddingsMatch(try model.embed(tokenIDs: batch.token_ids), expected, "pooling \(name), batch \(b)")
                checked.insert(name)
            }
        }
        XCTAssertEqual(checked, Set(Pooling.Mode.allCases.map(\.rawValue) + ["cls+mean"]))
    }

    func testMiniLMEmbeddingsFromTokenIDsMatchSentenceTransformers() throws {
        let model = try SentenceTransformer.load(from: try EmbeddingFixtures.requireMiniLM())
        let golden = try MiniLMGolden.load()
        XCTAssertEqual(model.maxSequenceLength, 256)
        XCTAssertEqual(model.maxSequenceLength, golden.max_seq_length)
        XCTAssertEqual(model.stages, [.pooling(Pooling(modes: [.mean], embeddingDimension: 384)), .normalize])
        XCTAssertEqual(model.embeddingDimension, 384)
        XCTAssertTrue(golden.token_ids.contains { $0.count == 256 }, "the fixture includes sentences cut to max_seq_length")
        assertEmbeddingsMatch(try model.embed(tokenIDs: golden.token_ids), golden.embeddings, "all-MiniLM-L6-v2")
    }

    func testBatchOfUnequalLengthsEqualsOneAtATime() throws {
        for folder in [EmbeddingFixtures.tinyBertCLS, EmbeddingFixtures.tinyRobertaMean] {
            let model = try SentenceTransformer.load(from: folder)
            let golden = try TinyGolden.load(folder)
            let sequences = golden.id_batches.flatMap(\.token_ids) + golden.texts.token_ids
            let together = try model.embed(tokenIDs: sequences)
            let alone = try sequences.map { try model.embed(tokenIDs: [$0])[0] }
            let inPairs = try model.embed(tokenIDs: sequences, batchSize: 2)
            for i in sequences.indices {
                for j in together[i].indices {
                    XCTAssertEqual(together[i][j], alone[i][j], accuracy: 1e-5, "\(folder.lastPathComponent) sequence \(i)")
                    XCTAssertEqual(together[i][j], inPairs[i][j], accuracy: 1e-5, "\(folder.lastPathComponent) sequence \(i)")
                }
            }
        }
    }

    func testEncoderReturnsOneRowPerTokenOfEachSequence() throws {
        let model = try SentenceTransformer.load(from: EmbeddingFixtures.tinyBertCLS)
        let output = try model.encoder.encode([[2, 3], [2, 50, 51, 3], [2, 60, 3]])
        XCTAssertEqual(output.sequenceCount, 3)
        XCTAssertEqual((0..<3).map(output.tokenCount), [2, 4, 3])
        XCTAssertEqual(output.tokenEmbeddings(1).count, 4)
        XCTAssertEqual(output.tokenEmbeddings(1)[0].count, 32)
    }

    func testBadTokenIDsAreOneLineErrors() throws {
        let model = try SentenceTransformer.load(from: EmbeddingFixtures.tinyBertCLS)
        let vocabulary = model.encoder.architecture.vocabularySize
        for (ids, expected) in [([[2, vocabulary, 3]], "out of range"), ([[Int]()], "empty"),
                                ([[Int](repeating: 5, count: 41)], "at most 40")] {
            XCTAssertThrowsError(try model.embed(tokenIDs: ids)) { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains(expected), text)
                XCTAssertFalse(text.contains("\n"), text)
            }
        }
        XCTAssertEqual(try model.embed(tokenIDs: []), [])
    }
}
