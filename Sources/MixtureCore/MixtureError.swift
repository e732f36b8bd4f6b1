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
        switch self {
        case .invalidFile(let path, let reason): return "\(path): \(reason)"
        case .missingFile(let path, let reason): return "\(path): \(reason)"
        case .invalidConfig(let path, let field, let reason): return "\(path): field '\(field)': \(reason)"
        case .invalidArgument(let message): return message
        }
    }
}
