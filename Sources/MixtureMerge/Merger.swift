import Foundation
import MixtureCore
import MixtureFormats

/// Options for `Merger.run`.
public struct MergeOptions {
    /// Seed for the random masks of DARE / DELLA (nil: a random seed, printed in the summary).
    public var seed: UInt64?
    /// Largest shard in bytes before the output is split (mergekit's default: 5e9).
    public var maxShardSize: Int = 5_000_000_000
    /// Replace an existing non-empty output folder.
    public var force = false
    /// Copy tokenizer files from the base (or first) model.
    public var copyTokenizer = true
    /// Called after each tensor: (tensors done, tensors in all, bytes written).
    public var progress: ((Int, Int, Int) -> Void)?
    /// The folder relative model paths are tried from first.
    public var currentDirectory = FileManager.default.currentDirectoryPath

    public init() {}
}

/// What a merge wrote.
public struct MergeSummary {
    public var output: URL
    public var tensors: Int
    public var bytes: Int
    public var shards: [String]
    public var seed: UInt64
    public var warnings: [String]
    public var copiedFiles: [String]
}

/// Runs a mergekit-style merge: one output tensor at a time, streamed into safetensors shards in a
/// temporary folder that is renamed to the output at the end.
public enum Merger {
    /// Tokenizer and generation files mergekit copies from the donor model.
    static let tokenizerFiles = [
        "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json", "tokenizer.model",
        "added_tokens.json", "merges.txt", "vocab.json", "chat_template.jinja", "generation_config.json",
        "chat_template.json",
    ]

    public static func run(configPath: String, output: String, options: MergeOptions = MergeOptions()) throws -> MergeSummary {
        let outputURL = URL(fileURLWithPath: output).standardizedFileURL
        try OutputFolder.check(outputURL, force: options.force, inputs: [])
        let config = try MergeConfigParser.load(path: configPath)
        // Tensor-sized buffers come and go for every tensor: keep them in the heap (no mmap per
        // allocation, no page faults to zero fresh pages each time).
        HeapPolicy.keepLargeAllocationsInHeap()
        let seed = options.seed ?? UInt64.random(in: 0...UInt64(UInt32.max))
        // Adapters named as MODEL+LORA are folded here first; removed when the merge ends.
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("mixture-merge-lora-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let plan = try MergePlan.make(config: config, seed: seed, currentDirectory: options.currentDirectory, scratch: scratch)
        let chatTemplate = try resolveChatTemplate(plan)

        var summary: MergeSummary?
        try OutputFolder(outputURL, force: options.force).write { folder in
            summary = try write(plan: plan, configPath: configPath, to: folder, final: outputURL, seed: seed,
                                chatTemplate: chatTemplate, options: options)
        }
        return summary!
    }

    /// The `chat_template` setting as template text: "auto" takes the template most of the input
    /// models share; anything else must be the template itself.
    static func resolveChatTemplate(_ plan: MergePlan) throws -> String? {
        guard let setting = plan.config.chatTemplate else { return nil }
        if setting == "auto" {
            var counts: [String: Int] = [:]
            var order: [String] = []
            for model in plan.models {
                guard let t = chatTemplate(of: model.url)?.trimmingCharacters(in: .whitespacesAndNewlines), !t.isEmpty else { continue }
                if counts[t] == nil { order.append(t) }
                counts[t, default: 0] += 1
            }
            guard let best = order.max(by: { counts[$0]! < counts[$1]! || (counts[$0]! == counts[$1]! && order.firstIndex(of: $0)! > order.firstIndex(of: $1)!) }) else {
                return nil
            }
            return best
        }
        if setting.count < 256 && !setting.contains("\n") && !setting.contains("{") {
            throw MixtureError.invalidConfig(path: plan.config.path, field: "chat_template",
                                             reason: "'\(setting)' names one of mergekit's bundled templates, which are not included here; give the Jinja template text itself, or 'auto'")
        }
        guard setting.count >= 20, setting.contains("{") else {
            throw MixtureError.invalidConfig(path: plan.config.path, field: "chat_template", reason: "not a Jinja template")
        }
        return setting
    }

    /// A model folder's chat template: chat_template.jinja, or tokenizer_config.json's
    /// `chat_template` (a string, or a list of named templates whose "default" is taken).
    static func chatTemplate(of url: URL) -> String? {
        if let data = FileManager.default.contents(atPath: url.appendingPathComponent("chat_template.jinja").path) {
            return String(decoding: data, as: UTF8.self)
        }
        guard let data = FileManager.default.contents(atPath: url.appendingPathComponent("tokenizer_config.json").path),
              let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return nil }
        if let t = json["chat_template"] as? String { return t }
        if let list = json["chat_template"] as? [[String: Any]] {
            return list.first(where: { $0["name"] as? String == "default" })?["template"] as? String
        }
        return nil
    }

    static func write(plan: MergePlan, configPath: String, to folder: URL, final: URL, seed: UInt64, chatTemplate: String?,
                      options: MergeOptions) throws -> MergeSummary {
        // Shards: filled in plan order, a new one when the next tensor would pass the limit.
        var shards: [[Int]] = [[]]
        var current = 0
        for (i, t) in plan.tensors.enumerated() {
            if !shards[shards.count - 1].isEmpty && options.maxShardSize > 0 && current + t.byteCount > options.maxShardSize {
                shards.append([])
                current = 0
            }
            shards[shards.count - 1].append(i)
            current += t.byteCount
        }
        let names = shards.count == 1 ? ["model.safetensors"]
            : (1...shards.count).map { String(format: "model-%05d-of-%05d.safetensors", $0, shards.count) }
        var done = 0, bytes = 0
        let total = plan.tensors.count
        for (s, members) in shards.enumerated() {
            let entries = members.map { index -> SafeTensorsWriter.Entry in
                let t = plan.tensors[index]
                return SafeTensorsWriter.Entry(name: t.outputName, dtype: t.outputDType, shape: t.shape) { buffer in
                    try compute(t, plan: plan, into: buffer)
                    done += 1
                    bytes += t.byteCount
                    options.progress?(done, total, bytes)
                }
            }
            try SafeTensorsWriter.write(entries, metadata: ["format": "pt"], to: folder.appendingPathComponent(names[s]))
        }
        if shards.count > 1 {
            var weightMap: [String: String] = [:]
            for (s, members) in shards.enumerated() { for i in members { weightMap[plan.tensors[i].outputName] = names[s] } }
            let index: [String: Any] = ["metadata": ["total_size": plan.outputBytes, "mixture_version": MixtureCoreVersion.string], "weight_map": weightMap]
            try writeJSON(index, to: folder.appendingPathComponent("model.safetensors.index.json"))
        }

        // config.json from the donor, with the dtype and the layer / vocabulary counts updated.
        var outConfig = plan.models[plan.donor].config
        if let d = plan.config.outDtype ?? plan.config.dtype {
            outConfig[outConfig["torch_dtype"] != nil ? "torch_dtype" : "dtype"] = d.torchName
        }
        if let layers = plan.outputLayerCount {
            if outConfig["num_hidden_layers"] != nil || outConfig["n_layer"] == nil { outConfig["num_hidden_layers"] = layers } else { outConfig["n_layer"] = layers }
            if var types = outConfig["layer_types"] as? [Any], !types.isEmpty {
                // Per-layer lists follow the stacked layers of the first source's pattern.
                while types.count < layers { types.append(types[types.count - 1]) }
                outConfig["layer_types"] = Array(types.prefix(layers))
            }
        }
        if let vocab = plan.outputVocabularySize { outConfig["vocab_size"] = vocab }
        try writeJSON(outConfig, to: folder.appendingPathComponent("config.json"))

        var copied: [String] = []
        var warnings = plan.warnings
        if options.copyTokenizer, let donor = plan.tokenizerDonor {
            let source = plan.models[donor].url
            let fm = FileManager.default
            let hasConfig = fm.fileExists(atPath: source.appendingPathComponent("tokenizer_config.json").path)
            let hasModel = fm.fileExists(atPath: source.appendingPathComponent("tokenizer.json").path)
                || fm.fileExists(atPath: source.appendingPathComponent("tokenizer.model").path)
            if hasConfig && hasModel {
                for name in tokenizerFiles where fm.fileExists(atPath: source.appendingPathComponent(name).path) {
                    try fm.copyItem(at: source.appendingPathComponent(name), to: folder.appendingPathComponent(name))
                    copied.append(name)
                }
            } else {
                warnings.append("\(source.path) has no tokenizer_config.json with tokenizer.json / tokenizer.model: no tokenizer copied")
            }
        }
        if let template = chatTemplate {
            // transformers 5 reads chat_template.jinja; drop the copied tokenizer_config.json's own.
            try Data(template.utf8).write(to: folder.appendingPathComponent("chat_template.jinja"))
            let configURL = folder.appendingPathComponent("tokenizer_config.json")
            if let data = FileManager.default.contents(atPath: configURL.path),
               var json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any], json["chat_template"] != nil {
                json.removeValue(forKey: "chat_template")
                try writeJSON(json, to: configURL)
            }
            try? FileManager.default.removeItem(at: folder.appendingPathComponent("chat_template.json"))
            if !copied.contains("chat_template.jinja") { copied.append("chat_template.jinja") }
        } else if plan.config.chatTemplate == "auto" {
            warnings.append("chat_template: auto found no template in the input models")
        }
        if let text = FileManager.default.contents(atPath: configPath) {
            try text.write(to: folder.appendingPathComponent("mergekit_config.yml"))
        }
        return MergeSummary(output: final, tensors: plan.tensors.count, bytes: plan.outputBytes, shards: names,
                            seed: seed, warnings: warnings, copiedFiles: copied)
    }

    static func writeJSON(_ object: Any, to url: URL) throws {
        let data = try prettyJSON(object)
        try (data + Data("\n".utf8)).write(to: url)
    }

    /// Computes one output tensor into `buffer` (already sized for its shape and dtype).
    static func compute(_ t: PlannedTensor, plan: MergePlan, into buffer: UnsafeMutableRawBufferPointer) throws {
        let views = t.inputs.map { plan.models[$0.model].tensor($0.name)! }
        if t.isBuffer {
            guard views.allSatisfy({ $0.parts.count == 1 }) else {
                throw MixtureError.invalidArgument("\(t.outputName): fused non-floating tensors cannot be merged")
            }
            let first = UnsafeRawBufferPointer(start: views[0].parts[0].base, count: views[0].parts[0].info.dataRange.count)
            for v in views.dropFirst() {
                let other = UnsafeRawBufferPointer(start: v.parts[0].base, count: v.parts[0].info.dataRange.count)
                guard v.dtype == views[0].dtype, first.elementsEqual(other) else {
                    throw MixtureError.invalidArgument("\(t.outputName): non-floating buffer differs between inputs; resolve it before merging")
                }
            }
            buffer.copyMemory(from: first)
            return
        }
        let count = t.shape.reduce(1, *)
        var entries: [MergeEntry] = []
        let precision = t.arguments.precision
        let aligned = t.vocabularyRows != nil ? try alignVocabulary(t, views: views, plan: plan) : nil
        for (i, view) in views.enumerated() {
            var values = try aligned?[i] ?? widen(view, rows: t.vocabularyRows, outputCount: count)
            // Inputs are cast to the working dtype first, as mergekit's loader does.
            if precision.isReduced && WorkingPrecision(view.dtype) != precision {
                precision.round(&values)
            }
            entries.append(MergeEntry(model: t.inputs[i].model, isBase: t.inputs[i].model == t.baseModel, values: values))
        }
        // The Float copies are all the kernel needs; keep the mapped inputs out of the RSS.
        for (i, view) in views.enumerated() {
            for part in view.parts { plan.models[t.inputs[i].model].folder.release(part.info.name) }
        }
        let group = TensorGroup(name: t.outputName, shape: t.shape, entries: entries)
        var result: [Float]
        if t.passthrough {
            result = entries[0].values
        } else {
            result = try plan.method.kernel(group, t.arguments)
        }
        guard result.count == count else {
            throw MixtureError.invalidArgument("\(t.outputName): merge method \(plan.method.name) produced \(result.count) values for shape \(t.shape)")
        }
        // The method's result is a tensor of the working dtype before any out_dtype cast.
        if precision.isReduced && WorkingPrecision(t.outputDType) != precision && !(plan.method.float32Result && !t.passthrough) {
            precision.round(&result)
        }
        narrow(result, to: t.outputDType, into: buffer)
    }

    /// Token-indexed inputs rearranged to the output tokenizer's ids, as mergekit's
    /// PermutedVocabulary: a model's own row where it has the token; otherwise the row of the only
    /// model that has it, the base's, or the average over the models that have it (zeros when none
    /// does). nil when no rearranging is needed.
    static func alignVocabulary(_ t: PlannedTensor, views: [SourceTensor], plan: MergePlan) throws -> [[Float]]? {
        guard let permutations = plan.vocabularyAlignment, let rows = t.vocabularyRows else { return nil }
        let precision = t.arguments.precision
        let width = t.shape.dropFirst().reduce(1, *)
        var originals: [[Float]] = []
        for view in views {
            var values = try widen(view, rows: nil, outputCount: view.elementCount)
            if precision.isReduced && WorkingPrecision(view.dtype) != precision { precision.round(&values) }
            originals.append(values)
        }
        let models = t.inputs.map(\.model)
        let maps = models.map { permutations[$0]! }
        func row(_ k: Int, _ r: Int) -> ArraySlice<Float> { originals[k][(r * width)..<((r + 1) * width)] }
        var defaults: [Int: [Float]] = [:]
        for id in 0..<rows {
            let present = maps.indices.filter { maps[$0][id] >= 0 && maps[$0][id] * width < originals[$0].count }
            if present.count == maps.count { continue }
            if present.count == 1 {
                defaults[id] = Array(row(present[0], maps[present[0]][id]))
            } else if present.isEmpty {
                defaults[id] = [Float](repeating: 0, count: width)
            } else if let b = present.first(where: { models[$0] == t.baseModel }) {
                defaults[id] = Array(row(b, maps[b][id]))
            } else {
                var sum = [Float](repeating: 0, count: width)
                for k in present { for (j, v) in row(k, maps[k][id]).enumerated() { sum[j] = precision.round(sum[j] + v) } }
                defaults[id] = sum.map { precision.round($0 / Float(present.count)) }
            }
        }
        return originals.indices.map { k in
            var out = [Float](repeating: 0, count: rows * width)
            for id in 0..<rows {
                let source = maps[k][id]
                if source >= 0 && source * width < originals[k].count {
                    out.replaceSubrange((id * width)..<((id + 1) * width), with: row(k, source))
                } else if let d = defaults[id] {
                    out.replaceSubrange((id * width)..<((id + 1) * width), with: d)
                }
            }
            return out
        }
    }

    /// An input tensor as Float, with its vocabulary rows truncated or zero-padded to `rows`.
    static func widen(_ source: SourceTensor, rows: Int?, outputCount: Int) throws -> [Float] {
        var out = [Float](repeating: 0, count: outputCount)
        var offset = 0
        for view in source.parts {
            let copyCount = min(view.info.elementCount, outputCount - offset)
            if copyCount <= 0 { break }
            if view.info.dtype == .F64 {
                let p = view.base.assumingMemoryBound(to: Double.self)
                for i in 0..<copyCount { out[offset + i] = Float(p[i]) }
            } else {
                guard let dtype = view.info.dtype.weightType else {
                    throw MixtureError.invalidFile(path: view.path, reason: "tensor '\(view.info.name)' has dtype \(view.info.dtype.rawValue), which cannot be merged")
                }
                out.withUnsafeMutableBufferPointer { o in
                    let po = o.baseAddress! + offset
                    let base = view.base
                    Parallel.forRanges(copyCount, alignment: 64, minimumPerThread: 1 << 16) { r in
                        ScalarConversion.convert(base + r.lowerBound * dtype.byteSize, dtype: dtype, count: r.count, into: po + r.lowerBound)
                    }
                }
            }
            offset += copyCount
        }
        return out
    }

    /// Stores Float results in the output dtype (round to nearest even, as torch's casts).
    static func narrow(_ values: [Float], to dtype: SafeTensorsDType, into buffer: UnsafeMutableRawBufferPointer) {
        values.withUnsafeBufferPointer { v in
            let pv = v.baseAddress!
            switch dtype {
            case .F32:
                buffer.copyMemory(from: UnsafeRawBufferPointer(v))
            case .BF16:
                let po = buffer.baseAddress!.assumingMemoryBound(to: UInt16.self)
                Parallel.forRanges(v.count, alignment: 64, minimumPerThread: 1 << 16) { r in
                    var i = r.lowerBound
                    while i + 8 <= r.upperBound {
                        let x = UnsafeRawPointer(pv + i).loadUnaligned(as: SIMD8<Float>.self)
                        let bits = unsafeBitCast(WorkingPrecision.roundBF16(x), to: SIMD8<UInt32>.self) &>> 16
                        UnsafeMutableRawPointer(po + i).storeBytes(of: SIMD8<UInt16>(truncatingIfNeeded: bits), as: SIMD8<UInt16>.self)
                        i += 8
                    }
                    while i < r.upperBound { po[i] = ScalarConversion.bfloat16Bits(from: pv[i]); i += 1 }
                }
            case .F16:
                let po = buffer.baseAddress!.assumingMemoryBound(to: UInt16.self)
                Parallel.forRanges(v.count, alignment: 64, minimumPerThread: 1 << 16) { r in
                    for i in r { po[i] = ScalarConversion.float16Bits(from: pv[i]) }
                }
            case .F64:
                let po = buffer.baseAddress!.assumingMemoryBound(to: Double.self)
                for i in 0..<v.count { po[i] = Double(pv[i]) }
            default:
                break
            }
        }
    }
}
