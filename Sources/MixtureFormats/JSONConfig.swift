import Foundation
import MixtureCore

/// Typed access to a JSON config file (`config.json`, `adapter_config.json`, ...), where every
/// missing or mistyped field becomes an error naming the file and the field.
public struct JSONConfig: @unchecked Sendable {
    public let path: String
    public let values: [String: Any]

    public init(data: Data, path: String) throws {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw MixtureError.invalidFile(path: path, reason: "not valid JSON" + (JSONParser.problem(in: data).map { " (\($0))" } ?? ""))
        }
        guard let dictionary = object as? [String: Any] else {
            throw MixtureError.invalidFile(path: path, reason: "not a JSON object")
        }
        self.init(values: dictionary, path: path)
    }

    public init(values: [String: Any], path: String) {
        self.values = values
        self.path = path
    }

    public static func load(_ url: URL) throws -> JSONConfig {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw MixtureError.missingFile(path: url.path, reason: "missing")
        }
        return try JSONConfig(data: data, path: url.path)
    }

    public func has(_ key: String) -> Bool {
        guard let v = values[key] else { return false }
        return !(v is NSNull)
    }

    private func missing(_ key: String) -> MixtureError {
        .invalidConfig(path: path, field: key, reason: "required but missing")
    }

    private func mistyped(_ key: String, _ expected: String) -> MixtureError {
        .invalidConfig(path: path, field: key, reason: "expected \(expected), found \(values[key].map { "\($0)" } ?? "nothing")")
    }

    public func int(_ key: String) throws -> Int {
        guard has(key) else { throw missing(key) }
        guard let v = optionalIntValue(values[key]!) else { throw mistyped(key, "an integer") }
        return v
    }

    public func int(_ key: String, default value: Int) throws -> Int {
        has(key) ? try int(key) : value
    }

    public func optionalInt(_ key: String) throws -> Int? {
        has(key) ? try int(key) : nil
    }

    /// A size that later allocations are made from: positive (or, with `allowZero`, zero) and at most
    /// `bound` (see `PlausibleBounds`).
    public func count(_ key: String, atMost bound: Int, allowZero: Bool = false) throws -> Int {
        try checkedCount(key, try int(key), atMost: bound, allowZero: allowZero)
    }

    public func count(_ key: String, default value: Int, atMost bound: Int, allowZero: Bool = false) throws -> Int {
        has(key) ? try count(key, atMost: bound, allowZero: allowZero) : value
    }

    public func optionalCount(_ key: String, atMost bound: Int, allowZero: Bool = false) throws -> Int? {
        has(key) ? try count(key, atMost: bound, allowZero: allowZero) : nil
    }

    public func checkedCount(_ key: String, _ value: Int, atMost bound: Int, allowZero: Bool = false) throws -> Int {
        guard value > 0 || (allowZero && value == 0) else {
            throw MixtureError.invalidConfig(path: path, field: key, reason: "must be \(allowZero ? "zero or positive" : "positive"), found \(value)")
        }
        guard value <= bound else {
            throw MixtureError.invalidConfig(path: path, field: key, reason: "\(value) is beyond any real model's (at most \(bound) accepted)")
        }
        return value
    }

    public func double(_ key: String) throws -> Double {
        guard has(key) else { throw missing(key) }
        if let d = values[key] as? Double { return d }
        if let i = values[key] as? Int { return Double(i) }
        throw mistyped(key, "a number")
    }

    public func double(_ key: String, default value: Double) throws -> Double {
        has(key) ? try double(key) : value
    }

    public func optionalDouble(_ key: String) throws -> Double? {
        has(key) ? try double(key) : nil
    }

    public func bool(_ key: String, default value: Bool) throws -> Bool {
        guard has(key) else { return value }
        guard Self.isBoolean(values[key]!), let b = values[key] as? Bool else { throw mistyped(key, "true or false") }
        return b
    }

    public func string(_ key: String) throws -> String {
        guard has(key) else { throw missing(key) }
        guard let s = values[key] as? String else { throw mistyped(key, "a string") }
        return s
    }

    public func optionalString(_ key: String) throws -> String? {
        has(key) ? try string(key) : nil
    }

    public func intArray(_ key: String, default value: [Int]) throws -> [Int] {
        guard has(key) else { return value }
        guard let array = values[key] as? [Any] else { throw mistyped(key, "a list of integers") }
        return try array.map { element in
            guard let i = optionalIntValue(element) else { throw mistyped(key, "a list of integers") }
            return i
        }
    }

    public func stringArray(_ key: String) throws -> [String]? {
        guard has(key) else { return nil }
        guard let array = values[key] as? [String] else { throw mistyped(key, "a list of strings") }
        return array
    }

    /// A nested object, with the field name carried into its error messages.
    public func object(_ key: String) throws -> JSONConfig? {
        guard has(key) else { return nil }
        guard let dictionary = values[key] as? [String: Any] else { throw mistyped(key, "an object") }
        return JSONConfig(values: dictionary, path: "\(path): \(key)")
    }

    /// Foundation bridges JSON numbers and booleans to NSNumber, and `is Bool` holds for both on Linux;
    /// only the boolean singletons have this class.
    static func isBoolean(_ value: Any) -> Bool {
        String(describing: type(of: value)).hasSuffix("Boolean") || type(of: value) == Bool.self
    }

    private func optionalIntValue(_ value: Any) -> Int? {
        if Self.isBoolean(value) { return nil }
        if let i = value as? Int { return i }
        if let d = value as? Double, d == d.rounded(), abs(d) < 9.0e15 { return Int(d) }
        return nil
    }
}
