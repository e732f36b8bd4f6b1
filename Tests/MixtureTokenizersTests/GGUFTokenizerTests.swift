import XCTest
import MixtureFormats
@testable import MixtureTokenizers

/// The tokenizer inside a GGUF file against llama.cpp's own expectations: the `ggml-vocab-*.gguf`
/// files of llama.cpp's `models/` folder and their `.inp`/`.out` pairs, which llama.cpp's
/// test-tokenizer-0 checks its tokenizer against (add_special false, parse_special false).
/// Tests/Fixtures/gguf/vocab holds three small ones, one per model kind (copied by
/// Scripts/gen_gguf_vocab_fixtures.sh);
/// MIXTURE_LLAMACPP_MODELS=…/llama.cpp/models runs every pair found there as well.
final class GGUFTokenizerTests: XCTestCase {
    static let committed = Fixtures.tokenizers.deletingLastPathComponent().appendingPathComponent("gguf/vocab")

    /// `.inp` holds the texts separated by "\n__ggml_vocab_test__\n"; `.out` one line of ids per text.
    static func cases(_ gguf: URL) throws -> [(text: String, ids: [Int])] {
        let input = try Data(contentsOf: URL(fileURLWithPath: gguf.path + ".inp"))
        let output = try String(contentsOf: URL(fileURLWithPath: gguf.path + ".out"), encoding: .utf8)
        let separator = Array("\n__ggml_vocab_test__\n".utf8)
        var texts: [String] = []
        let bytes = [UInt8](input)
        var start = 0
        var index = 0
        while index + separator.count <= bytes.count {
            if bytes[index..<index + separator.count].elementsEqual(separator) {
                texts.append(String(decoding: bytes[start..<index], as: UTF8.self))
                index += separator.count
                start = index
            } else {
                index += 1
            }
        }
        if start < bytes.count { texts.append(String(decoding: bytes[start...], as: UTF8.self)) }
        var lines = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        XCTAssertEqual(texts.count, lines.count, gguf.lastPathComponent)
        return zip(texts, lines).map { text, line in
            (text, line.split(separator: " ").compactMap { Int($0) })
        }
    }

    /// (passed, total) for one vocabulary file.
    func check(_ gguf: URL, report: Bool) throws -> (Int, Int) {
        let file = try GGUFFile(path: gguf.path)
        let tokenizer = try GGUFTokenizer.load(file, parseSpecial: false)
        let lossless = file.metadata["tokenizer.ggml.model"]?.string != "bert"
        var passed = 0
        let cases = try Self.cases(gguf)
        for (text, expected) in cases {
            let ids = try tokenizer.encode(text, addSpecialTokens: false)
            if ids == expected {
                passed += 1
                // Byte-level and byte-fallback vocabularies are lossless: the ids decode to the text
                // (BERT's lowercases and drops accents).
                if report && lossless { XCTAssertEqual(tokenizer.decode(ids), text, "\(gguf.lastPathComponent) round trip") }
            } else if report {
                XCTFail("\(gguf.lastPathComponent): \(text.debugDescription) gives \(ids), llama.cpp \(expected)")
            }
        }
        return (passed, cases.count)
    }

    func vocabularies(in folder: URL) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix(".gguf") && names.contains($0 + ".out") }.sorted()
            .map { folder.appendingPathComponent($0) }
    }

    func testCommittedVocabulariesMatchLlamaCpp() throws {
        let files = vocabularies(in: Self.committed)
        XCTAssertFalse(files.isEmpty, "no vocabularies in \(Self.committed.path)")
        for file in files {
            let (passed, total) = try check(file, report: true)
            XCTAssertGreaterThan(total, 10, file.lastPathComponent)
            print("\(file.lastPathComponent): \(passed)/\(total) as llama.cpp")
        }
    }

    func testEveryLlamaCppVocabularyWhenAvailable() throws {
        guard let folder = ProcessInfo.processInfo.environment["MIXTURE_LLAMACPP_MODELS"] else {
            throw XCTSkip("set MIXTURE_LLAMACPP_MODELS to llama.cpp's models/ folder to check every ggml-vocab file")
        }
        for file in vocabularies(in: URL(fileURLWithPath: folder)) {
            do {
                let (passed, total) = try check(file, report: ProcessInfo.processInfo.environment["MIXTURE_REPORT"] != nil)
                print("\(file.lastPathComponent): \(passed)/\(total) as llama.cpp")
                // For Scripts/check_gguf_tokenizer_json.py: the tokenizer.json of each file.
                if let out = ProcessInfo.processInfo.environment["MIXTURE_WRITE_TOKENIZER_JSON"] {
                    let gguf = try GGUFFile(path: file.path)
                    let folder = URL(fileURLWithPath: out).appendingPathComponent(file.lastPathComponent)
                    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                    for (name, data) in try GGUFTokenizer.huggingFaceFiles(metadata: gguf.metadata, path: gguf.path) ?? [:] {
                        try data.write(to: folder.appendingPathComponent(name))
                    }
                }
            } catch {
                print("\(file.lastPathComponent): not loaded: \(error)")
            }
        }
    }

    // `mixture convert` writes the GGUF tokenizer as tokenizer.json: loaded back through the
    // tokenizer.json path it gives llama.cpp's ids too (the tokenizers library does as well:
    // Scripts/check_gguf_tokenizer_json.py).
    func testTokenizerJSONWrittenFromAGGUFEncodesAsLlamaCpp() throws {
        for gguf in vocabularies(in: Self.committed) {
            let file = try GGUFFile(path: gguf.path)
            let files = try XCTUnwrap(GGUFTokenizer.huggingFaceFiles(metadata: file.metadata, path: file.path))
            let tokenizer = try Tokenizer(tokenizerJSON: try XCTUnwrap(files["tokenizer.json"]),
                                          tokenizerConfigJSON: files["tokenizer_config.json"])
            for (text, expected) in try Self.cases(gguf) {
                // parse_special is off in llama.cpp's test; these texts hold no special-token text.
                XCTAssertEqual(try tokenizer.encode(text, addSpecialTokens: false), expected, "\(gguf.lastPathComponent): \(text.debugDescription)")
            }
            let config = try XCTUnwrap(JSONSerialization.jsonObject(with: files["tokenizer_config.json"]!) as? [String: Any])
            XCTAssertNotNil(config["bos_token"], gguf.lastPathComponent)
        }
    }

    // The table generated from llama.cpp's source: every regex of every name compiles in our engine
    // and splits a mixed text without trapping.
    func testEveryPreTokenizerNameOfLlamaCppCompiles() throws {
        XCTAssertGreaterThan(GGUFTokenizer.preTokenizerRules.count, 80)
        for (name, rule) in GGUFTokenizer.preTokenizerRules.sorted(by: { $0.key < $1.key }) {
            let stages: [[String: Any]] = rule.regexes.map {
                ["type": "Split", "pattern": ["Regex": $0], "behavior": "Isolated", "invert": false]
            }
            do {
                let pre = try PreTokenizers.parse(JSONObject(file: name, path: "", storage: ["type": "Sequence", "pretokenizers": stages]))
                var pieces = AddedVocabulary(tokens: [], normalizer: nil).extractAndNormalize("Hello, y'all! 3333 нещо 我们 🦙\n\n  x".scalars, normalizer: nil)
                pre.preTokenize(&pieces)
                XCTAssertEqual(pieces.map { $0.scalars.string }.joined(), "Hello, y'all! 3333 нещо 我们 🦙\n\n  x", name)
            } catch {
                XCTFail("\(name): \(error)")
            }
        }
        XCTAssertEqual(GGUFTokenizer.preTokenizerRules["llama-bpe"]?.ignoreMerges, true)
        XCTAssertEqual(GGUFTokenizer.preTokenizerRules["qwen2"]?.ignoreMerges, false)
        XCTAssertEqual(GGUFTokenizer.preTokenizerRules["chatglm-bpe"]?.noBOSToken, true)
    }
}
