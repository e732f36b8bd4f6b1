import Foundation
import XCTest
@testable import MixtureFormats

/// What a killed writer leaves behind is cleared, or put back, by the next writer of that output.
final class OutputFolderTests: XCTestCase {
    /// The id of a process that has exited.
    func deadProcessID() throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        return process.processIdentifier
    }

    func testLeftoversOfAKilledWriterAreRemovedAndASetAsideOutputIsRestored() throws {
        let fm = FileManager.default
        let parent = fm.temporaryDirectory.appendingPathComponent("mixture-of-\(UUID().uuidString)")
        try fm.createDirectory(at: parent, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: parent) }
        let out = parent.appendingPathComponent("out")
        let dead = try deadProcessID()
        let partial = parent.appendingPathComponent(".out.partial-\(dead)")
        let old = parent.appendingPathComponent(".out.old-\(dead)")
        let alive = parent.appendingPathComponent(".out.partial-\(ProcessInfo.processInfo.processIdentifier + 0)")
        for folder in [partial, old] { try fm.createDirectory(at: folder, withIntermediateDirectories: false) }
        try Data("kept".utf8).write(to: old.appendingPathComponent("config.json"))

        // A kill between "set the old output aside" and "move the new one in": the output is missing.
        OutputFolder.removeLeftovers(of: out)
        XCTAssertFalse(fm.fileExists(atPath: partial.path))
        XCTAssertFalse(fm.fileExists(atPath: old.path))
        XCTAssertEqual(fm.contents(atPath: out.appendingPathComponent("config.json").path), Data("kept".utf8))

        // Folders of a live writer (here: this process) are left alone.
        try fm.createDirectory(at: alive, withIntermediateDirectories: false)
        OutputFolder.removeLeftovers(of: out)
        XCTAssertTrue(fm.fileExists(atPath: alive.path))
    }

    func testReplacingAnOutputSwapsItInOneStep() throws {
        let fm = FileManager.default
        let parent = fm.temporaryDirectory.appendingPathComponent("mixture-of-\(UUID().uuidString)")
        defer { try? fm.removeItem(at: parent) }
        let out = parent.appendingPathComponent("out")
        try fm.createDirectory(at: out, withIntermediateDirectories: true)
        try Data("old".utf8).write(to: out.appendingPathComponent("a"))
        let folder = try OutputFolder(out, force: true)
        try folder.write { temporary in try Data("new".utf8).write(to: temporary.appendingPathComponent("b")) }
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: out.path), ["b"])
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: parent.path), ["out"], "nothing left beside it")
    }
}
