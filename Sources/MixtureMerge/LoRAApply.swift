import Foundation
import MixtureCore
import MixtureFormats

extension LoRA {
    public struct ApplyOptions: Sendable {
        /// Replace a non-empty output folder.
        public var force: Bool

        public init(force: Bool = false) {
            self.force = force
        }
    }

    public struct ApplySummary: Sendable {
        /// Modules whose weight received a LoRA update.
        public var mergedModules: [String]
        /// Base tensors replaced by the adapter's full copies (modules_to_save, saved biases).
        public var replacedTensors: [String]
        /// Adapter tensors that peft does not load, with the reason (e.g. `lora_B.bias` without `lora_bias`).
        public var ignoredTensors: [String]
        /// Files written to the output folder.
        public var files: [String]
    }

    /// Folds the PEFT LoRA adapter in `adapter` into `base` and writes the merged model to `output`, as
    /// peft's `merge_and_unload` does: `W += scaling · B·A` (transposed for embeddings and `Conv1D`
    /// layers) with `scaling = lora_alpha / r` (`/ √r` with `use_rslora`, per-module values from
    /// `rank_pattern` / `alpha_pattern`); `lora_B.bias · scaling` is added to the bias when `lora_bias` is
    /// set; full tensors in the adapter (modules_to_save, biases) replace the base's. The output keeps
    /// the base's file layout (shards, dtypes, tensor order) and copies its config and tokenizer files.
    /// Computation is in Float; results are rounded once to the base dtype.
    @discardableResult
    public static func apply(base: URL, adapter: URL, to output: URL, options: ApplyOptions = ApplyOptions(),
                             progress: ((Int, Int) -> Void)? = nil) throws -> ApplySummary {
        try OutputFolder.check(output, force: options.force, inputs: [base, adapter])
        var plan = try AdapterPlan(adapter: adapter)
        let baseModel = try ModelFolder(url: base)
        let baseConfig = try JSONConfig(data: baseModel.configData, path: baseModel.configURL.path)
        let conv1D = Naming.conv1DModelTypes.contains((try? baseConfig.optionalString("model_type")) ?? "")
        let untie = try plan.tiedHead(base: baseModel, config: baseConfig)
        let updates = try plan.resolve(against: baseModel, conv1D: conv1D)

        let folder = try OutputFolder(output, force: options.force)
        var written: [String] = []
        let total = baseModel.tensorNames.count + (untie == nil ? 0 : 1)
        var done = 0
        try folder.write { directory in
            var headFile: String?
            for file in baseModel.files {
                let fileName = URL(fileURLWithPath: file.path).lastPathComponent
                let ordered = file.tensors.values.sorted { $0.dataRange.lowerBound < $1.dataRange.lowerBound }
                var entries = ordered.map { info -> SafeTensorsWriter.Entry in
                    let view = file.tensor(info.name)!
                    let update = updates[info.name]
                    return SafeTensorsWriter.Entry(name: info.name, dtype: info.dtype, shape: info.shape) { buffer in
                        if let update = update {
                            update.fill(buffer, base: view)
                        } else if buffer.count > 0 {
                            buffer.baseAddress!.copyMemory(from: view.base, byteCount: buffer.count)
                        }
                        done += 1
                        progress?(done, total)
                    }
                }
                if let untie = untie, file.tensors[untie.embedding] != nil {
                    // The untied output head goes next to the embedding it was tied to.
                    let embedding = file.tensor(untie.embedding)!
                    entries.append(SafeTensorsWriter.Entry(name: untie.head, dtype: embedding.info.dtype, shape: embedding.info.shape) { buffer in
                        TensorUpdate(replacement: untie.source).fill(buffer, base: embedding)
                        done += 1
                        progress?(done, total)
                    })
                    headFile = fileName
                }
                try SafeTensorsWriter.write(entries, metadata: file.metadata, to: directory.appendingPathComponent(fileName))
                written.append(fileName)
            }
            for name in try companionFiles(of: base) {
                let from = base.appendingPathComponent(name), to = directory.appendingPathComponent(name)
                if let untie = untie, name == "config.json" {
                    try untie.config(from: from).write(to: to)
                } else if let untie = untie, let headFile = headFile, name == "model.safetensors.index.json" {
                    try untie.index(from: from, file: headFile).write(to: to)
                } else {
                    try FileManager.default.copyItem(at: from, to: to)
                }
                written.append(name)
            }
        }
        return ApplySummary(mergedModules: plan.modules.map(\.module).sorted(by: Naming.naturalOrder),
                            replacedTensors: updates.filter { $0.value.replacement != nil }.keys.sorted(by: Naming.naturalOrder),
                            ignoredTensors: plan.ignored, files: written.sorted())
    }

    /// Regular files of a model folder other than weights: config, tokenizer, generation config, index.
    static func companionFiles(of folder: URL) throws -> [String] {
        let weightSuffixes = [".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".gguf", ".h5", ".msgpack", ".onnx"]
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        return names.filter { name in
            if name.hasPrefix(".") { return false }
            if weightSuffixes.contains(where: { name.hasSuffix($0) }) { return false }
            if name.hasSuffix(".index.json") && name != "model.safetensors.index.json" { return false }
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path, isDirectory: &isDirectory) && !isDirectory.boolValue
        }.sorted()
    }

    // MARK: - Adapter

    /// A parsed adapter: its config and tensors, grouped by the module they act on.
    struct AdapterPlan {
        enum Kind { case linear, embedding }

        struct Module {
            var module: String
            var kind: Kind
            var a: TensorView
            var b: TensorView
            var bias: TensorView?
        }

        let configPath: String
        let weightsPath: String
        let config: AdapterConfig
        var modules: [Module] = []
        /// Base tensor name → adapter tensor replacing it.
        var replacements: [String: TensorView] = [:]
        var ignored: [String] = []
        let file: SafeTensorsFile

        init(adapter: URL) throws {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: adapter.path, isDirectory: &isDirectory) else {
                throw MixtureError.missingFile(path: adapter.path, reason: "adapter folder does not exist")
            }
            guard isDirectory.boolValue else {
                throw MixtureError.invalidFile(path: adapter.path, reason: "expected an adapter folder (adapter_config.json + adapter_model.safetensors), found a file")
            }
            let configURL = adapter.appendingPathComponent("adapter_config.json")
            configPath = configURL.path
            guard FileManager.default.fileExists(atPath: configURL.path) else {
                throw MixtureError.missingFile(path: configURL.path, reason: "missing (a PEFT adapter folder needs adapter_config.json)")
            }
            config = try AdapterConfig(url: configURL)
            let weightsURL = adapter.appendingPathComponent("adapter_model.safetensors")
            weightsPath = weightsURL.path
            guard FileManager.default.fileExists(atPath: weightsURL.path) else {
                if FileManager.default.fileExists(atPath: adapter.appendingPathComponent("adapter_model.bin").path) {
                    throw MixtureError.invalidFile(path: adapter.appendingPathComponent("adapter_model.bin").path,
                                                   reason: "pickled adapters are not supported; save the adapter with safe_serialization=True (adapter_model.safetensors)")
                }
                throw MixtureError.missingFile(path: weightsURL.path, reason: "missing (a PEFT adapter folder needs adapter_model.safetensors)")
            }
            file = try SafeTensorsFile(path: weightsURL.path)

            let prefix = "base_model.model."
            var a: [String: (TensorView, Kind)] = [:]
            var b: [String: (TensorView, Kind)] = [:]
            var biases: [String: TensorView] = [:]
            for name in file.tensors.keys.sorted(by: Naming.naturalOrder) {
                let view = file.tensor(name)!
                guard name.hasPrefix(prefix) else {
                    throw MixtureError.invalidFile(path: weightsPath, reason: "tensor '\(name)' does not start with '\(prefix)' (not a PEFT adapter?)")
                }
                guard view.info.dtype.weightType != nil else {
                    throw MixtureError.invalidFile(path: weightsPath, reason: "tensor '\(name)' has dtype \(view.info.dtype.rawValue); adapters must be F32, F16 or BF16")
                }
                let key = String(name.dropFirst(prefix.count))
                let components = key.split(separator: ".").map(String.init)
                func module(dropping count: Int) -> String { components.dropLast(count).joined(separator: ".") }
                if key.hasSuffix(".lora_A.weight") {
                    a[module(dropping: 2)] = (view, .linear)
                } else if key.hasSuffix(".lora_B.weight") {
                    b[module(dropping: 2)] = (view, .linear)
                } else if key.hasSuffix(".lora_B.bias") {
                    biases[module(dropping: 2)] = view
                } else if key.hasSuffix(".lora_embedding_A") {
                    a[module(dropping: 1)] = (view, .embedding)
                } else if key.hasSuffix(".lora_embedding_B") {
                    b[module(dropping: 1)] = (view, .embedding)
                } else if components.contains(where: { $0.hasPrefix("lora_magnitude_vector") }) {
                    throw MixtureError.invalidFile(path: weightsPath, reason: "tensor '\(name)' is a DoRA magnitude vector; DoRA adapters are not supported")
                } else if components.contains(where: { $0.hasPrefix("lora_") }) {
                    throw MixtureError.invalidFile(path: weightsPath, reason: "tensor '\(name)' is not a LoRA tensor this tool understands (expected lora_A/lora_B weights or lora_embedding_A/B)")
                } else {
                    // A full tensor (modules_to_save, or a bias saved with bias="all"/"lora_only"): it
                    // replaces the base's. Inside a LoRA-wrapped module the original sits under base_layer.
                    let target = components.filter { $0 != "base_layer" }.joined(separator: ".")
                    replacements[target] = view
                }
            }
            for (module, (av, kind)) in a {
                guard let (bv, bKind) = b[module], bKind == kind else {
                    throw MixtureError.invalidFile(path: weightsPath, reason: "module '\(module)' has \(kind == .linear ? "lora_A" : "lora_embedding_A") but no matching \(kind == .linear ? "lora_B" : "lora_embedding_B")")
                }
                modules.append(Module(module: module, kind: kind, a: av, b: bv, bias: nil))
            }
            for module in b.keys where a[module] == nil {
                throw MixtureError.invalidFile(path: weightsPath, reason: "module '\(module)' has lora_B but no matching lora_A")
            }
            modules.sort { Naming.naturalOrder($0.module, $1.module) }
            for (module, bias) in biases {
                guard let index = modules.firstIndex(where: { $0.module == module && $0.kind == .linear }) else {
                    throw MixtureError.invalidFile(path: weightsPath, reason: "tensor '\(prefix)\(module).lora_B.bias' has no lora_A / lora_B pair")
                }
                if config.loraBias {
                    modules[index].bias = bias
                } else {
                    ignored.append("\(prefix)\(module).lora_B.bias (adapter_config.json has no \"lora_bias\": true, so peft does not load it)")
                }
            }
            ignored.sort()
        }

        /// Models with tied embeddings store no output head. peft keeps a tied head tied when LoRA updates
        /// the shared embedding, but a `modules_to_save` copy of the embedding or of the head unties them:
        /// the head then keeps its own weights (the adapter's copy, or else the base embedding) and the
        /// merged config says `tie_word_embeddings: false`. Returns what to add in that case; when the head
        /// would equal the embedding anyway (as in adapters mergekit extracts), the model stays tied.
        mutating func tiedHead(base: ModelFolder, config: JSONConfig) throws -> Untie? {
            let head = "lm_head.weight"
            guard base.tensor(head) == nil, (try? config.bool("tie_word_embeddings", default: true)) ?? true,
                  let embedding = Naming.inputEmbedding(in: base.tensorNames) else { return nil }
            if modules.contains(where: { $0.module == "lm_head" }) {
                throw MixtureError.invalidFile(path: weightsPath, reason: "LoRA on the output head 'lm_head' of a model with tied embeddings is not supported")
            }
            let headCopy = replacements.removeValue(forKey: head)
            let embeddingCopy = replacements[embedding]
            if headCopy == nil && embeddingCopy == nil { return nil }
            let baseEmbedding = base.tensor(embedding)!
            let source = headCopy ?? baseEmbedding
            guard source.info.shape == baseEmbedding.info.shape else {
                throw MixtureError.invalidFile(path: weightsPath, reason: "shape mismatch: tensor for '\(head)' is \(source.info.shape) but the tied embedding '\(embedding)' is \(baseEmbedding.info.shape)")
            }
            let embeddingHasLoRA = modules.contains { $0.module + ".weight" == embedding }
            if !embeddingHasLoRA, try source.floats() == (embeddingCopy ?? baseEmbedding).floats() { return nil }
            return Untie(head: head, embedding: embedding, source: source, byteCount: baseEmbedding.info.dataRange.count)
        }

        /// Checks every tensor against the base model and returns the work per base tensor.
        func resolve(against base: ModelFolder, conv1D: Bool) throws -> [String: TensorUpdate] {
            var updates: [String: TensorUpdate] = [:]
            for (target, view) in replacements {
                guard let baseView = base.tensor(target) else {
                    throw MixtureError.invalidFile(path: weightsPath, reason: "tensor 'base_model.model.\(target)' replaces '\(target)', which the base model \(base.url.path) does not have")
                }
                guard baseView.info.shape == view.info.shape else {
                    throw MixtureError.invalidFile(path: weightsPath, reason: "shape mismatch: tensor for '\(target)' is \(view.info.shape) but the base model's is \(baseView.info.shape)")
                }
                guard baseView.info.dtype.weightType != nil else {
                    throw MixtureError.invalidFile(path: baseView.path, reason: "tensor '\(target)' has dtype \(baseView.info.dtype.rawValue), which cannot be replaced")
                }
                updates[target, default: TensorUpdate()].replacement = view
            }
            for m in modules {
                let weightName = m.module + ".weight"
                guard let baseView = base.tensor(weightName) else {
                    throw MixtureError.invalidFile(path: weightsPath, reason: "LoRA module '\(m.module)' has no tensor '\(weightName)' in the base model \(base.url.path)")
                }
                let aShape = m.a.info.shape, bShape = m.b.info.shape
                guard aShape.count == 2, bShape.count == 2, aShape[0] == bShape[1] else {
                    throw MixtureError.invalidFile(path: weightsPath, reason: "module '\(m.module)': lora A \(aShape) and B \(bShape) do not multiply (conv LoRA is not supported)")
                }
                let rank = aShape[0]
                let configRank = config.rank(for: m.module)
                guard rank == configRank else {
                    throw MixtureError.invalidFile(path: weightsPath, reason: "module '\(m.module)' has rank \(rank) but adapter_config.json gives r=\(configRank) for it")
                }
                // B·A is out × in (linear) or dim × vocab (embedding). Embeddings and transformers' Conv1D
                // weights (in × out, GPT-2 family) hold its transpose (peft's fan_in_fan_out, which it sets by
                // module type: here the architecture's layers are Conv1D unless the shape says otherwise).
                let product = [bShape[0], aShape[1]], flipped = [aShape[1], bShape[0]]
                let transposed = m.kind == .embedding || (conv1D && baseView.info.shape == flipped)
                let expected = transposed ? flipped : product
                guard baseView.info.shape == expected else {
                    throw MixtureError.invalidFile(path: weightsPath,
                                                   reason: "shape mismatch: LoRA for '\(weightName)' gives a \(expected) update but the base model's tensor is \(baseView.info.shape)")
                }
                guard baseView.info.dtype.weightType != nil else {
                    throw MixtureError.invalidFile(path: baseView.path, reason: "tensor '\(weightName)' has dtype \(baseView.info.dtype.rawValue), which LoRA cannot update")
                }
                let scaling = Float(config.scaling(for: m.module))
                updates[weightName, default: TensorUpdate()].lowRank = TensorUpdate.LowRank(a: m.a, b: m.b, transposed: transposed, scaling: scaling)
                if let bias = m.bias {
                    let biasName = m.module + ".bias"
                    guard let baseBias = base.tensor(biasName) else {
                        throw MixtureError.invalidFile(path: weightsPath, reason: "module '\(m.module)' has lora_B.bias with lora_bias=true, but the base layer has no bias (peft cannot merge it either)")
                    }
                    guard baseBias.info.elementCount == bias.info.elementCount, bias.info.elementCount == bShape[0] else {
                        throw MixtureError.invalidFile(path: weightsPath, reason: "shape mismatch: lora_B.bias of '\(m.module)' is \(bias.info.shape) but the base bias is \(baseBias.info.shape)")
                    }
                    updates[biasName, default: TensorUpdate()].bias = (bias, scaling)
                }
            }
            return updates
        }
    }

    /// An output head written as its own tensor, untying it from the input embedding.
    struct Untie {
        let head: String
        let embedding: String
        let source: TensorView
        /// Size of the head as written (the embedding's dtype).
        let byteCount: Int

        func config(from url: URL) throws -> Data {
            guard let data = FileManager.default.contents(atPath: url.path),
                  var object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw MixtureError.invalidFile(path: url.path, reason: "not a JSON object")
            }
            object["tie_word_embeddings"] = false
            return try prettyJSON(object)
        }

        func index(from url: URL, file: String) throws -> Data {
            guard let data = FileManager.default.contents(atPath: url.path),
                  var object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  var weightMap = object["weight_map"] as? [String: Any] else {
                throw MixtureError.invalidFile(path: url.path, reason: "not a valid index (no weight_map)")
            }
            weightMap[head] = file
            object["weight_map"] = weightMap
            if var metadata = object["metadata"] as? [String: Any], let size = metadata["total_size"] as? Int {
                metadata["total_size"] = size + byteCount
                object["metadata"] = metadata
            }
            return try prettyJSON(object)
        }
    }

    /// What happens to one base tensor: optionally replaced, then a low-rank delta or a bias added.
    struct TensorUpdate: @unchecked Sendable {
        struct LowRank {
            var a: TensorView
            var b: TensorView
            var transposed: Bool
            var scaling: Float
        }

        var replacement: TensorView?
        var lowRank: LowRank?
        var bias: (TensorView, Float)?

        /// Writes the updated tensor into `buffer` in the base tensor's dtype.
        func fill(_ buffer: UnsafeMutableRawBufferPointer, base: TensorView) {
            guard let dtype = base.info.dtype.weightType, let out = buffer.baseAddress else { return }
            let source = (try? (replacement ?? base).matrix())!
            let rows = source.rows, columns = source.columns
            // delta (rows × columns) = P (rows × r) · Q (r × columns).
            var p: [Float] = [], q: [Float] = [], rank = 0, scaling: Float = 0
            if let lr = lowRank {
                let a = lr.a.floatsOrEmpty, b = lr.b.floatsOrEmpty
                rank = lr.a.info.shape[0]
                let inputs = lr.a.info.shape[1], outputs = lr.b.info.shape[0]
                if lr.transposed {
                    // (B·A)ᵀ = Aᵀ·Bᵀ: P = Aᵀ (in × r), Q = Bᵀ (r × out).
                    p = LoRA.TensorMath.transposed(a, rows: rank, columns: inputs)
                    q = LoRA.TensorMath.transposed(b, rows: outputs, columns: rank)
                } else {
                    p = b
                    q = a
                }
                scaling = lr.scaling
            }
            let biasValues = bias.map { $0.0.floatsOrEmpty } ?? []
            let biasScaling = bias?.1 ?? 0
            p.withUnsafeBufferPointer { pb in
                q.withUnsafeBufferPointer { qb in
                    Parallel.forRanges(rows, minimumPerThread: max(1, 8192 / max(1, columns * max(1, rank)))) { range in
                        let row = UnsafeMutablePointer<Float>.allocate(capacity: max(1, columns))
                        let delta = UnsafeMutablePointer<Float>.allocate(capacity: max(1, columns))
                        defer { row.deallocate(); delta.deallocate() }
                        for r in range {
                            source.copyRow(r, into: row)
                            if rank > 0 {
                                delta.update(repeating: 0, count: columns)
                                for k in 0..<rank {
                                    axpy(pb[r * rank + k], qb.baseAddress! + k * columns, delta, count: columns)
                                }
                                for c in 0..<columns { row[c] += delta[c] * scaling }
                            }
                            if !biasValues.isEmpty {
                                for c in 0..<columns { row[c] += biasValues[r * columns + c] * biasScaling }
                            }
                            LoRA.TensorMath.store(row, count: columns, as: dtype, into: out + r * columns * dtype.byteSize)
                        }
                    }
                }
            }
        }
    }

    /// The adapter_config.json fields that change the merged weights, with unsupported features refused.
    public struct AdapterConfig {
        public let path: String
        let r: Int
        let alpha: Double
        let useRSLoRA: Bool
        let loraBias: Bool
        /// In file order: peft uses the first pattern that matches.
        let rankPattern: [(pattern: String, value: Int)]
        let alphaPattern: [(pattern: String, value: Double)]

        init(url: URL) throws {
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw MixtureError.missingFile(path: url.path, reason: "cannot read")
            }
            try self.init(data: data, url: url)
        }

        /// Reads an `adapter_config.json` held in `data`; `url` names it in errors.
        public init(data: Data, url: URL) throws {
            let config = try JSONConfig(data: data, path: url.path)
            path = url.path
            func refuse(_ field: String, _ what: String) -> MixtureError {
                .invalidConfig(path: url.path, field: field, reason: "\(what) is not supported")
            }
            let peftType = try config.string("peft_type")
            guard peftType.uppercased() == "LORA" else {
                throw MixtureError.invalidConfig(path: url.path, field: "peft_type", reason: "'\(peftType)' adapters are not supported (only LORA)")
            }
            if try config.bool("use_dora", default: false) { throw refuse("use_dora", "DoRA (use_dora: true)") }
            if try config.bool("use_qalora", default: false) { throw refuse("use_qalora", "QA-LoRA (use_qalora: true)") }
            let features: [(String, String)] = [
                ("use_bdlora", "block-diagonal LoRA"), ("layer_replication", "layer replication"),
                ("trainable_token_indices", "trainable tokens"), ("alora_invocation_tokens", "activated LoRA"),
                ("arrow_config", "Arrow routing"), ("velora_config", "VeLoRA"), ("monteclora_config", "MonteCLoRA"),
                ("kasa_config", "KaSA"), ("target_parameters", "LoRA on parameters (target_parameters)"),
            ]
            for (field, what) in features where config.has(field) {
                let value = config.values[field]!
                if let list = value as? [Any], list.isEmpty { continue }
                if let object = value as? [String: Any], object.isEmpty { continue }
                if String(describing: type(of: value)).hasSuffix("Boolean") || type(of: value) == Bool.self, (value as? Bool) == false { continue }
                throw refuse(field, what)
            }
            r = try config.count("r", atMost: PlausibleBounds.hiddenSize)
            alpha = try config.double("lora_alpha", default: 8)
            useRSLoRA = try config.bool("use_rslora", default: false)
            loraBias = try config.bool("lora_bias", default: false)
            _ = try config.bool("fan_in_fan_out", default: false)
            var ranks: [(String, Int)] = []
            var alphas: [(String, Double)] = []
            if let object = try config.object("rank_pattern") {
                for key in Self.orderedKeys(of: "rank_pattern", in: data) ?? object.values.keys.sorted() {
                    guard let value = try? object.int(key), value >= 1, value <= PlausibleBounds.hiddenSize else {
                        throw MixtureError.invalidConfig(path: url.path, field: "rank_pattern.\(key)", reason: "expected a positive integer rank")
                    }
                    ranks.append((key, value))
                }
            }
            if let object = try config.object("alpha_pattern") {
                for key in Self.orderedKeys(of: "alpha_pattern", in: data) ?? object.values.keys.sorted() {
                    guard let value = try? object.double(key) else {
                        throw MixtureError.invalidConfig(path: url.path, field: "alpha_pattern.\(key)", reason: "expected a number")
                    }
                    alphas.append((key, value))
                }
            }
            for (pattern, _) in ranks.map({ ($0.0, 0) }) + alphas.map({ ($0.0, 0) }) {
                guard (try? NSRegularExpression(pattern: "^(.*\\.)?(\(pattern))$")) != nil else {
                    throw MixtureError.invalidConfig(path: url.path, field: "rank_pattern/alpha_pattern", reason: "'\(pattern)' is not a valid regular expression")
                }
            }
            rankPattern = ranks
            alphaPattern = alphas
        }

        /// peft's `get_pattern_key`: the first key `k` with `re.match(rf"(.*\.)?({k})$", module)`.
        static func firstMatch<T>(_ patterns: [(pattern: String, value: T)], _ module: String) -> T? {
            for (pattern, value) in patterns {
                guard let regex = try? NSRegularExpression(pattern: "^(.*\\.)?(\(pattern))$") else { continue }
                if regex.firstMatch(in: module, range: NSRange(module.startIndex..., in: module)) != nil { return value }
            }
            return nil
        }

        func rank(for module: String) -> Int { Self.firstMatch(rankPattern, module) ?? r }
        func alpha(for module: String) -> Double { Self.firstMatch(alphaPattern, module) ?? alpha }

        func scaling(for module: String) -> Double {
            let r = Double(rank(for: module))
            return useRSLoRA ? alpha(for: module) / r.squareRoot() : alpha(for: module) / r
        }

        /// Keys of the top-level object `field`, in file order (Foundation's JSON objects are unordered).
        static func orderedKeys(of field: String, in data: Data) -> [String]? {
            var scanner = KeyScanner(bytes: [UInt8](data))
            return scanner.keys(of: field)
        }
    }

    /// Just enough of a JSON reader to list an object's keys in order.
    struct KeyScanner {
        let bytes: [UInt8]
        var i = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func keys(of field: String) -> [String]? {
            skipSpace()
            guard peek() == UInt8(ascii: "{") else { return nil }
            i += 1
            while true {
                skipSpace()
                if peek() == UInt8(ascii: "}") { return nil }
                guard let key = string() else { return nil }
                skipSpace()
                guard peek() == UInt8(ascii: ":") else { return nil }
                i += 1
                skipSpace()
                if key == field {
                    guard peek() == UInt8(ascii: "{") else { return nil }
                    i += 1
                    var result: [String] = []
                    while true {
                        skipSpace()
                        if peek() == UInt8(ascii: "}") { return result }
                        guard let k = string() else { return nil }
                        result.append(k)
                        skipSpace()
                        guard peek() == UInt8(ascii: ":") else { return nil }
                        i += 1
                        guard skipValue() else { return nil }
                        skipSpace()
                        if peek() == UInt8(ascii: ",") { i += 1 }
                    }
                }
                guard skipValue() else { return nil }
                skipSpace()
                if peek() == UInt8(ascii: ",") { i += 1 } else { return nil }
            }
        }

        func peek() -> UInt8? { i < bytes.count ? bytes[i] : nil }

        mutating func skipSpace() {
            while let c = peek(), c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { i += 1 }
        }

        mutating func string() -> String? {
            guard peek() == UInt8(ascii: "\"") else { return nil }
            i += 1
            var units: [UInt16] = []
            var raw: [UInt8] = []
            func flushRaw() {
                units.append(contentsOf: String(decoding: raw, as: UTF8.self).utf16)
                raw.removeAll()
            }
            while let c = peek() {
                i += 1
                if c == UInt8(ascii: "\"") {
                    flushRaw()
                    return String(decoding: units, as: UTF16.self)
                }
                if c != UInt8(ascii: "\\") { raw.append(c); continue }
                guard let e = peek() else { return nil }
                i += 1
                flushRaw()
                switch e {
                case UInt8(ascii: "n"): units.append(0x0A)
                case UInt8(ascii: "t"): units.append(0x09)
                case UInt8(ascii: "r"): units.append(0x0D)
                case UInt8(ascii: "b"): units.append(0x08)
                case UInt8(ascii: "f"): units.append(0x0C)
                case UInt8(ascii: "u"):
                    guard i + 4 <= bytes.count, let v = UInt16(String(decoding: bytes[i..<(i + 4)], as: UTF8.self), radix: 16) else { return nil }
                    units.append(v)
                    i += 4
                default: units.append(UInt16(e))
                }
            }
            return nil
        }

        mutating func skipValue() -> Bool {
            skipSpace()
            guard let c = peek() else { return false }
            if c == UInt8(ascii: "\"") { return string() != nil }
            if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") {
                var depth = 0
                while let d = peek() {
                    if d == UInt8(ascii: "\"") { if string() == nil { return false }; continue }
                    i += 1
                    if d == UInt8(ascii: "{") || d == UInt8(ascii: "[") { depth += 1 }
                    if d == UInt8(ascii: "}") || d == UInt8(ascii: "]") { depth -= 1; if depth == 0 { return true } }
                }
                return false
            }
            while let d = peek(), d != UInt8(ascii: ","), d != UInt8(ascii: "}"), d != UInt8(ascii: "]") { i += 1 }
            return true
        }
    }
}

extension TensorView {
    /// All elements as Float (already validated as a floating dtype).
    fileprivate var floatsOrEmpty: [Float] { (try? floats()) ?? [] }
}
