import Foundation
import MixtureCore
import MixtureFormats

/// An input model, opened (memory-mapped) once for the whole merge.
public final class InputModel: @unchecked Sendable {
    public let reference: ModelReference
    public let url: URL
    public let folder: ModelFolder
    public let config: [String: Any]
    /// `num_hidden_layers` (or the family's equivalent) from config.json.
    public let layerCount: Int?

    init(reference: ModelReference, url: URL) throws {
        self.reference = reference
        self.url = url
        folder = try ModelFolder(url: url)
        let json = try JSONConfig(data: folder.configData, path: folder.configURL.path)
        config = json.values
        var count: Int?
        for key in ["num_hidden_layers", "n_layer", "num_layers", "n_layers"] {
            if let n = config[key] as? Int { count = n; break }
        }
        if count == nil, let text = config["text_config"] as? [String: Any], let n = text["num_hidden_layers"] as? Int { count = n }
        layerCount = count
        try buildTensorTable()
    }

    /// Tensors by name in the layout transformers 5 models use (what mergekit merges and
    /// writes): per-expert MoE weights are fused into `experts.gate_up_proj` / `experts.down_proj`.
    private(set) var tensors: [String: SourceTensor] = [:]

    var tensorNames: [String] { Array(tensors.keys) }

    func tensor(_ name: String) -> SourceTensor? { tensors[name] }

    func buildTensorTable() throws {
        var table: [String: SourceTensor] = [:]
        for name in folder.tensorNames { table[name] = SourceTensor(name: name, shape: folder.tensor(name)!.info.shape, parts: [folder.tensor(name)!]) }
        let modelType = config["model_type"] as? String ?? ""
        table = try ExpertFusion.apply(modelType: modelType, to: table, path: url.path)
        tensors = table
    }
}

/// A tensor as the merge sees it: one stored tensor, or several stored back to back (fused experts).
struct SourceTensor {
    var name: String
    var shape: [Int]
    var parts: [TensorView]
    var dtype: SafeTensorsDType { parts[0].info.dtype }
    var elementCount: Int { shape.reduce(1, *) }
    var path: String { parts[0].path }
}

/// transformers 5 stores MoE experts fused (its checkpoint conversion mapping, which mergekit
/// applies when it reads older checkpoints): per layer `experts.gate_up_proj` [E, 2I, H] (each
/// expert's gate rows then up rows) and `experts.down_proj` [E, H, I]; Mixtral's
/// `block_sparse_moe.` becomes `mlp.`.
enum ExpertFusion {
    static func apply(modelType: String, to table: [String: SourceTensor], path: String) throws -> [String: SourceTensor] {
        let gate: String, up: String, down: String
        var table = table
        switch modelType {
        case "mixtral":
            var renamed: [String: SourceTensor] = [:]
            for (name, t) in table {
                let n = name.replacingOccurrences(of: ".block_sparse_moe.", with: ".mlp.")
                var t = t
                t.name = n
                renamed[n] = t
            }
            table = renamed
            (gate, up, down) = ("w1.weight", "w3.weight", "w2.weight")
        case "qwen2_moe", "qwen3_moe", "olmoe", "deepseek_v3", "qwen3_next":
            (gate, up, down) = ("gate_proj.weight", "up_proj.weight", "down_proj.weight")
        default:
            return table
        }
        // Group "<prefix>experts.<e>.<suffix>" by prefix.
        var groups: [String: [Int: [String: SourceTensor]]] = [:]
        for (name, t) in table {
            guard let range = name.range(of: ".experts.") else { continue }
            let prefix = String(name[..<range.upperBound])
            let rest = name[range.upperBound...]
            guard let dot = rest.firstIndex(of: "."), let e = Int(rest[rest.startIndex..<dot]) else { continue }
            let suffix = String(rest[rest.index(after: dot)...])
            guard [gate, up, down].contains(suffix) else { continue }
            groups[prefix, default: [:]][e, default: [:]][suffix] = t
        }
        for (prefix, experts) in groups {
            let count = experts.count
            guard (0..<count).allSatisfy({ experts[$0] != nil }) else {
                throw MixtureError.invalidFile(path: path, reason: "experts under '\(prefix)' are not numbered 0..<\(count)")
            }
            var gateUp: [TensorView] = [], downs: [TensorView] = []
            var gateShape: [Int]?, downShape: [Int]?
            for e in 0..<count {
                let parts = experts[e]!
                guard let g = parts[gate], let u = parts[up], let d = parts[down] else {
                    throw MixtureError.invalidFile(path: path, reason: "expert \(e) under '\(prefix)' lacks one of \(gate), \(up), \(down)")
                }
                guard g.shape.count == 2, g.shape == u.shape, d.shape.count == 2, gateShape == nil || gateShape! == g.shape,
                      downShape == nil || downShape! == d.shape else {
                    throw MixtureError.invalidFile(path: path, reason: "expert \(e) under '\(prefix)' has shapes that do not match the other experts")
                }
                gateShape = g.shape
                downShape = d.shape
                gateUp += g.parts + u.parts
                downs += d.parts
                for suffix in [gate, up, down] { table.removeValue(forKey: "\(prefix)\(e).\(suffix)") }
            }
            guard Set(gateUp.map(\.info.dtype)).count == 1, Set(downs.map(\.info.dtype)).count == 1 else {
                throw MixtureError.invalidFile(path: path, reason: "experts under '\(prefix)' are stored in different dtypes")
            }
            let fusedGateUp = prefix + "gate_up_proj", fusedDown = prefix + "down_proj"
            table[fusedGateUp] = SourceTensor(name: fusedGateUp, shape: [count, 2 * gateShape![0], gateShape![1]], parts: gateUp)
            table[fusedDown] = SourceTensor(name: fusedDown, shape: [count, downShape![0], downShape![1]], parts: downs)
        }
        return table
    }
}

/// Where transformer blocks live in a checkpoint's tensor names: `<prefix><index>.<rest>`.
struct LayerNaming {
    /// e.g. "model.layers."
    var prefix: String

    /// Finds the numbered container holding the most tensors (`model.layers.N.`, `transformer.h.N.`,
    /// `encoder.layer.N.`), or nil for a checkpoint without numbered blocks.
    static func detect(_ names: [String]) -> LayerNaming? {
        var counts: [String: Int] = [:]
        for name in names {
            if let (prefix, _, _) = split(name, prefix: nil) { counts[prefix, default: 0] += 1 }
        }
        guard let best = counts.max(by: { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }) else { return nil }
        return LayerNaming(prefix: best.key)
    }

    /// Splits "model.layers.3.mlp.up_proj.weight" into ("model.layers.", 3, "mlp.up_proj.weight").
    static func split(_ name: String, prefix: String?) -> (String, Int, String)? {
        if let prefix {
            guard name.hasPrefix(prefix) else { return nil }
            let rest = name.dropFirst(prefix.count)
            guard let dot = rest.firstIndex(of: "."), let index = Int(rest[rest.startIndex..<dot]) else { return nil }
            return (prefix, index, String(rest[rest.index(after: dot)...]))
        }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        for i in 1..<max(1, parts.count - 1) {
            if let index = Int(parts[i]), !parts[i].isEmpty, parts[i].allSatisfy(\.isNumber) {
                let prefix = parts[0..<i].joined(separator: ".") + "."
                return (prefix, index, parts[(i + 1)...].joined(separator: "."))
            }
        }
        return nil
    }

    func split(_ name: String) -> (index: Int, suffix: String)? {
        guard let (_, index, suffix) = LayerNaming.split(name, prefix: prefix) else { return nil }
        return (index, suffix)
    }

    func name(_ index: Int, _ suffix: String) -> String { "\(prefix)\(index).\(suffix)" }
}

/// One output tensor: which input tensors make it and the parameters resolved for it.
struct PlannedTensor {
    var outputName: String
    /// (model index, tensor name in that model), in the slice's source order.
    var inputs: [(model: Int, name: String)]
    var baseModel: Int?
    var arguments: MethodArguments
    var shape: [Int]
    /// Computation happens in Float; this is the dtype mergekit would compute in (config `dtype`
    /// or the promoted input dtype) and the dtype of the output unless `out_dtype` is given.
    var outputDType: SafeTensorsDType
    /// Rows kept (or zero-padded) along the vocabulary axis when the tokenizer changes the
    /// vocabulary size; nil otherwise.
    var vocabularyRows: Int?
    /// Non-floating tensors (integer buffers) are copied when all inputs agree.
    var isBuffer: Bool
    /// An optional tensor (a tied head) only one input has: copied, not merged.
    var passthrough = false

    var byteCount: Int { shape.reduce(1, *) * outputDType.byteSize }
}

/// A merge, planned: every input opened and checked, every output tensor's inputs, shape, dtype
/// and parameters known before any weight is computed.
public struct MergePlan {
    public let config: MergeConfiguration
    public let method: MergeMethod
    public let models: [InputModel]
    var tensors: [PlannedTensor]
    /// The model whose config.json (and tokenizer) the output takes.
    public let donor: Int
    /// Output `num_hidden_layers` when slices change it.
    public let outputLayerCount: Int?
    /// Output vocabulary size when the tokenizer source changes it.
    public let outputVocabularySize: Int?
    /// Per model (index), the model's row for each output token, -1 where it lacks the token; nil
    /// when every model already has the output vocabulary in order.
    let vocabularyAlignment: [Int: [Int]]?
    /// The model whose tokenizer files are copied, if any.
    public let tokenizerDonor: Int?
    public let warnings: [String]

    public var tensorCount: Int { tensors.count }
    public var outputBytes: Int { tensors.reduce(0) { $0 + $1.byteCount } }

    /// Opens the models a config names and plans every output tensor.
    public static func make(config: MergeConfiguration, seed: UInt64, currentDirectory: String = FileManager.default.currentDirectoryPath,
                            scratch: URL = FileManager.default.temporaryDirectory.appendingPathComponent("mixture-merge-\(UUID().uuidString)")) throws -> MergePlan {
        guard let method = MergeMethods.named(config.mergeMethod) else {
            throw MixtureError.invalidConfig(path: config.path, field: "merge_method",
                                             reason: "unknown method '\(config.mergeMethod)' (supported: \(MergeMethods.names.joined(separator: ", ")))")
        }
        var warnings: [String] = config.warnings

        // Parameter names: a name no method reads is a typo; one another method reads is ignored
        // here, as mergekit ignores it, with a warning.
        let own = Set(method.parameters.map(\.name))
        func checkNames(_ settings: ParameterSettings?, _ field: String) throws {
            for key in (settings ?? [:]).keys.sorted() where !own.contains(key) {
                if MergeMethods.allParameterNames.contains(key) {
                    warnings.append("\(field).\(key): not a parameter of \(method.name); ignored")
                } else {
                    let accepted = method.parameters.map(\.name).joined(separator: ", ")
                    throw MixtureError.invalidConfig(path: config.path, field: "\(field).\(key)",
                                                     reason: "unknown parameter for \(method.name) (its parameters: \(accepted.isEmpty ? "none" : accepted))")
                }
            }
        }
        try checkNames(config.parameters, "parameters")
        for (i, m) in (config.models ?? []).enumerated() { try checkNames(m.parameters, "models[\(i)].parameters") }
        for (i, s) in (config.slices ?? []).enumerated() {
            try checkNames(s.parameters, "slices[\(i)].parameters")
            for (j, src) in s.sources.enumerated() { try checkNames(src.parameters, "slices[\(i)].sources[\(j)].parameters") }
        }

        // Open every referenced model once.
        var models: [InputModel] = []
        var index: [ModelReference: Int] = [:]
        let configDirectory = URL(fileURLWithPath: config.path).deletingLastPathComponent()
        func open(_ ref: ModelReference) throws -> Int {
            if let i = index[ref] { return i }
            var url = resolve(ref.path, currentDirectory: currentDirectory, configDirectory: configDirectory)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw MixtureError.missingFile(path: ref.path, reason: "model folder not found (named in \(config.path); models are local folders, relative paths are tried from the current directory, then from the config's)")
            }
            if let lora = ref.lora {
                // MODEL+LORA: fold the adapter into a scratch copy (as mergekit's LoRA merge cache).
                let adapter = resolve(lora, currentDirectory: currentDirectory, configDirectory: configDirectory)
                guard FileManager.default.fileExists(atPath: adapter.appendingPathComponent("adapter_config.json").path) else {
                    throw MixtureError.missingFile(path: lora, reason: "adapter folder not found or without adapter_config.json (named in \(config.path) as \(ref))")
                }
                let folded = scratch.appendingPathComponent("lora-\(models.count)")
                _ = try LoRA.apply(base: url, adapter: adapter, to: folded)
                url = folded
            }
            let model = try InputModel(reference: ref, url: url)
            models.append(model)
            index[ref] = models.count - 1
            return models.count - 1
        }
        for ref in config.referencedModels { _ = try open(ref) }

        // `models:` is one slice over all layers, with the base added when it is not listed.
        var slices: [OutputSliceDefinition]
        if let list = config.models {
            var sources: [InputSliceDefinition] = []
            var baseIncluded = false
            func layers(_ ref: ModelReference) throws -> Int {
                let m = models[try open(ref)]
                guard let n = m.layerCount else {
                    throw MixtureError.invalidConfig(path: m.folder.configURL.path, field: "num_hidden_layers", reason: "missing (needed to enumerate the layers)")
                }
                return n
            }
            for m in list {
                if m.model == config.baseModel { baseIncluded = true }
                sources.append(InputSliceDefinition(model: m.model, layerRange: 0..<(try layers(m.model)), parameters: m.parameters))
            }
            if let base = config.baseModel, !baseIncluded {
                sources.append(InputSliceDefinition(model: base, layerRange: 0..<(try layers(base)), parameters: nil))
            }
            slices = [OutputSliceDefinition(sources: sources)]
        } else {
            slices = config.slices ?? []
        }

        // Structure checks, before any tensor is touched.
        for (i, slice) in slices.enumerated() {
            let base = slice.baseModel ?? config.baseModel
            let ids = slice.sources.map(\.model)
            if Set(ids).count != ids.count {
                throw MixtureError.invalidConfig(path: config.path, field: config.models != nil ? "models" : "slices[\(i)].sources", reason: "the same model is listed twice")
            }
            let hasBase = base.map { ids.contains($0) } ?? false
            if method.base != .ignored, base != nil, !hasBase {
                throw MixtureError.invalidConfig(path: config.path, field: "slices[\(i)]", reason: "base_model \(base!.path) is not among this slice's sources")
            }
            try method.validateInputs(count: ids.count, hasBase: hasBase, baseNamed: base != nil,
                                      context: config.path + (config.slices != nil ? " slices[\(i)]" : ""))
            let lengths = Set(slice.sources.map { $0.layerRange.count })
            if lengths.count != 1 {
                throw MixtureError.invalidConfig(path: config.path, field: "slices[\(i)].sources", reason: "all sources of a slice need the same number of layers (got \(slice.sources.map { "[\($0.layerRange.lowerBound), \($0.layerRange.upperBound)]" }.joined(separator: ", ")))")
            }
            for (j, src) in slice.sources.enumerated() {
                let m = models[try open(src.model)]
                if let n = m.layerCount, src.layerRange.upperBound > n {
                    throw MixtureError.invalidConfig(path: config.path, field: "slices[\(i)].sources[\(j)].layer_range",
                                                     reason: "[\(src.layerRange.lowerBound), \(src.layerRange.upperBound)] is beyond \(src.model.path)'s \(n) layers")
                }
            }
        }

        let donor = try open(config.baseModel ?? config.referencedModels[0])
        let naming = LayerNaming.detect(models[donor].tensorNames)

        // Tokenizer: which files the output gets and whether the vocabulary size changes.
        var tokenizerDonor: Int? = donor
        var vocabularySize: Int?
        var vocabularyAlignment: [Int: [Int]]?
        if let source = config.tokenizerSource {
            let tokenizerModel: Int
            switch source {
            case .base:
                guard let base = config.baseModel else {
                    throw MixtureError.invalidConfig(path: config.path, field: "tokenizer_source", reason: "'base' needs a base_model")
                }
                tokenizerModel = try open(base)
            case .model(let ref):
                tokenizerModel = try open(ref)
            case .union:
                tokenizerModel = donor
            }
            // The output vocabulary: the source's tokenizer ('base' drops tokens at or beyond the
            // base config's vocab_size, as mergekit's stripped tokenizer does).
            var vocab = try Vocabulary.load(models[tokenizerModel])!
            if source == .base, let size = models[tokenizerModel].config["vocab_size"] as? Int {
                vocab.tokens = vocab.tokens.filter { $0.value < size }
            }
            if source == .union {
                for m in models where try Vocabulary.load(m, required: false).map({ $0 != vocab }) ?? false {
                    throw MixtureError.invalidConfig(path: config.path, field: "tokenizer_source",
                                                     reason: "'union' of different vocabularies (\(models[tokenizerModel].reference.path), \(m.reference.path)) is not supported; use 'base' or a model's path")
                }
            }
            let byID = vocab.byID()
            // Each model's row for every output token (-1: the model lacks it).
            var permutations: [Int: [Int]] = [:]
            var identity = true
            for (i, m) in models.enumerated() {
                let own = try Vocabulary.load(m, required: false) ?? vocab
                let rows = (m.config["vocab_size"] as? Int) ?? own.size
                let p = byID.map { token -> Int in
                    guard let token, let id = own.tokens[token], id < rows else { return -1 }
                    return id
                }
                permutations[i] = p
                if p != Array(0..<byID.count) { identity = false }
            }
            if !identity { vocabularyAlignment = permutations }
            tokenizerDonor = tokenizerModel
            vocabularySize = byID.count
        }

        let seedBase = seed
        var tensors: [PlannedTensor] = []
        var outputLayer = 0

        func settings(_ slice: OutputSliceDefinition, model: ModelReference?) -> [ParameterSettings?] {
            var out: [ParameterSettings?] = []
            if let model { for src in slice.sources where src.model == model { out.append(src.parameters) } }
            out.append(slice.parameters)
            out.append(config.parameters)
            return out
        }

        func plan(output: String, inputs: [(ModelReference, String)], slice: OutputSliceDefinition, t: Double, vocabulary: Bool) throws {
            var resolvedInputs: [(model: Int, name: String)] = []
            var resolvedRefs: [ModelReference] = []
            var views: [SourceTensor] = []
            let sliceBase = slice.baseModel ?? config.baseModel
            var baseIndex: Int?
            var missing: [String] = []
            for (ref, name) in inputs {
                let mi = try open(ref)
                var view = models[mi].tensor(name)
                var usedName = name
                if view == nil, let tied = tiedFallback(name), let v = models[mi].tensor(tied) {
                    view = v
                    usedName = tied
                }
                guard let view else { missing.append(ref.path); continue }
                resolvedInputs.append((mi, usedName))
                resolvedRefs.append(ref)
                views.append(view)
                if ref == sliceBase { baseIndex = mi }
            }
            if !missing.isEmpty {
                if resolvedInputs.isEmpty { return }
                // A tensor some inputs lack: allowed for a tied lm_head-style optional weight only
                // where the method passes a single input through.
                let optional = tiedFallback(output) != nil
                var allowed = false
                if optional && resolvedInputs.count == 1 {
                    switch method.optionalTensors {
                    case .passthroughSingleton: allowed = true
                    case .passthroughBaseSingleton, .baseOrSkip: allowed = resolvedInputs[0].model == (sliceBase.flatMap { index[$0] })
                    case .error: allowed = false
                    }
                }
                if !allowed {
                    throw MixtureError.invalidFile(path: models[resolvedInputs[0].model].url.path,
                                                   reason: "tensor '\(inputs.first!.1)' is missing from \(missing.joined(separator: ", "))")
                }
            }
            // Shapes must agree (the vocabulary axis is aligned to the tokenizer first).
            let shapes = views.map(\.shape)
            var shape = shapes[0]
            if vocabulary, let rows = vocabularySize, !shape.isEmpty { shape[0] = rows }
            let comparable = shapes.map { s -> [Int] in
                var s = s
                if vocabulary, let rows = vocabularySize, !s.isEmpty { s[0] = rows }
                return s
            }
            if Set(comparable.map { $0.description }).count > 1 {
                let list = zip(resolvedInputs, shapes).map { "\(models[$0.0.model].reference.path): \($0.1)" }.joined(separator: ", ")
                throw MixtureError.invalidArgument("\(output): shapes differ between inputs (\(list))")
            }
            let isBuffer = views.contains { $0.dtype.weightType == nil && $0.dtype != .F64 }
            // Parameters, highest precedence first: the source's, the slice's, the global ones.
            var shared: [String: ParameterValue] = [:]
            for spec in method.parameters where spec.scope == .shared {
                shared[spec.name] = try resolveParameter(spec, from: settings(slice, model: nil), tensorName: output, t: t, model: nil, configPath: config.path)
            }
            var perInput: [Int: [String: ParameterValue]] = [:]
            for (ref, (mi, name)) in zip(resolvedRefs, resolvedInputs) {
                var values: [String: ParameterValue] = [:]
                for spec in method.parameters where spec.scope == .input || (spec.scope == .nonBase && ref != sliceBase) {
                    values[spec.name] = try resolveParameter(spec, from: settings(slice, model: ref), tensorName: name, t: t, model: ref, configPath: config.path)
                }
                perInput[mi] = values
            }
            let dtypes = views.map(\.dtype)
            let workDType: SafeTensorsDType = config.dtype.map { SafeTensorsDType(rawValue: $0.rawValue)! } ?? promote(dtypes)
            let outputDType: SafeTensorsDType
            if isBuffer {
                outputDType = dtypes[0]
            } else if let out = config.outDtype {
                outputDType = SafeTensorsDType(rawValue: out.rawValue)!
            } else if method.float32Result && WorkingPrecision(workDType).isReduced && missing.isEmpty {
                outputDType = .F32
            } else if let d = config.dtype {
                outputDType = SafeTensorsDType(rawValue: d.rawValue)!
            } else {
                outputDType = promote(dtypes)
            }
            let seedForTensor = SeededGenerator.derive(seedBase, output)
            tensors.append(PlannedTensor(outputName: output, inputs: resolvedInputs,
                                         baseModel: baseIndex.flatMap { b in resolvedInputs.contains { $0.model == b } ? b : nil },
                                         arguments: MethodArguments(shared: shared, perInput: perInput, seed: seedForTensor,
                                                                    precision: WorkingPrecision(workDType)),
                                         shape: shape, outputDType: outputDType,
                                         vocabularyRows: vocabulary ? vocabularySize : nil, isBuffer: isBuffer,
                                         passthrough: !missing.isEmpty))
        }

        // Tensors outside the numbered blocks: embeddings before, final norm and head after.
        func globals(of slice: OutputSliceDefinition) throws -> [String] {
            var seen = Set<String>()
            var out: [String] = []
            for src in slice.sources {
                for name in models[try open(src.model)].tensorNames.sorted() where naming?.split(name) == nil {
                    if seen.insert(name).inserted { out.append(name) }
                }
            }
            return out
        }
        let first = slices[0], last = slices[slices.count - 1]
        let pre = try globals(of: first).filter(isPreWeight)
        let post = try globals(of: last).filter { !isPreWeight($0) }
        for name in pre {
            try plan(output: name, inputs: first.sources.map { ($0.model, name) }, slice: first, t: 0, vocabulary: isVocabularyTensor(name))
        }
        for slice in slices {
            let length = slice.sources[0].layerRange.count
            for offset in 0..<length {
                let t = length > 1 ? Double(offset) / Double(length - 1) : 1
                guard let naming else { break }
                let lead = slice.sources[0]
                let leadModel = models[try open(lead.model)]
                let suffixes = leadModel.tensorNames.compactMap { name -> String? in
                    guard let (i, suffix) = naming.split(name), i == lead.layerRange.lowerBound + offset else { return nil }
                    return suffix
                }.sorted()
                if suffixes.isEmpty {
                    throw MixtureError.invalidFile(path: leadModel.url.path, reason: "no tensors for layer \(lead.layerRange.lowerBound + offset) (\(naming.prefix)\(lead.layerRange.lowerBound + offset).*)")
                }
                for suffix in suffixes {
                    let inputs = slice.sources.map { ($0.model, naming.name($0.layerRange.lowerBound + offset, suffix)) }
                    try plan(output: naming.name(outputLayer, suffix), inputs: inputs, slice: slice, t: t, vocabulary: false)
                }
                outputLayer += 1
            }
        }
        for name in post {
            try plan(output: name, inputs: last.sources.map { ($0.model, name) }, slice: last, t: 0, vocabulary: isVocabularyTensor(name))
        }

        // mergekit's scheduler writes tensors in name order; shards are filled in that order.
        tensors.sort { $0.outputName < $1.outputName }
        var layerCount: Int?
        if config.slices != nil { layerCount = outputLayer }
        return MergePlan(config: config, method: method, models: models, tensors: tensors, donor: donor,
                         outputLayerCount: layerCount, outputVocabularySize: vocabularySize,
                         vocabularyAlignment: vocabularyAlignment,
                         tokenizerDonor: tokenizerDonor, warnings: warnings)
    }

    static func resolve(_ path: String, currentDirectory: String, configDirectory: URL) -> URL {
        if path.hasPrefix("/") { return URL(fileURLWithPath: path) }
        let fromCWD = URL(fileURLWithPath: currentDirectory).appendingPathComponent(path)
        if FileManager.default.fileExists(atPath: fromCWD.path) { return fromCWD.standardizedFileURL }
        return configDirectory.appendingPathComponent(path).standardizedFileURL
    }
}

/// Weights that come before the blocks (their inputs are the first slice's models).
func isPreWeight(_ name: String) -> Bool {
    name.contains("embed") || name.hasSuffix("wte.weight") || name.hasSuffix("wpe.weight")
}

/// Token-indexed tensors (rows are tokens).
func isVocabularyTensor(_ name: String) -> Bool {
    name.hasSuffix("embed_tokens.weight") || name.hasSuffix("lm_head.weight") || name.hasSuffix("wte.weight")
        || name.hasSuffix("word_embeddings.weight") || name == "output.weight"
}

/// A tied output head reads the input embedding when it is not stored.
func tiedFallback(_ name: String) -> String? {
    switch name {
    case "lm_head.weight": return "model.embed_tokens.weight"
    case "transformer.lm_head.weight": return "transformer.wte.weight"
    default: return nil
    }
}

/// torch's type promotion for the float types: equal types stay, F16 with BF16 gives F32.
func promote(_ dtypes: [SafeTensorsDType]) -> SafeTensorsDType {
    var out = dtypes[0]
    for d in dtypes.dropFirst() where d != out {
        if out == .F64 || d == .F64 { out = .F64 } else { out = .F32 }
    }
    return out
}

/// A tokenizer's vocabulary (token → id, added tokens included), compared between models.
struct Vocabulary: Equatable {
    var tokens: [String: Int]
    /// As `len(tokenizer.get_vocab())`: distinct tokens.
    var size: Int { tokens.count }

    /// Tokens by id (ids without a token are nil), `size` entries counted as mergekit does: the
    /// output embedding gets one row per token, at the token's id.
    func byID() -> [String?] {
        let count = max(size, (tokens.values.max() ?? -1) + 1)
        var out = [String?](repeating: nil, count: count)
        for (token, id) in tokens where id >= 0 { out[id] = token }
        return out
    }

    /// `required: false`: nil when the folder has no tokenizer.json (mergekit then assumes the
    /// base's tokenizer).
    static func load(_ model: InputModel, required: Bool = true) throws -> Vocabulary? {
        let url = model.url.appendingPathComponent("tokenizer.json")
        guard let data = FileManager.default.contents(atPath: url.path) else {
            if !required { return nil }
            throw MixtureError.missingFile(path: url.path, reason: "tokenizer_source needs the tokenizer's tokenizer.json")
        }
        guard let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw MixtureError.invalidFile(path: url.path, reason: "not a JSON object")
        }
        var tokens: [String: Int] = [:]
        if let m = json["model"] as? [String: Any] {
            if let vocab = m["vocab"] as? [String: Any] {
                for (k, v) in vocab { if let i = v as? Int { tokens[k] = i } }
            } else if let vocab = m["vocab"] as? [Any] {
                // Unigram: a list of [piece, score].
                for (i, entry) in vocab.enumerated() { if let pair = entry as? [Any], let piece = pair.first as? String { tokens[piece] = i } }
            }
        }
        for entry in json["added_tokens"] as? [[String: Any]] ?? [] {
            if let content = entry["content"] as? String, let id = entry["id"] as? Int { tokens[content] = id }
        }
        // The merged embedding gets a row per id: an id past any real vocabulary would size it.
        if let (token, id) = tokens.first(where: { $0.value < 0 || $0.value >= PlausibleBounds.vocabulary }) {
            throw MixtureError.invalidFile(path: url.path, reason: "token \(token.debugDescription) has id \(id), outside 0..<\(PlausibleBounds.vocabulary)")
        }
        return Vocabulary(tokens: tokens)
    }
}
