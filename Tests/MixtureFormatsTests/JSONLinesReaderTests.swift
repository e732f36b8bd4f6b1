import Foundation
import XCTest
import MixtureCore
import MixtureFormats

/// JSON Lines on a file descriptor: every character kept, lines bounded, errors naming the line.
final class JSONLinesReaderTests: XCTestCase {
    /// Writes `bytes` into a pipe from another thread and reads every value back.
    func readAll(_ bytes: [UInt8], maximumLineBytes: Int = PlausibleBounds.lineBytes) throws -> [Any] {
        let pipe = Pipe()
        let writer = pipe.fileHandleForWriting
        // The reader may stop early (that is what some tests check); the writer then meets a closed pipe.
        signal(SIGPIPE, SIG_IGN)
        let thread = Thread {
            try? writer.write(contentsOf: Data(bytes))
            try? writer.close()
        }
        thread.start()
        var reader = JSONLinesReader(descriptor: pipe.fileHandleForReading.fileDescriptor, maximumLineBytes: maximumLineBytes)
        var values: [Any] = []
        defer { try? pipe.fileHandleForReading.close() }
        while let value = try reader.next() { values.append(value) }
        return values
    }

    // Issue 18: Foundation dropped a literal U+FEFF at the start of a string.
    func testLeadingByteOrderMarkInsideAStringIsKept() throws {
        let values = try readAll(Array("\"\u{FEFF}hello\"\n\"\\ufeffhello\"\n".utf8))
        XCTAssertEqual(values.count, 2)
        for value in values {
            XCTAssertEqual((value as? String)?.unicodeScalars.first, "\u{FEFF}")
            XCTAssertEqual((value as? String)?.unicodeScalars.count, 6)
        }
    }

    func testBlankLinesCRLFAndAFinalLineWithoutNewline() throws {
        let values = try readAll(Array("[1,2]\r\n\n   \n\"a\"\r\n{\"k\": true}".utf8))
        XCTAssertEqual(values.count, 3)
        XCTAssertEqual(values[0] as? [Int], [1, 2])
        XCTAssertEqual(values[1] as? String, "a")
        XCTAssertEqual((values[2] as? [String: Any])?["k"] as? Bool, true)
    }

    func testLinesLongerThanTheBufferChunkAreRead() throws {
        let text = String(repeating: "x", count: 200_000)
        let values = try readAll(Array("\"\(text)\"\n\"y\"\n".utf8))
        XCTAssertEqual(values.map { ($0 as? String)?.count }, [200_000, 1])
    }

    func testALineOverTheLimitIsAnErrorNamingTheLineAndTheLimit() throws {
        XCTAssertThrowsError(try readAll(Array("\"ok\"\n\"\(String(repeating: "z", count: 5000))\"\n".utf8), maximumLineBytes: 1000)) { error in
            XCTAssertEqual("\(error)", "standard input line 2: longer than 1000 bytes, the limit for one JSON Lines record")
        }
        // Without any newline at all, the reader stops at the limit instead of buffering everything.
        XCTAssertThrowsError(try readAll([UInt8](repeating: 0x61, count: 300_000), maximumLineBytes: 100_000)) { error in
            XCTAssertTrue("\(error)".contains("line 1: longer than 100000 bytes"), "\(error)")
        }
    }

    func testMalformedAndTooDeeplyNestedLinesNameTheLine() throws {
        XCTAssertThrowsError(try readAll(Array("1\n[1,\n".utf8))) { error in
            XCTAssertTrue("\(error)".hasPrefix("standard input line 2: not valid JSON"), "\(error)")
        }
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        XCTAssertThrowsError(try readAll(Array((deep + "\n").utf8))) { error in
            XCTAssertTrue("\(error)".contains("nested deeper than 512 levels"), "\(error)")
        }
        let fine = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
        XCTAssertEqual(try readAll(Array(fine.utf8)).count, 1)
    }
}
