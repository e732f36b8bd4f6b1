import Foundation
import MixtureCore
import MixtureFormats
@testable import MixtureMerge
import XCTest

/// Config grammar, parameter resolution and the errors users get for bad input.
final class MergeConfigTests: XCTestCase {
    let models = MergeGoldenTests.root.appendingPathComponent("models").path

    func parse(_ yaml: String) throws -> MergeConfiguration { try MergeConfigParser.parse(yaml, path: "test.yml") }

    func message(_ body: () throws -> Void) -> String {
        do { try body() } catch { return String(describing: error) }
        return "(no error)"
    }

    func testGradientsInterpolateAcrossLayersAndFiltersPickTheFirstMatch() throws {
        let spec = ParameterSpec("t", .float)
        let gradient = ParameterSetting.gradient([.int(0), .double(0.5), .int(1)])
        XCTAssertEqual(try evaluate(gradient, tensorName: "x", t: 0, spec: spec), .float(0))
        XCTAssertEqual(try evaluate(gradient, tensorName: "x", t: 0.25, spec: spec), .float(0.25))
        XCTAssertEqual(try evaluate(gradient, tensorName: "x", t: 0.75, spec: spec), .float(0.75))
        XCTAssertEqual(try evaluate(gradient, tensorName: "x", t: 1, spec: spec), .float(1))
        let config = try parse("""
            merge_method: slerp
            base_model: a
            slices:
              - sources:
                  - model: a
                    layer_range: [0, 4]
                  - model: b
                    layer_range: [0, 4]
            parameters:
              t:
                - filter: self_attn
                  value: [0, 1]
                - filter: mlp
                  value: 0.3
                - value: 0.5
            """)
        let setting = config.parameters!["t"]!
        XCTAssertEqual(try evaluate(setting, tensorName: "model.layers.0.self_attn.q_proj.weight", t: 0.5, spec: spec), .float(0.5))
        XCTAssertEqual(try evaluate(setting, tensorName: "model.layers.0.mlp.up_proj.weight", t: 0.5, spec: spec), .float(0.3))
        XCTAssertEqual(try evaluate(setting, tensorName: "model.norm.weight", t: 0.5, spec: spec), .float(0.5))
        XCTAssertEqual(config.slices?[0].sources[1].layerRange, 0..<4)
    }

    func testAnchorsAndMergeKeysAsPyYAMLReadsThem() throws {
        let config = try parse("""
            merge_method: ties
            base_model: b
            x-common: &common
              density: 0.5
              weight: 0.5
            models:
              - model: m1
                parameters: *common
              - model: m2
                parameters:
                  <<: *common
                  weight: 0.3
            """)
        XCTAssertEqual(config.models?[0].parameters?["density"], .scalar(.double(0.5)))
        XCTAssertEqual(config.models?[1].parameters?["density"], .scalar(.double(0.5)))
        XCTAssertEqual(config.models?[1].parameters?["weight"], .scalar(.double(0.3)), "the mapping's own key wins over the merged one")
        XCTAssertEqual(config.warnings.count, 1, "x-common is ignored with a warning: \(config.warnings)")
    }

    func testScalarsConvertLikePydantic() {
        XCTAssertEqual(ParameterSpec("x", .float).validate(.string("1e-5")), .float(1e-5))
        XCTAssertEqual(ParameterSpec("x", .bool).validate(.int(1)), .bool(true))
        XCTAssertEqual(ParameterSpec("x", .bool).validate(.string("false")), .bool(false))
        XCTAssertNil(ParameterSpec("x", .float).validate(.string("abc")))
        XCTAssertEqual(ParameterSpec("x", .int).validate(.double(3)), .int(3))
    }

    func testYAMLSyntaxErrorsNameTheLine() {
        let text = message { _ = try parse("merge_method: ties\nmodels:\n  - model: a\n   parameters: [1, 2\n") }
        XCTAssertTrue(text.contains("test.yml"), text)
        XCTAssertTrue(text.contains("line"), text)
        XCTAssertFalse(text.contains("\n"), "one line: \(text)")
    }

    func testStructuralErrors() throws {
        XCTAssertTrue(message { _ = try parse("models:\n  - model: a\n") }.contains("merge_method"))
        XCTAssertTrue(message { _ = try parse("merge_method: linear\n") }.contains("models' or 'slices"))
        // mergekit (pydantic) ignores unknown keys; so do we, with a warning.
        let ignored = try parse("merge_method: linear\nmodels:\n  - model: a\nbogus: 1\n")
        XCTAssertTrue(ignored.warnings.first?.contains("unknown top-level key") ?? false, "\(ignored.warnings)")
        let range = message { _ = try parse("merge_method: passthrough\nslices:\n  - sources:\n      - model: a\n        layer_range: [4, 2]\n") }
        XCTAssertTrue(range.contains("test.yml:5") && range.contains("layer_range"), range)
        XCTAssertTrue(message { _ = try parse("merge_method: linear\ndtype: int4\nmodels:\n  - model: a\n") }.contains("unsupported dtype"))
    }

    func writeConfig(_ yaml: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mixture-merge-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent("config.yml").path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func runMerge(_ yaml: String, force: Bool = false, output: String? = nil) -> String {
        message {
            let config = try writeConfig(yaml)
            var options = MergeOptions()
            options.force = force
            let out = output ?? (URL(fileURLWithPath: config).deletingLastPathComponent().appendingPathComponent("out").path)
            _ = try Merger.run(configPath: config, output: out, options: options)
        }
    }

    func testBadMergesGetOneLineErrors() throws {
        let unknownMethod = runMerge("merge_method: tiez\nmodels:\n  - model: \(models)/base\n")
        XCTAssertTrue(unknownMethod.contains("unknown method 'tiez'") && unknownMethod.contains("ties"), unknownMethod)

        let typo = runMerge("merge_method: ties\nbase_model: \(models)/base\nmodels:\n  - model: \(models)/ft1\n    parameters:\n      desnity: 0.5\n      weight: 1\n")
        XCTAssertTrue(typo.contains("desnity") && typo.contains("unknown parameter"), typo)

        let missingModel = runMerge("merge_method: linear\nmodels:\n  - model: \(models)/nope\n    parameters:\n      weight: 1\n")
        XCTAssertTrue(missingModel.contains("nope") && missingModel.contains("not found"), missingModel)

        let missingWeight = runMerge("merge_method: ties\nbase_model: \(models)/base\nmodels:\n  - model: \(models)/ft1\n")
        XCTAssertTrue(missingWeight.contains("weight") && missingWeight.contains("required"), missingWeight)

        let odd = try modelWithResizedNorm()
        let shapes = runMerge("merge_method: linear\nmodels:\n  - model: \(models)/base\n    parameters:\n      weight: 1\n  - model: \(odd)\n    parameters:\n      weight: 1\n")
        XCTAssertTrue(shapes.contains("model.norm.weight") && shapes.contains("[16]") && shapes.contains("[8]"), shapes)

        let missingTensor = runMerge("merge_method: linear\nslices:\n  - sources:\n      - model: \(models)/base\n        layer_range: [0, 2]\n        parameters:\n          weight: 1\n      - model: \(models)/moe_base\n        layer_range: [0, 2]\n        parameters:\n          weight: 1\n")
        XCTAssertTrue(missingTensor.contains("missing from"), missingTensor)

        let slerpThree = runMerge("merge_method: slerp\nbase_model: \(models)/base\nmodels:\n  - model: \(models)/ft1\n  - model: \(models)/ft2\nparameters:\n  t: 0.5\n")
        XCTAssertTrue(slerpThree.contains("exactly 2"), slerpThree)

        let beyond = runMerge("merge_method: passthrough\nslices:\n  - sources:\n      - model: \(models)/base\n        layer_range: [0, 9]\n")
        XCTAssertTrue(beyond.contains("beyond"), beyond)

        let missingAdapter = runMerge("merge_method: linear\nmodels:\n  - model: \(models)/base+\(models)/no-adapter\n    parameters:\n      weight: 1\n")
        XCTAssertTrue(missingAdapter.contains("no-adapter") && missingAdapter.contains("adapter_config.json"), missingAdapter)

        for text in [unknownMethod, typo, missingModel, missingWeight, shapes, missingTensor, slerpThree, beyond, missingAdapter] {
            XCTAssertFalse(text.contains("\n"), "one line: \(text)")
        }
    }

    /// A copy of the base model whose final norm has 8 entries instead of 16.
    func modelWithResizedNorm() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mixture-merge-odd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let base = URL(fileURLWithPath: models).appendingPathComponent("base")
        try FileManager.default.copyItem(at: base.appendingPathComponent("config.json"), to: dir.appendingPathComponent("config.json"))
        let folder = try ModelFolder(url: base)
        var entries: [SafeTensorsWriter.Entry] = []
        for name in folder.tensorNames.sorted() {
            let view = folder.tensor(name)!
            var values = try view.floats()
            var shape = view.info.shape
            if name == "model.norm.weight" { values = Array(values.prefix(8)); shape = [8] }
            entries.append(SafeTensorsWriter.Entry(name: name, floats: values, shape: shape))
        }
        try SafeTensorsWriter.write(entries, to: dir.appendingPathComponent("model.safetensors"))
        return dir.path
    }

    func testExistingOutputNeedsForceAndFailedMergesLeaveNothing() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mixture-merge-out-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try "x".write(to: dir.appendingPathComponent("keep.txt"), atomically: true, encoding: .utf8)
        let yaml = "merge_method: linear\nmodels:\n  - model: \(models)/base\n    parameters:\n      weight: 1\n  - model: \(models)/ft1\n    parameters:\n      weight: 1\n"
        let refused = runMerge(yaml, output: dir.path)
        XCTAssertTrue(refused.contains("--force"), refused)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("keep.txt").path))

        // A failure half way (a shape mismatch found while planning) leaves the old folder as it was.
        let failed = runMerge("merge_method: linear\nmodels:\n  - model: \(models)/base\n    parameters:\n      weight: 1\n  - model: \(try modelWithResizedNorm())\n    parameters:\n      weight: 1\n", force: true, output: dir.path)
        XCTAssertNotEqual(failed, "(no error)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("keep.txt").path))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.deletingLastPathComponent().path).filter { $0.contains(dir.lastPathComponent) && $0.contains("partial") }
        XCTAssertEqual(leftovers, [])

        XCTAssertEqual(runMerge(yaml, force: true, output: dir.path), "(no error)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("keep.txt").path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("model.safetensors").path))
    }
}

/// torch's argsort order among ties (Scripts/gen_merge_fixtures.py writes torch_sort_ties.json).
final class TorchSortOrderTests: XCTestCase {
    struct Sample: Decodable { var keys: [Float]; var descending: Bool; var order: [Int] }

    func testReplaysTorchsOrderAmongTies() throws {
        let data = try Data(contentsOf: MergeGoldenTests.root.appendingPathComponent("torch_sort_ties.json"))
        let samples = try JSONDecoder().decode([Sample].self, from: data)
        XCTAssertGreaterThanOrEqual(samples.count, 10)
        for (s, sample) in samples.enumerated() {
            let n = sample.keys.count
            for k in Set([1, n / 3, n / 2, n - 1, 16, 17].filter { $0 > 0 && $0 < n }) {
                let order = TorchSortOrder.order(sample.keys, descending: sample.descending, boundaries: [k])
                XCTAssertEqual(Set(order[0..<k].map(Int.init)), Set(sample.order[0..<k]), "sample \(s) (n \(n), descending \(sample.descending)): first \(k)")
            }
            // Two boundaries (breadcrumbs' window).
            let lo = n / 4, hi = 3 * n / 4
            let order = TorchSortOrder.order(sample.keys, descending: sample.descending, boundaries: [lo, hi])
            XCTAssertEqual(Set(order[lo..<hi].map(Int.init)), Set(sample.order[lo..<hi]), "sample \(s): window")
        }
    }

    func testAStableOrderWouldNotDo() throws {
        // The fixture must be able to tell torch's order from index order (or the test above proves nothing).
        let data = try Data(contentsOf: MergeGoldenTests.root.appendingPathComponent("torch_sort_ties.json"))
        let samples = try JSONDecoder().decode([Sample].self, from: data)
        var differs = 0
        for sample in samples {
            let stable = sample.keys.indices.sorted { a, b in
                let x = sample.keys[a], y = sample.keys[b]
                return sample.descending ? (x > y || (x == y && a < b)) : (x < y || (x == y && a < b))
            }
            let k = sample.keys.count / 2
            if Set(stable[0..<k]) != Set(sample.order[0..<k]) { differs += 1 }
        }
        XCTAssertGreaterThan(differs, 3)
    }
}

final class ChatTemplateTests: XCTestCase {
    let models = MergeGoldenTests.root.appendingPathComponent("models").path

    func run(_ template: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mixture-merge-chat-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let config = dir.appendingPathComponent("config.yml")
        try "merge_method: linear\nmodels:\n  - model: \(models)/base\n    parameters:\n      weight: 1\nchat_template: \(template)\n"
            .write(to: config, atomically: true, encoding: .utf8)
        _ = try Merger.run(configPath: config.path, output: dir.appendingPathComponent("out").path)
        return dir.appendingPathComponent("out")
    }

    func testALiteralTemplateIsWrittenAndNamedOnesAreRefused() throws {
        let out = try run("\"{% for m in messages %}{{ m['content'] }}{% endfor %}\"")
        let text = try String(contentsOf: out.appendingPathComponent("chat_template.jinja"), encoding: .utf8)
        XCTAssertEqual(text, "{% for m in messages %}{{ m['content'] }}{% endfor %}")
        XCTAssertThrowsError(try run("chatml")) { error in
            XCTAssertTrue(String(describing: error).contains("chat_template"), "\(error)")
        }
    }
}
