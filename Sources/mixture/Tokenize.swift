import ArgumentParser
import Foundation
import MixtureCore
import MixtureFormats
import MixtureModels
import MixtureTokenizers

/// Reads JSON Lines from standard input, one value per line; blank lines are skipped.
func readJSONLines(_ body: (Any, Int) throws -> Void) throws {
    var reader = JSONLinesReader()
    while let value = try reader.next() {
        try body(value, reader.lineNumber)
    }
}

func writeLine(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Encode text: JSON Lines of strings on stdin, JSON Lines of id arrays on stdout.")

    @Option(help: "tokenizer.json, a folder holding it (and tokenizer_config.json), or a GGUF file (its tokenizer.ggml.* metadata).")
    var tokenizer: String

    @Flag(name: .customLong("no-special-tokens"), help: "Do not add special tokens (BOS, [CLS]/[SEP], ...).")
    var noSpecialTokens = false

    @Flag(help: "Print encoding throughput (time inside encode only) to standard error.")
    var timing = false

    func run() throws {
        let tok = try Tokenizer.load(from: URL(fileURLWithPath: tokenizer))
        let clock = ContinuousClock()
        var encodeTime = Duration.zero
        var bytes = 0, tokens = 0
        try readJSONLines { value, line in
            guard let text = value as? String else { throw MixtureError.invalidArgument("standard input line \(line): expected a JSON string") }
            let began = clock.now
            let ids = try tok.encode(text, addSpecialTokens: !noSpecialTokens)
            encodeTime += clock.now - began
            bytes += text.utf8.count
            tokens += ids.count
            writeLine("[" + ids.map(String.init).joined(separator: ",") + "]")
        }
        if timing {
            let seconds = encodeTime.seconds
            printError(String(format: "encoded %d bytes into %d tokens in %.3f s: %.2f MB/s", bytes, tokens, seconds, Double(bytes) / max(seconds, 1e-9) / 1e6))
        }
    }
}

struct Detokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decode ids: JSON Lines of id arrays on stdin, JSON Lines of strings on stdout.")

    @Option(help: "tokenizer.json, a folder holding it, or a GGUF file.")
    var tokenizer: String

    @Flag(name: .customLong("keep-special-tokens"), help: "Keep special tokens in the text (default: skip them).")
    var keepSpecialTokens = false

    func run() throws {
        let tok = try Tokenizer.load(from: URL(fileURLWithPath: tokenizer))
        try readJSONLines { value, line in
            guard let array = value as? [Any] else { throw MixtureError.invalidArgument("standard input line \(line): expected a JSON array of token ids") }
            let ids = try array.map { element -> Int in
                guard let id = element as? Int, !(String(describing: type(of: element)).hasSuffix("Boolean")) else {
                    throw MixtureError.invalidArgument("standard input line \(line): '\(element)' is not an integer token id")
                }
                guard id >= 0 && id < tok.vocabularySize else {
                    throw MixtureError.invalidArgument("standard input line \(line): token id \(id) is out of range (vocabulary size \(tok.vocabularySize))")
                }
                return id
            }
            let text = tok.decode(ids, skipSpecialTokens: !keepSpecialTokens)
            let encoded = try JSONSerialization.data(withJSONObject: text, options: [.fragmentsAllowed, .withoutEscapingSlashes])
            writeLine(String(decoding: encoded, as: UTF8.self))
        }
    }
}
