import Foundation
import MixtureCore

/// A problem loading or running a tokenizer: one line that names the file, the field and the cause.
public struct TokenizerError: Error, CustomStringConvertible, Equatable {
    public let description: String

    public init(_ description: String) {
        self.description = description.escapingLineBreaks
    }

    static func fileNotFound(_ path: String) -> TokenizerError {
        TokenizerError("\(path): no tokenizer.json found (expected a tokenizer.json file or a folder containing one)")
    }

    static func unreadable(_ path: String, _ detail: String) -> TokenizerError {
        TokenizerError("\(path): cannot read file (\(detail))")
    }

    static func invalidJSON(_ file: String, _ detail: String) -> TokenizerError {
        TokenizerError("\(file): invalid JSON (\(detail))")
    }

    static func missingField(_ file: String, _ field: String) -> TokenizerError {
        TokenizerError("\(file): missing field '\(field)'")
    }

    static func invalidField(_ file: String, _ field: String, _ detail: String) -> TokenizerError {
        TokenizerError("\(file): invalid '\(field)': \(detail)")
    }

    static func unsupportedType(_ file: String, _ component: String, _ type: String, supported: [String]) -> TokenizerError {
        TokenizerError("\(file): unsupported \(component) type '\(type)' (supported: \(supported.joined(separator: ", ")))")
    }

    static func unsupportedRegex(_ file: String, _ pattern: String, _ detail: String) -> TokenizerError {
        TokenizerError("\(file): unsupported regex pattern \(pattern.debugDescription): \(detail)")
    }

    static func encoding(_ detail: String) -> TokenizerError {
        TokenizerError("encode: \(detail)")
    }
}
