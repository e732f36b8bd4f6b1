import Foundation
import XCTest
@testable import MixtureCore

/// Our quantizers against ggml's own (`ggml_quantize_chunk`, what llama-quantize runs): every
/// quantized row must hash the same, with and without importance weights. The rows come from a
/// formula computed exactly on both sides; the hashes from Scripts/gen_quantize_fixtures.py.
final class QuantizeParityTests: XCTestCase {
    struct Entry: Decodable {
        let id: UInt32
        let rowBytes: Int
        let plain: [String]
        let weighted: [String]
        let plainRMSE: Double
        let weightedRMSE: Double
    }

    struct Fixture: Decodable {
        let rows: Int
        let perRow: Int
        let seed: UInt64
        let importanceSeed: UInt64
        let types: [String: Entry]
        let probe: [String: Double]
    }

    struct SplitMix64 {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func unit(_ u: UInt64) -> Float { Float(Int64(u >> 40) - (1 << 23)) * Float(sign: .plus, exponent: -23, significand: 1) }

    /// The generator's rows(), value for value.
    static func rows(_ f: Fixture) -> [Float] {
        var g = SplitMix64(state: f.seed)
        var x = [Float](repeating: 0, count: f.rows * f.perRow)
        for r in 0..<f.rows {
            let scale = Float(sign: .plus, exponent: -(r % 5), significand: 1)
            for j in 0..<f.perRow {
                let u = g.next()
                var v = unit(u)
                v = v * abs(v)
                if u & 0xFF < 3 { v = v * 8 }
                x[r * f.perRow + j] = v * scale
            }
        }
        func set(_ r: Int, _ cols: Range<Int>, _ body: (Float) -> Float) {
            for j in cols { x[r * f.perRow + j] = body(x[r * f.perRow + j]) }
        }
        set(3, 0..<f.perRow) { _ in 0 }
        set(5, 0..<64) { _ in 0 }
        set(7, 0..<f.perRow) { _ in 0.25 }
        set(9, 0..<f.perRow) { abs($0) }
        set(11, 0..<f.perRow) { $0 * Float(sign: .plus, exponent: -60, significand: 1) }
        set(13, 32..<40) { _ in -1.5 }
        return x
    }

    static func importance(_ f: Fixture) -> [Float] {
        var g = SplitMix64(state: f.importanceSeed)
        return (0..<f.perRow).map { _ in Float(0.25) + Float(g.next() >> 40) * Float(sign: .plus, exponent: -22, significand: 1) }
    }

    static func fnv1a(_ bytes: UnsafeRawBufferPointer) -> String {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    func load() throws -> Fixture {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/quantize/rows.json")
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    func testInputFormulaMatchesGenerator() throws {
        let f = try load()
        let x = Self.rows(f), w = Self.importance(f)
        XCTAssertEqual(Double(x[0]), f.probe["x[0][0]"])
        XCTAssertEqual(Double(x[1 * f.perRow + 7]), f.probe["x[1][7]"])
        XCTAssertEqual(Double(x[23 * f.perRow + 511]), f.probe["x[23][511]"])
        XCTAssertEqual(Double(w[0]), f.probe["w[0]"])
        XCTAssertEqual(Double(w[511]), f.probe["w[511]"])
    }

    func testEveryTypeMatchesGGMLBitForBit() throws {
        let f = try load()
        let x = Self.rows(f), w = Self.importance(f)
        XCTAssertEqual(Set(f.types.keys), Set(GGMLQuantize.quantizable.filter { $0 != .f32 }.map(\.description)))
        for (name, entry) in f.types.sorted(by: { $0.key < $1.key }) {
            let type = try XCTUnwrap(GGMLType(rawValue: entry.id), name)
            XCTAssertEqual(type.description, name)
            XCTAssertEqual(type.byteCount(elements: f.perRow), entry.rowBytes, name)
            for (label, expected, weights) in [("plain", entry.plain, nil), ("weighted", entry.weighted, w)] as [(String, [String], [Float]?)] {
                var out = [UInt8](repeating: 0, count: f.rows * entry.rowBytes)
                let ok = x.withUnsafeBufferPointer { xs in
                    out.withUnsafeMutableBytes { o in
                        if let weights {
                            return weights.withUnsafeBufferPointer {
                                GGMLQuantize.quantize(type, xs.baseAddress!, rows: f.rows, perRow: f.perRow, into: o.baseAddress!,
                                                      importance: $0.baseAddress!)
                            }
                        }
                        return GGMLQuantize.quantize(type, xs.baseAddress!, rows: f.rows, perRow: f.perRow, into: o.baseAddress!)
                    }
                }
                XCTAssertTrue(ok, name)
                let got = out.withUnsafeBytes { o in
                    (0..<f.rows).map { Self.fnv1a(UnsafeRawBufferPointer(rebasing: o[$0 * entry.rowBytes..<($0 + 1) * entry.rowBytes])) }
                }
                let wrong = (0..<f.rows).filter { got[$0] != expected[$0] }
                XCTAssertEqual(wrong, [], "\(name) \(label): rows differing from ggml")
            }
        }
    }
}
