import Foundation
import MixtureCore
import MixtureFormats
@testable import MixtureMerge
import XCTest

/// Golden parity with mergekit 0.1.5 (fixtures from Scripts/gen_merge_fixtures.py).
final class MergeGoldenTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/merge")

    struct Case: Decodable {
        var name: String
        var method: String
        var stochastic: Bool
        var seed: Int?
        var max_shard_size: String?
        var compare: String
        var notes: String?
        /// Tensors we write and mergekit drops (its architecture table lacks them), by name suffix.
        var extra_tensors: [String]?
    }

    static func cases() throws -> [Case] {
        let data = try Data(contentsOf: root.appendingPathComponent("cases.json"))
        return try JSONDecoder().decode([Case].self, from: data)
    }

    static func caseDirectory(_ name: String) -> URL { root.appendingPathComponent("cases/\(name)") }

    /// Runs our merge of a fixture case into a fresh temporary folder.
    static func merge(_ c: Case, seed: UInt64? = nil) throws -> URL {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("mixture-merge-\(c.name)-\(UUID().uuidString)")
        var options = MergeOptions()
        options.seed = seed ?? UInt64(c.seed ?? 0)
        if let s = c.max_shard_size { options.maxShardSize = parseShardSize(s) }
        _ = try Merger.run(configPath: caseDirectory(c.name).appendingPathComponent("config.yml").path, output: out.path, options: options)
        return out
    }

    static func parseShardSize(_ s: String) -> Int {
        let factors: [Character: Int] = ["K": 1_000, "M": 1_000_000, "B": 1_000_000_000]
        if let f = factors[s.last!], let v = Int(s.dropLast()) { return v * f }
        return Int(s)!
    }

    /// All tensors of a folder as (dtype, shape, Float values, raw bits for 16-bit types).
    static func tensors(_ folder: URL) throws -> [String: (dtype: SafeTensorsDType, shape: [Int], values: [Float])] {
        let model = try ModelFolder(url: folder)
        var out: [String: (SafeTensorsDType, [Int], [Float])] = [:]
        for name in model.tensorNames {
            let view = model.tensor(name)!
            out[name] = (view.info.dtype, view.info.shape, try view.floats())
        }
        return out
    }

    func testEveryDeterministicCaseMatchesMergekit() throws {
        let all = try Self.cases()
        XCTAssertGreaterThan(all.count, 30)
        var checked = 0
        for c in all where c.compare != "stats" {
            let out = try Self.merge(c)
            defer { try? FileManager.default.removeItem(at: out) }
            let expected = try Self.tensors(Self.caseDirectory(c.name).appendingPathComponent("expected"))
            let ours = try Self.tensors(out)
            let extra = Set(ours.keys).subtracting(expected.keys).filter { name in !(c.extra_tensors ?? []).contains { name.hasSuffix($0) } }
            XCTAssertEqual(extra, [], "\(c.name): tensors mergekit does not write")
            XCTAssertEqual(Set(expected.keys).subtracting(ours.keys), [], "\(c.name): tensors we do not write")
            for (name, e) in expected {
                guard let o = ours[name] else { continue }
                XCTAssertEqual(o.dtype, e.dtype, "\(c.name) \(name): dtype")
                XCTAssertEqual(o.shape, e.shape, "\(c.name) \(name): shape")
                guard o.values.count == e.values.count else { continue }
                let scale = e.values.reduce(Float(0)) { max($0, abs($1)) }
                var worst: Float = 0
                for i in 0..<e.values.count {
                    let err = abs(o.values[i] - e.values[i])
                    // F32: 1e-5 relative (floor at 1% of the tensor's largest value). BF16/F16
                    // outputs: bit-identical (we round where torch rounds).
                    let allowed: Float = c.compare == "exact" ? 1e-5 * max(abs(e.values[i]), 0.01 * scale) : 0
                    if err > allowed { worst = max(worst, err) }
                }
                XCTAssertEqual(worst, 0, "\(c.name) \(name): values differ beyond tolerance (max abs error \(worst))")
            }
            try checkConfigAndFiles(c, out)
            checked += 1
        }
        XCTAssertGreaterThan(checked, 25)
    }

    func checkConfigAndFiles(_ c: Case, _ out: URL) throws {
        let expectedDir = Self.caseDirectory(c.name).appendingPathComponent("expected")
        let e = try JSONConfig.load(expectedDir.appendingPathComponent("config.json")).values
        let o = try JSONConfig.load(out.appendingPathComponent("config.json")).values
        for key in ["num_hidden_layers", "vocab_size", "model_type", "hidden_size"] {
            XCTAssertEqual(o[key] as? Int ?? -1, e[key] as? Int ?? -1, "\(c.name): config.json \(key)")
        }
        for key in ["model_type"] { XCTAssertEqual(o[key] as? String, e[key] as? String, "\(c.name): config.json \(key)") }
        if let d = e["dtype"] as? String ?? e["torch_dtype"] as? String {
            XCTAssertEqual(o["dtype"] as? String ?? o["torch_dtype"] as? String, d, "\(c.name): config.json dtype")
        }
        let files = { (u: URL) in Set(((try? FileManager.default.contentsOfDirectory(atPath: u.path)) ?? []).filter { $0.hasSuffix(".safetensors") || $0.hasSuffix(".index.json") }) }
        XCTAssertEqual(files(out), files(expectedDir), "\(c.name): safetensors files")
        if FileManager.default.fileExists(atPath: expectedDir.appendingPathComponent("tokenizer.json").path) {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("tokenizer.json").path), "\(c.name): tokenizer.json copied")
        }
        if FileManager.default.fileExists(atPath: expectedDir.appendingPathComponent("model.safetensors.index.json").path) {
            let ei = try JSONConfig.load(expectedDir.appendingPathComponent("model.safetensors.index.json")).values["weight_map"] as? [String: String]
            let oi = try JSONConfig.load(out.appendingPathComponent("model.safetensors.index.json")).values["weight_map"] as? [String: String]
            XCTAssertEqual(oi, ei, "\(c.name): weight_map")
        }
    }

    /// DARE / DELLA with one fine-tune: merged - base = mask · delta · factor, so the kept fraction
    /// and the rescale factor can be read back and checked against the configured density and
    /// mergekit's formula (and against mergekit's own output for the fraction).
    func testRandomMaskMethodsKeepTheConfiguredDensityAndRescale() throws {
        let base = try Self.tensors(Self.root.appendingPathComponent("models/base"))
        let tuned = try Self.tensors(Self.root.appendingPathComponent("models/ft1"))
        var checked = 0
        for c in try Self.cases() where c.compare == "stats" && (c.name.hasSuffix("single") || c.name.hasSuffix("single_norescale")) {
            let config = try String(contentsOf: Self.caseDirectory(c.name).appendingPathComponent("config.yml"), encoding: .utf8)
            let parsed = try MergeConfigParser.parse(config, path: c.name)
            let settings = parsed.models?.first(where: { $0.model.path.hasSuffix("ft1") })?.parameters ?? [:]
            guard case .scalar(let d)? = settings["density"], let density = ParameterSpec("density", .float).validate(d)?.double else {
                XCTFail("\(c.name): no scalar density"); continue
            }
            let rescale = !c.name.hasSuffix("norescale")
            let out = try Self.merge(c)
            defer { try? FileManager.default.removeItem(at: out) }
            for (label, folder) in [("ours", out), ("mergekit", Self.caseDirectory(c.name).appendingPathComponent("expected"))] {
                let merged = try Self.tensors(folder)
                var changed = 0, kept = 0
                for (name, b) in base {
                    let t = tuned[name]!.values, m = merged[name]!.values
                    var l1 = 0.0, l1Kept = 0.0
                    var ratios: [Float] = []
                    for i in 0..<b.values.count {
                        let delta = t[i] - b.values[i]
                        guard delta != 0 else { continue }
                        changed += 1
                        l1 += Double(abs(delta))
                        let got = m[i] - b.values[i]
                        if got != 0 {
                            kept += 1
                            l1Kept += Double(abs(delta))
                            ratios.append(got / delta)
                        }
                    }
                    guard !ratios.isEmpty else { continue }
                    let expectedFactor = rescale ? Float(l1 / l1Kept) : 1
                    for r in ratios {
                        XCTAssertEqual(r, expectedFactor, accuracy: 2e-3 * expectedFactor, "\(c.name) \(label) \(name): kept entries scaled by \(r), formula gives \(expectedFactor)")
                    }
                }
                let fraction = Double(kept) / Double(changed)
                let sigma = (density * (1 - density) / Double(changed)).squareRoot()
                XCTAssertEqual(fraction, density, accuracy: 5 * sigma + 0.005, "\(c.name) \(label): kept fraction")
            }
            checked += 1
        }
        XCTAssertGreaterThanOrEqual(checked, 4)
    }

    func testEveryRandomCaseRunsAndWritesMergekitsTensors() throws {
        for c in try Self.cases() where c.compare == "stats" {
            let out = try Self.merge(c)
            defer { try? FileManager.default.removeItem(at: out) }
            let ours = try Self.tensors(out)
            let expected = try Self.tensors(Self.caseDirectory(c.name).appendingPathComponent("expected"))
            XCTAssertEqual(Set(ours.keys), Set(expected.keys), c.name)
            for (name, e) in expected {
                XCTAssertEqual(ours[name]?.shape, e.shape, "\(c.name) \(name)")
                XCTAssertEqual(ours[name]?.dtype, e.dtype, "\(c.name) \(name)")
                XCTAssertTrue(ours[name]?.values.allSatisfy(\.isFinite) ?? false, "\(c.name) \(name)")
            }
        }
    }

    func testRandomMethodsAreReproducibleWithASeedAndVaryWithout() throws {
        let c = try Self.cases().first { $0.name == "dare_ties" }!
        let a = try Self.merge(c, seed: 7), b = try Self.merge(c, seed: 7), other = try Self.merge(c, seed: 8)
        defer { for u in [a, b, other] { try? FileManager.default.removeItem(at: u) } }
        let ta = try Self.tensors(a), tb = try Self.tensors(b), to = try Self.tensors(other)
        XCTAssertTrue(ta.allSatisfy { tb[$0.key]!.values == $0.value.values }, "same seed, same output")
        XCTAssertFalse(ta.allSatisfy { to[$0.key]!.values == $0.value.values }, "another seed, other masks")
    }
}
