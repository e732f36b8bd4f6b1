import Foundation
import MixtureCore

/// A decoded JSON object together with the field path it came from, so that every error can name
/// the file and the field (e.g. `tokenizer.json: invalid 'pre_tokenizer.pretokenizers[1].behavior'`).
struct JSONObject {
    let file: String
    let path: String
    let storage: [String: Any]

    init(file: String, path: String, storage: [String: Any]) {
        self.file = file
        self.path = path
        self.storage = storage
    }

    static func parse(data: Data, file: String) throws -> JSONObject {
        let value: Any
        do {
            value = try JSONParser.parse(data)
        } catch let error as JSONParser.ParseError {
            throw TokenizerError.invalidJSON(file, "\(error.message) at byte \(error.offset)")
        }
        guard let dictionary = value as? [String: Any] else {
            throw TokenizerError.invalidJSON(file, "top level is not an object")
        }
        return JSONObject(file: file, path: "", storage: dictionary)
    }

    func fieldPath(_ key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }

    func has(_ key: String) -> Bool {
        if let value = storage[key], !(value is JSONNull) { return true }
        return false
    }

    func raw(_ key: String) -> Any? {
        guard let value = storage[key], !(value is JSONNull) else { return nil }
        return value
    }

    func error(_ key: String, _ detail: String) -> TokenizerError {
        TokenizerError.invalidField(file, fieldPath(key), detail)
    }

    func object(_ key: String) throws -> JSONObject? {
        guard let value = raw(key) else { return nil }
        guard let dictionary = value as? [String: Any] else { throw error(key, "expected an object") }
        return JSONObject(file: file, path: fieldPath(key), storage: dictionary)
    }

    func requiredObject(_ key: String) throws -> JSONObject {
        guard let object = try object(key) else { throw TokenizerError.missingField(file, fieldPath(key)) }
        return object
    }

    func objects(_ key: String) throws -> [JSONObject] {
        guard let value = raw(key) else { throw TokenizerError.missingField(file, fieldPath(key)) }
        guard let array = value as? [Any] else { throw error(key, "expected an array") }
        return try array.enumerated().map { index, element in
            guard let dictionary = element as? [String: Any] else {
                throw TokenizerError.invalidField(file, "\(fieldPath(key))[\(index)]", "expected an object")
            }
            return JSONObject(file: file, path: "\(fieldPath(key))[\(index)]", storage: dictionary)
        }
    }

    func string(_ key: String) throws -> String? {
        guard let value = raw(key) else { return nil }
        guard let string = value as? String else { throw error(key, "expected a string") }
        return string
    }

    func requiredString(_ key: String) throws -> String {
        guard let string = try string(key) else { throw TokenizerError.missingField(file, fieldPath(key)) }
        return string
    }

    func bool(_ key: String) throws -> Bool? {
        guard let value = raw(key) else { return nil }
        if let bool = value as? Bool { return bool }
        throw error(key, "expected true or false")
    }

    func bool(_ key: String, default defaultValue: Bool) throws -> Bool {
        try bool(key) ?? defaultValue
    }

    func int(_ key: String) throws -> Int? {
        guard let value = raw(key) else { return nil }
        if let number = JSONObject.integer(value) { return number }
        throw error(key, "expected an integer")
    }

    func double(_ key: String) throws -> Double? {
        guard let value = raw(key) else { return nil }
        if let number = value as? Double { return number }
        if let number = value as? Int { return Double(number) }
        throw error(key, "expected a number")
    }

    static func integer(_ value: Any) -> Int? {
        return value as? Int
    }

    /// The component's `type` discriminator.
    func type() throws -> String {
        try requiredString("type")
    }
}

/// Unicode scalar arrays are the text representation of the whole pipeline: Swift `Character`s are
/// grapheme clusters, while the tokenizers library works on code points.
typealias Scalars = [Unicode.Scalar]

extension String {
    var scalars: Scalars { Array(unicodeScalars) }
}

extension Array where Element == Unicode.Scalar {
    var string: String { self[...].string }
}

extension ArraySlice where Element == Unicode.Scalar {
    /// Via UTF-8 bytes: appending scalars to a String one by one is several times slower.
    var string: String {
        if isEmpty { return "" }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count * 2)
        for scalar in self { scalar.appendUTF8(to: &bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
