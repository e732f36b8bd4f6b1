/// Errors for bad input. Each renders as one line naming the file or field and what is wrong.
public enum MixtureError: Error, CustomStringConvertible, Equatable {
    /// A file exists but its content is malformed (truncated, bad header, bad offsets, wrong shape).
    case invalidFile(path: String, reason: String)
    /// A file the input refers to is not there.
    case missingFile(path: String, reason: String)
    /// A configuration value is missing or not supported.
    case invalidConfig(path: String, field: String, reason: String)
    /// A request the caller made that cannot be honoured (bad ids, bad option values).
    case invalidArgument(String)

    public var description: String {
        let text: String
        switch self {
        case .invalidFile(let path, let reason): text = "\(path): \(reason)"
        case .missingFile(let path, let reason): text = "\(path): \(reason)"
        case .invalidConfig(let path, let field, let reason): text = "\(path): field '\(field)': \(reason)"
        case .invalidArgument(let message): text = message
        }
        return text.escapingLineBreaks
    }
}

extension String {
    /// The text on one line: messages quote names and values from untrusted files, and a newline or
    /// other control character in those is shown escaped (`\n`, `\u{1B}`) instead of breaking the line.
    public var escapingLineBreaks: String {
        guard unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F || $0 == "\u{2028}" || $0 == "\u{2029}" || $0 == "\u{85}" }) else {
            return self
        }
        var out = String.UnicodeScalarView()
        for scalar in unicodeScalars {
            switch scalar {
            case "\n": out.append(contentsOf: "\\n".unicodeScalars)
            case "\r": out.append(contentsOf: "\\r".unicodeScalars)
            case "\t": out.append(scalar)
            case _ where scalar.value < 0x20 || scalar.value == 0x7F || scalar == "\u{2028}" || scalar == "\u{2029}" || scalar == "\u{85}":
                out.append(contentsOf: "\\u{\(String(scalar.value, radix: 16, uppercase: true))}".unicodeScalars)
            default: out.append(scalar)
            }
        }
        return String(out)
    }
}
