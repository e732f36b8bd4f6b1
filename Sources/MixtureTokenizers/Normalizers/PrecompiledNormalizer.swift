import Foundation
import MixtureCore

/// SentencePiece's compiled normalization rules (`precompiled_charsmap`): a darts-clone double
/// array over UTF-8 bytes whose values index NUL-terminated replacement strings.
///
/// Mirrors the tokenizers library exactly, including its quirk of looking whole grapheme clusters
/// (under 6 bytes) up first and using the first (shortest) prefix match.
struct PrecompiledNormalizer: Normalizer {
    private let units: [UInt32]
    private let normalized: [UInt8]

    init(json: JSONObject) throws {
        guard let encoded = try json.string("precompiled_charsmap"), !encoded.isEmpty else {
            units = []
            normalized = []
            return
        }
        guard let data = Data(base64Encoded: encoded) else {
            throw json.error("precompiled_charsmap", "not valid base64")
        }
        let bytes = [UInt8](data)
        guard bytes.count >= 4 else { throw json.error("precompiled_charsmap", "too short") }
        let trieSize = Int(UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24)
        guard trieSize % 4 == 0, 4 + trieSize <= bytes.count else {
            throw json.error("precompiled_charsmap", "trie size \(trieSize) exceeds the data")
        }
        var units = [UInt32](repeating: 0, count: trieSize / 4)
        for index in units.indices {
            let offset = 4 + index * 4
            units[index] = UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8
                | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
        }
        self.units = units
        self.normalized = Array(bytes[(4 + trieSize)...])
    }

    /// The values of all keys that are prefixes of `key`, shortest first (darts-clone).
    private func firstPrefixValue(_ key: [UInt8]) -> Int? {
        guard !units.isEmpty else { return nil }
        func offset(_ unit: UInt32) -> Int { Int((unit >> 10) << ((unit & (1 << 9)) >> 6)) }
        var nodePosition = 0
        var unit = units[nodePosition]
        nodePosition ^= offset(unit)
        for byte in key {
            if byte == 0 { break }
            nodePosition ^= Int(byte)
            guard nodePosition < units.count else { return nil }
            unit = units[nodePosition]
            if Int(unit & ((1 << 31) | 0xFF)) != Int(byte) { return nil }
            nodePosition ^= offset(unit)
            if (unit >> 8) & 1 == 1 {
                guard nodePosition < units.count else { return nil }
                return Int(units[nodePosition] & ((1 << 31) - 1))
            }
        }
        return nil
    }

    private func transform(_ key: [UInt8]) -> [UInt8]? {
        guard let start = firstPrefixValue(key), start < normalized.count else { return nil }
        var end = start
        while end < normalized.count && normalized[end] != 0 { end += 1 }
        return Array(normalized[start..<end])
    }

    func normalize(_ text: Scalars) -> Scalars {
        if units.isEmpty || text.isEmpty { return text }
        var output: [UInt8] = []
        output.reserveCapacity(text.count + 8)
        var key: [UInt8] = []
        for grapheme in text.string {
            key.removeAll(keepingCapacity: true)
            for scalar in grapheme.unicodeScalars { scalar.appendUTF8(to: &key) }
            if key.count < 6, let replacement = transform(key) {
                output.append(contentsOf: replacement)
                continue
            }
            for scalar in grapheme.unicodeScalars {
                var part: [UInt8] = []
                scalar.appendUTF8(to: &part)
                if let replacement = transform(part) {
                    output.append(contentsOf: replacement)
                } else {
                    output.append(contentsOf: part)
                }
            }
        }
        return String(decoding: output, as: UTF8.self).scalars
    }
}
