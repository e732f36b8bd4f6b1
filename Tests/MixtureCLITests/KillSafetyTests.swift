import Foundation
import XCTest

extension Process {
    func waitForStatus() -> Int32 {
        waitUntilExit()
        return terminationStatus
    }
}

/// SIGKILL at random moments during the commands that write model folders: afterwards the output
/// path holds either the previous output, untouched, or the complete new one; never a mix, never
/// nothing, and a leftover partial folder is hidden and cleared by the next run.
final class KillSafetyTests: XCTestCase {
    /// File name → contents of every file under a folder.
    func snapshot(_ url: URL) throws -> [String: Data] {
        var result: [String: Data] = [:]
        let names = try FileManager.default.subpathsOfDirectory(atPath: url.path)
        for name in names {
            var isDirectory: ObjCBool = false
            let path = url.appendingPathComponent(name).path
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
                result[name] = FileManager.default.contents(atPath: path)
            }
        }
        return result
    }

    func checkKills(_ name: String, arguments: (String) -> [String], trials: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let fm = FileManager.default
        let work = fm.temporaryDirectory.appendingPathComponent("mixture-kill-\(UUID().uuidString)")
        try fm.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: work) }

        // The complete output, and how long a warm run takes (the median of three).
        let reference = work.appendingPathComponent("reference")
        let clean = try CLI.run(arguments(reference.path))
        XCTAssertEqual(clean.status, 0, clean.stderr, file: file, line: line)
        var durations: [Double] = []
        for _ in 0..<3 {
            let began = Date()
            XCTAssertEqual(try launch(arguments(work.appendingPathComponent("timing").path) + ["--force"]).waitForStatus(), 0, file: file, line: line)
            durations.append(Date().timeIntervalSince(began))
        }
        try fm.removeItem(at: work.appendingPathComponent("timing"))
        let duration = durations.sorted()[1]
        let complete = try snapshot(reference)
        XCTAssertFalse(complete.isEmpty, file: file, line: line)
        // The previous output: the same folder with a marker, so the two can be told apart.
        var previous = complete
        previous["PREVIOUS"] = Data("an earlier run".utf8)

        var generator = SystemRandomNumberGenerator()
        var outcomes = (previous: 0, complete: 0)
        for trial in 0..<trials {
            let out = work.appendingPathComponent("out")
            try? fm.removeItem(at: out)
            try fm.copyItem(at: reference, to: out)
            try Data("an earlier run".utf8).write(to: out.appendingPathComponent("PREVIOUS"))

            let process = try launch(arguments(out.path) + ["--force"])
            // Spread over the whole run, a little past its end.
            let delay = Double.random(in: 0...(duration * 1.1), using: &generator)
            usleep(useconds_t(delay * 1e6))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()

            let after = try snapshot(out)
            if after == previous {
                outcomes.previous += 1
            } else if after == complete {
                outcomes.complete += 1
            } else {
                XCTFail("\(name) trial \(trial), killed after \(delay) s: the output is neither the previous nor the complete one (files: \(after.keys.sorted()))", file: file, line: line)
            }
            // Whatever a kill left is hidden, never a visible folder that looks like an output.
            let visible = try fm.contentsOfDirectory(atPath: work.path).filter { !$0.hasPrefix(".") }
            XCTAssertEqual(Set(visible), ["reference", "out"], file: file, line: line)
        }
        // The next complete run clears what the killed ones left behind.
        let finish = try CLI.run(arguments(work.appendingPathComponent("out").path) + ["--force"])
        XCTAssertEqual(finish.status, 0, finish.stderr, file: file, line: line)
        XCTAssertEqual(try snapshot(work.appendingPathComponent("out")), complete, file: file, line: line)
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: work.path).filter { $0.hasPrefix(".") }, [], file: file, line: line)
        print("\(name): \(trials) kills over \(String(format: "%.2f", duration)) s runs: \(outcomes.previous) left the previous output, \(outcomes.complete) the complete new one")
    }

    func launch(_ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = CLI.executable
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    func testMergeKilledAtAnyMomentLeavesThePreviousOrTheCompleteOutput() throws {
        let config = CLI.fixtures.appendingPathComponent("merge/cases/ties/config.yml").path
        try checkKills("merge", arguments: { ["merge", config, $0, "--max-shard-size", "20K"] }, trials: 12)
    }

    func testApplyLoRAKilledAtAnyMomentLeavesThePreviousOrTheCompleteOutput() throws {
        let lora = CLI.fixtures.appendingPathComponent("lora")
        try checkKills("apply-lora", arguments: {
            ["apply-lora", "--base", lora.appendingPathComponent("base").path, "--adapter", lora.appendingPathComponent("adapter_patterns").path, $0]
        }, trials: 12)
    }

    func testConvertKilledAtAnyMomentLeavesThePreviousOrTheCompleteOutput() throws {
        let file = CLI.fixtures.appendingPathComponent("gguf/models/olmoe.gguf").path
        try checkKills("convert", arguments: { ["convert", file, $0, "--dtype", "f32"] }, trials: 12)
    }

    func testExtractLoRAKilledAtAnyMomentLeavesThePreviousOrTheCompleteOutput() throws {
        let lora = CLI.fixtures.appendingPathComponent("lora")
        try checkKills("extract-lora", arguments: {
            ["extract-lora", "--base", lora.appendingPathComponent("base").path, "--finetuned", lora.appendingPathComponent("finetuned").path,
             "--rank", "4", $0]
        }, trials: 12)
    }
}
