import Foundation
import MixtureCore
import MixtureFormats

/// LoRA adapters in PEFT's format (`adapter_config.json` + `adapter_model.safetensors`, tensors named
/// `base_model.model.<module>.lora_A.weight` ...): extraction from a fine-tune as mergekit 0.1.5's
/// `mergekit-extract-lora` does it, and folding into a base model as peft 0.21's `merge_and_unload`.
public enum LoRA {
    // MARK: - Extraction

    public struct ExtractOptions: Sendable {
        /// Replace a non-empty output folder.
        public var force: Bool
        /// Singular values at or below this are dropped (mergekit's `--sv-epsilon`; 0 keeps `rank`).
        public var singularValueEpsilon: Double
        /// How the truncated SVD is computed.
        public var svd: TruncatedSVD.Options

        public init(force: Bool = false, singularValueEpsilon: Double = 0, svd: TruncatedSVD.Options = .init()) {
            self.force = force
            self.singularValueEpsilon = singularValueEpsilon
            self.svd = svd
        }
    }

    public struct ExtractSummary: Sendable {
        /// Linear module → rank of its LoRA pair.
        public var ranks: [String: Int]
        /// The adapter's `r` (largest rank).
        public var rank: Int
        /// `modules_to_save`: modules stored at full rank (embeddings, norms, ...), by last name component.
        public var modulesToSave: [String]
        /// Fine-tuned tensors copied at full rank.
        public var fullTensors: [String]
        /// Bias tensors of decomposed layers that the fine-tune changed (stored in full).
        public var changedBiases: [String]
        /// Tensors ignored (not floating point: buffers such as position ids).
        public var skipped: [String]
    }

    /// Writes a PEFT LoRA adapter to `output` that turns `base` into (an approximation of) `finetuned`:
    /// each linear layer's delta `finetuned − base` is replaced by its rank-`rank` truncated SVD, split
    /// as `lora_B = U·√S`, `lora_A = √S·Vᵀ` with `lora_alpha = r` (scale 1). Embeddings, the output head,
    /// norms and every other non-linear tensor are stored at full rank and listed in `modules_to_save`.
    /// A decomposed layer's bias, when the fine-tune changed it, is stored in full as
    /// `<module>.base_layer.bias` (which peft loads) with `"bias": "lora_only"`.
    ///
    /// Tensors are processed one at a time; the folder appears atomically.
    @discardableResult
    public static func extract(base: URL, finetuned: URL, rank: Int, to output: URL,
                               options: ExtractOptions = ExtractOptions(),
                               progress: ((Int, Int) -> Void)? = nil) throws -> ExtractSummary {
        guard rank >= 1 else { throw MixtureError.invalidArgument("rank must be at least 1, got \(rank)") }
        guard options.singularValueEpsilon >= 0 else {
            throw MixtureError.invalidArgument("singular value epsilon must be at least 0, got \(options.singularValueEpsilon)")
        }
        try OutputFolder.check(output, force: options.force, inputs: [base, finetuned])
        let baseModel = try ModelFolder(url: base)
        let tuned = try ModelFolder(url: finetuned)
        let config = try JSONConfig(data: tuned.configData, path: tuned.configURL.path)
        let conv1D = Naming.conv1DModelTypes.contains((try? config.optionalString("model_type")) ?? "")

        // Group the fine-tune's tensors by module (everything before the last dot).
        var skipped: [String] = []
        var modules: [String: [String: TensorView]] = [:]
        for name in tuned.tensorNames {
            let view = tuned.tensor(name)!
            guard view.info.dtype.weightType != nil else { skipped.append(name); continue }
            let (module, parameter) = Naming.split(name)
            modules[module, default: [:]][parameter] = view
        }
        let moduleNames = modules.keys.sorted(by: Naming.naturalOrder)

        // Linear layers: a 2-D weight that is not an embedding or an output head. Everything else is
        // saved at full rank under its last name component, and so is any linear layer sharing such a key.
        var linear: [String] = []
        var fullKeys: [String] = []
        for module in moduleNames {
            let params = modules[module]!
            if let w = params["weight"], w.info.shape.count == 2, !Naming.isEmbedding(module) {
                linear.append(module)
            } else {
                let key = Naming.lastComponent(module.isEmpty ? params.keys.sorted()[0] : module)
                if !fullKeys.contains(key) { fullKeys.append(key) }
            }
        }
        linear = linear.filter { !fullKeys.contains(Naming.lastComponent($0)) }
        let linearSet = Set(linear)

        struct Pair { var module: String; var factors: TruncatedSVD.Factors; var dtype: SafeTensorsDType }
        var pairs: [Pair] = []
        var changedBiases: [String] = []
        var fullTensors: [String] = []
        let total = moduleNames.count
        var done = 0
        for module in moduleNames {
            defer { done += 1; progress?(done, total) }
            let params = modules[module]!
            guard linearSet.contains(module) else {
                fullTensors.append(contentsOf: params.keys.map { module.isEmpty ? $0 : module + "." + $0 })
                continue
            }
            for parameter in params.keys where parameter != "weight" && parameter != "bias" {
                throw MixtureError.invalidFile(path: params[parameter]!.path,
                                               reason: "tensor '\(module).\(parameter)': linear layers with a '\(parameter)' tensor cannot be decomposed")
            }
            let weightName = module + ".weight"
            let tunedWeight = params["weight"]!
            guard let baseWeight = baseModel.tensor(weightName) else {
                throw MixtureError.invalidFile(path: tunedWeight.path, reason: "tensor '\(weightName)' has no counterpart in the base model \(base.path)")
            }
            guard baseWeight.info.shape == tunedWeight.info.shape else {
                throw MixtureError.invalidFile(path: tunedWeight.path,
                                               reason: "tensor '\(weightName)' is \(tunedWeight.info.shape) but \(baseWeight.info.shape) in the base model \(base.path)")
            }
            var factors = try decomposeDelta(base: baseWeight, tuned: tunedWeight, transposed: conv1D, rank: rank,
                                             options: options.svd, seed: Naming.hash(weightName) ^ options.svd.seed)
            if options.singularValueEpsilon > 0 {
                let kept = factors.singularValues.filter { $0 > options.singularValueEpsilon }.count
                factors = factors.truncated(to: max(1, kept))
            }
            pairs.append(Pair(module: module, factors: factors, dtype: tunedWeight.info.dtype))
            if let tunedBias = params["bias"] {
                let biasName = module + ".bias"
                guard let baseBias = baseModel.tensor(biasName), baseBias.info.shape == tunedBias.info.shape else {
                    throw MixtureError.invalidFile(path: tunedBias.path, reason: "tensor '\(biasName)' has no counterpart of the same shape in the base model \(base.path)")
                }
                if try baseBias.floats() != tunedBias.floats() { changedBiases.append(module) }
            }
        }
        guard !pairs.isEmpty else {
            throw MixtureError.invalidFile(path: finetuned.path, reason: "no linear layers to decompose")
        }

        // adapter_model.safetensors: LoRA pairs in the fine-tune's dtype, full tensors copied as stored.
        let prefix = "base_model.model."
        var entries: [SafeTensorsWriter.Entry] = []
        for pair in pairs {
            let f = pair.factors
            // Delta = B·A with A = √S·Vᵀ (r × in), B = U·√S (out × r). For Conv1D storage (in × out) the
            // factors came from Δᵀ, which is already out × in.
            let (a, b, inputs, outputs) = (f.right, f.left, f.columns, f.rows)
            entries.append(TensorMath.entry(name: prefix + pair.module + ".lora_A.weight", floats: a, shape: [f.rank, inputs], dtype: pair.dtype))
            entries.append(TensorMath.entry(name: prefix + pair.module + ".lora_B.weight", floats: b, shape: [outputs, f.rank], dtype: pair.dtype))
        }
        for module in changedBiases {
            let view = modules[module]!["bias"]!
            entries.append(TensorMath.copyEntry(name: prefix + module + ".base_layer.bias", view: view))
        }
        for name in fullTensors.sorted(by: Naming.naturalOrder) {
            entries.append(TensorMath.copyEntry(name: prefix + name, view: tuned.tensor(name)!))
        }
        // Tied embeddings: the checkpoint has no output head, but the model does. Save it too, as mergekit
        // does (a modules_to_save copy of the embedding alone would untie the head in peft, leaving it at
        // the base's embedding).
        if tuned.tensor("lm_head.weight") == nil, (try? config.bool("tie_word_embeddings", default: true)) ?? true,
           let embedding = Naming.inputEmbedding(in: tuned.tensorNames), fullTensors.contains(embedding) {
            entries.append(TensorMath.copyEntry(name: prefix + "lm_head.weight", view: tuned.tensor(embedding)!))
            fullTensors.append("lm_head.weight")
            if !fullKeys.contains("lm_head") { fullKeys.append("lm_head") }
        }

        var ranks: [String: Int] = [:]
        for pair in pairs { ranks[pair.module] = pair.factors.rank }
        let maxRank = ranks.values.max()!
        let different = ranks.filter { $0.value != maxRank }
        var adapterConfig: [String: Any] = [
            "base_model_name_or_path": base.path,
            "peft_type": "LORA",
            "use_rslora": false,
            "target_modules": Array(Set(ranks.keys.map(Naming.lastComponent))).sorted(),
            "modules_to_save": fullKeys,
            "task_type": "CAUSAL_LM",
            "r": maxRank,
            "lora_alpha": maxRank,
            "rank_pattern": different,
            "alpha_pattern": different,
            "lora_dropout": 0.0,
            "fan_in_fan_out": conv1D,
            "inference_mode": true,
        ]
        if !changedBiases.isEmpty { adapterConfig["bias"] = "lora_only" }

        let folder = try OutputFolder(output, force: options.force)
        try folder.write {
            try SafeTensorsWriter.write(entries, metadata: ["format": "pt"], to: $0.appendingPathComponent("adapter_model.safetensors"))
            let json = try prettyJSON(adapterConfig)
            try json.write(to: $0.appendingPathComponent("adapter_config.json"))
        }
        return ExtractSummary(ranks: ranks, rank: maxRank, modulesToSave: fullKeys, fullTensors: fullTensors.sorted(by: Naming.naturalOrder),
                              changedBiases: changedBiases, skipped: skipped.sorted())
    }

    /// The truncated SVD of `tuned − base` (of its transpose when `transposed`), computed in Float.
    static func decomposeDelta(base: TensorView, tuned: TensorView, transposed: Bool, rank: Int,
                               options: TruncatedSVD.Options, seed: UInt64) throws -> TruncatedSVD.Factors {
        let b = try base.matrix(), t = try tuned.matrix()
        let rows = t.rows, columns = t.columns
        let delta = FloatBuffer(count: rows * columns)
        let p = delta.pointer
        Parallel.forRanges(rows, minimumPerThread: max(1, 16_384 / max(1, columns))) { range in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(1, columns))
            defer { scratch.deallocate() }
            for r in range {
                t.copyRow(r, into: p + r * columns)
                b.copyRow(r, into: scratch)
                for c in 0..<columns { p[r * columns + c] -= scratch[c] }
            }
        }
        var svdOptions = options
        svdOptions.seed = seed
        if transposed {
            let dt = TruncatedSVD.transpose(UnsafePointer(p), rows: rows, columns: columns)
            return TruncatedSVD.decompose(UnsafePointer(dt.pointer), rows: columns, columns: rows, rank: rank, options: svdOptions)
        }
        return TruncatedSVD.decompose(UnsafePointer(p), rows: rows, columns: columns, rank: rank, options: svdOptions)
    }

    // MARK: - Shared helpers

    /// Tensor-name conventions.
    enum Naming {
        /// Architectures whose linear layers are transformers' `Conv1D` (weights stored `in × out`), which
        /// peft handles with `fan_in_fan_out`.
        static let conv1DModelTypes: Set<String> = ["gpt2", "openai-gpt", "imagegpt", "decision_transformer"]

        /// "a.b.weight" → ("a.b", "weight"); "weight" → ("", "weight").
        static func split(_ name: String) -> (module: String, parameter: String) {
            guard let dot = name.lastIndex(of: ".") else { return ("", name) }
            return (String(name[..<dot]), String(name[name.index(after: dot)...]))
        }

        static func lastComponent(_ name: String) -> String {
            guard let dot = name.lastIndex(of: ".") else { return name }
            return String(name[name.index(after: dot)...])
        }

        /// Input/output embeddings and other lookup tables, which mergekit keeps at full rank (transformers'
        /// `get_input_embeddings` / `get_output_embeddings` / `nn.Embedding`), recognised by name.
        static func isEmbedding(_ module: String) -> Bool {
            let last = lastComponent(module).lowercased()
            if last.contains("embed") || last == "wte" || last == "wpe" || last == "lm_head" || last == "shared" {
                return true
            }
            return module == "output" // Meta's original Llama layout names the output head "output"
        }

        /// The input embedding among a model's tensor names (the table a tied output head shares).
        static func inputEmbedding(in names: [String]) -> String? {
            let suffixes = ["embed_tokens.weight", "wte.weight", "word_embeddings.weight", "embed_in.weight", "tok_embeddings.weight"]
            for suffix in suffixes {
                if let name = names.filter({ $0 == suffix || $0.hasSuffix("." + suffix) }).min(by: { $0.count < $1.count }) {
                    return name
                }
            }
            return nil
        }

        /// Name order with numeric components compared as numbers ("layers.2" before "layers.10").
        static func naturalOrder(_ a: String, _ b: String) -> Bool {
            let pa = a.split(separator: ".", omittingEmptySubsequences: false)
            let pb = b.split(separator: ".", omittingEmptySubsequences: false)
            for (x, y) in zip(pa, pb) where x != y {
                if let i = Int(x), let j = Int(y) { return i < j }
                return x < y
            }
            return pa.count < pb.count
        }

        /// FNV-1a, for per-tensor seeds that do not depend on processing order.
        static func hash(_ s: String) -> UInt64 {
            var h: UInt64 = 0xCBF2_9CE4_8422_2325
            for byte in s.utf8 { h = (h ^ UInt64(byte)) &* 0x1000_0000_01B3 }
            return h
        }
    }

    enum TensorMath {
        static func transposed(_ m: [Float], rows: Int, columns: Int) -> [Float] {
            var out = [Float](repeating: 0, count: m.count)
            for r in 0..<rows { for c in 0..<columns { out[c * rows + r] = m[r * columns + c] } }
            return out
        }

        static func entry(name: String, floats: [Float], shape: [Int], dtype: SafeTensorsDType) -> SafeTensorsWriter.Entry {
            SafeTensorsWriter.Entry(name: name, floats: floats, shape: shape, dtype: dtype.weightType ?? .float32)
        }

        /// A tensor copied byte for byte from a mapped file.
        static func copyEntry(name: String, view: TensorView) -> SafeTensorsWriter.Entry {
            SafeTensorsWriter.Entry(name: name, dtype: view.info.dtype, shape: view.info.shape) { buffer in
                if buffer.count > 0 { buffer.baseAddress!.copyMemory(from: view.base, byteCount: buffer.count) }
            }
        }

        /// Stores `count` floats as `dtype` (round to nearest even, as torch casts).
        static func store(_ values: UnsafePointer<Float>, count: Int, as dtype: DType, into destination: UnsafeMutableRawPointer) {
            switch dtype {
            case .float32:
                destination.copyMemory(from: values, byteCount: count * 4)
            case .bfloat16:
                for i in 0..<count { destination.storeBytes(of: ScalarConversion.bfloat16Bits(from: values[i]), toByteOffset: i * 2, as: UInt16.self) }
            case .float16:
                for i in 0..<count { destination.storeBytes(of: ScalarConversion.float16Bits(from: values[i]), toByteOffset: i * 2, as: UInt16.self) }
            }
        }
    }
}
