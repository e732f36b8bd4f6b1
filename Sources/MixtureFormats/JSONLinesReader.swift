import Foundation
import MixtureCore

/// Reads JSON Lines (one JSON value per line) from a file descriptor, standard input by default.
/// Lines are bounded (`PlausibleBounds.lineBytes`), so endless input without a newline fails with an
/// error instead of growing memory; blank lines are skipped; `\r\n` endings are accepted. Values are
/// read by `JSONParser`, which keeps every character of a string (a leading U+FEFF included).
public struct JSONLinesReader {
    public let source: String
    public let maximumLineBytes: Int
    /// The number of the line `next()` returned last, from 1.
    public private(set) var lineNumber = 0
    private let descriptor: Int32
    private var buffer: [UInt8] = []
    private var start = 0
    private var endOfInput = false

    public init(descriptor: Int32 = STDIN_FILENO, source: String = "standard input",
                maximumLineBytes: Int = PlausibleBounds.lineBytes) {
        self.descriptor = descriptor
        self.source = source
        self.maximumLineBytes = maximumLineBytes
    }

    /// The next non-blank line's value, or nil at the end of the input.
    public mutating func next() throws -> Any? {
        while let line = try nextLine() {
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            return try Self.parse(line: line, number: lineNumber, source: source)
        }
        return nil
    }

    /// One line's value, with the error naming the line.
    public static func parse(line: [UInt8], number: Int, source: String = "standard input") throws -> Any {
        do {
            return try JSONParser.parse(bytes: line)
        } catch let error as JSONParser.ParseError {
            throw MixtureError.invalidArgument("\(source) line \(number): not valid JSON (\(error))")
        }
    }

    private mutating func nextLine() throws -> [UInt8]? {
        var searched = start
        while true {
            if let newline = buffer[searched...].firstIndex(of: 0x0A) {
                try checkLength(newline - start)
                var end = newline
                if end > start && buffer[end - 1] == 0x0D { end -= 1 }
                let line = Array(buffer[start..<end])
                start = newline + 1
                lineNumber += 1
                return line
            }
            searched = buffer.count
            try checkLength(buffer.count - start)
            if endOfInput {
                guard start < buffer.count else { return nil }
                let line = Array(buffer[start...])
                start = buffer.count
                lineNumber += 1
                return line
            }
            if start > 0 && start >= buffer.count / 2 {
                buffer.removeFirst(start)
                searched -= start
                start = 0
            }
            try fill()
        }
    }

    private func checkLength(_ count: Int) throws {
        guard count <= maximumLineBytes else {
            throw MixtureError.invalidArgument("\(source) line \(lineNumber + 1): longer than \(maximumLineBytes) bytes, the limit for one JSON Lines record")
        }
    }

    private mutating func fill() throws {
        let chunk = 1 << 16
        let old = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: chunk))
        let received = buffer.withUnsafeMutableBytes { raw -> Int in
            while true {
                let n = read(descriptor, raw.baseAddress! + old, chunk)
                if n < 0 && errno == EINTR { continue }
                return n
            }
        }
        guard received >= 0 else {
            buffer.removeLast(chunk)
            throw MixtureError.invalidArgument("\(source): read failed (\(String(cString: strerror(errno))))")
        }
        buffer.removeLast(chunk - received)
        if received == 0 { endOfInput = true }
    }
}
