import Foundation
import XCTest
@testable import MixtureFuzz

/// Every fuzz target over its seeds and past findings (`Fuzz/regressions`): a crash here fails the
/// suite, so each fixed finding stays fixed. The long runs are `Scripts/fuzz.sh TARGET SECONDS`.
final class FuzzReplayTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func testEveryTargetHasSeedsAndSurvivesThem() throws {
        XCTAssertEqual(FuzzTargets.names, ["adapter-config", "config", "gguf", "jsonl", "merge-yaml", "safetensors", "tokenizer"])
        for name in FuzzTargets.names {
            let files = FuzzTargets.seedFiles(for: name, packageRoot: Self.root)
            XCTAssertGreaterThanOrEqual(files.count, 3, "\(name) needs seeds")
            for file in files {
                let data = try Data(contentsOf: file)
                data.withUnsafeBytes { FuzzTargets.all[name]!($0) }
            }
        }
    }

    func testTargetsReturnOnEmptyAndGarbageInput() {
        let garbage: [[UInt8]] = [[], [0], [0xFF, 0xFE, 0x00, 0x7B], Array("{\"a\":".utf8), [UInt8](repeating: 0x5B, count: 10_000)]
        for name in FuzzTargets.names {
            for input in garbage { input.withUnsafeBytes { FuzzTargets.all[name]!($0) } }
        }
    }
}
