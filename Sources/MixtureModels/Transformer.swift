import Foundation
import MixtureCore
import MixtureFormats

/// Which positions' logits a forward pass returns.
public enum LogitsRequest: Sendable {
    case none
    case last
    case all
}

/// A decoder-only transformer loaded from a Hugging Face folder. One block implementation serves every
/// supported architecture; `architecture` holds what differs.
public final class TransformerModel: @unchecked Sendable {
    public let architecture: ArchitectureDescription
    public let weights: TransformerWeights
    /// Keeps the memory-mapped files alive as long as the model.
    public let source: WeightSource
    let rope: RotaryEmbedding

    /// The Hugging Face folder the model came from (nil for a GGUF file).
    public var folder: ModelFolder? { source as? ModelFolder }

    public convenience init(folder: ModelFolder) throws {
        let config = try JSONConfig(data: folder.configData, path: folder.configURL.path)
        try self.init(source: folder, architecture: ArchitectureDescription(config: config))
    }

    /// A GGUF file: its metadata read as a config.json (see `GGUFWeights`).
    /// A GGUF model; `dequantize` turns its quantized matrices into F32 at load (the float reference
    /// the integer kernels are measured against) instead of reading their blocks in place.
    public convenience init(gguf file: GGUFFile, dequantize: Bool = false) throws {
        let weights = try GGUFWeights(file: file, dequantizeAll: dequantize)
        var architecture = try ArchitectureDescription(config: JSONConfig(values: weights.config, path: "\(file.path) (metadata)"))
        // llama.cpp's graphs for these architectures have no sliding window.
        architecture.slidingWindows = Array(repeating: nil, count: architecture.layerCount)
        if let factors = try weights.ropeFrequencyFactors() {
            guard factors.count == architecture.headDimension / 2 else {
                throw MixtureError.invalidFile(path: file.path, reason: "tensor 'rope_freqs.weight' has \(factors.count) factors, expected \(architecture.headDimension / 2)")
            }
            architecture.ropeScaling = .frequencyFactors(factors)
        }
        try self.init(source: weights, architecture: architecture)
    }

    public init(source: WeightSource, architecture: ArchitectureDescription) throws {
        self.source = source
        self.architecture = architecture
        weights = try TransformerWeights(source: source, architecture: architecture)
        HeapPolicy.keepLargeAllocationsInHeap()
        rope = RotaryEmbedding(rotaryDimension: architecture.headDimension, theta: architecture.ropeTheta,
                               scaling: architecture.ropeScaling)
    }

    /// Loads a model folder or a `.gguf` file; `residency: .hugePages` copies a folder's weights into
    /// 2 MB pages for faster decoding.
    public static func load(from url: URL, residency: Residency = .mapped) throws -> TransformerModel {
        if isGGUF(url) { return try TransformerModel(gguf: GGUFFile(path: url.path)) }
        return try TransformerModel(folder: ModelFolder(url: url, residency: residency))
    }

    /// A regular file that starts with the GGUF magic.
    public static func isGGUF(_ url: URL) -> Bool { GGUFFile.hasMagic(url) }

    public func makeCache(capacity: Int = 256) -> KVCache {
        KVCache(layerCount: architecture.layerCount, width: architecture.keyValueHeadCount * architecture.headDimension,
                capacity: capacity)
    }

    /// Runs `tokens` at the positions following what `cache` holds, appends their keys and values to it,
    /// and returns the requested logits (one row of `vocab_size` per returned position).
    public func forward(_ tokens: [Int], cache: KVCache, logits request: LogitsRequest = .last,
                        routing observer: RoutingObserver? = nil) throws -> [[Float]] {
        let a = architecture
        for id in tokens where id < 0 || id >= a.vocabularySize {
            throw MixtureError.invalidArgument("token id \(id) is out of range: the vocabulary has \(a.vocabularySize) entries (0...\(a.vocabularySize - 1))")
        }
        let count = tokens.count
        guard count > 0 else { return [] }
        let start = cache.length
        cache.reserve(start + count)

        let hidden = a.hiddenSize
        let x = FloatBuffer(count: count * hidden)
        for (t, id) in tokens.enumerated() { weights.embedding.copyRow(id, into: x.row(t, width: hidden)) }
        let normed = FloatBuffer(count: count * hidden)
        let update = FloatBuffer(count: count * hidden)

        for (l, layer) in weights.layers.enumerated() {
            for t in 0..<count {
                Norms.rms(x.row(t, width: hidden), weight: layer.inputNorm, eps: a.rmsNormEpsilon,
                          output: normed.row(t, width: hidden), count: hidden)
            }
            attention(layer: l, weights: layer.attention, input: normed, count: count, start: start, cache: cache, output: update)
            addInPlace(x, update)
            for t in 0..<count {
                Norms.rms(x.row(t, width: hidden), weight: layer.postAttentionNorm, eps: a.rmsNormEpsilon,
                          output: normed.row(t, width: hidden), count: hidden)
            }
            switch layer.feedForward {
            case .dense(let mlp):
                feedForward(mlp, input: normed, count: count, output: update)
            case .sparse(let moe):
                mixtureOfExperts(moe, layer: l, input: normed, count: count, start: start, output: update, observer: observer)
            }
            addInPlace(x, update)
        }
        cache.commit(count)

        let rows: Range<Int>
        switch request {
        case .none: return []
        case .last: rows = (count - 1)..<count
        case .all: rows = 0..<count
        }
        for t in rows {
            Norms.rms(x.row(t, width: hidden), weight: weights.finalNorm, eps: a.rmsNormEpsilon,
                      output: normed.row(t, width: hidden), count: hidden)
        }
        let vocabulary = a.vocabularySize
        let logits = FloatBuffer(count: rows.count * vocabulary)
        Linear.run(LinearJob(weight: weights.languageModelHead, input: normed.row(rows.lowerBound, width: hidden),
                             output: logits.pointer, tokens: rows.count))
        return (0..<rows.count).map { logits.array($0 * vocabulary ..< ($0 + 1) * vocabulary) }
    }

    // MARK: - Attention

    func attention(layer l: Int, weights w: AttentionWeights, input: FloatBuffer, count: Int, start: Int,
                   cache: KVCache, output: FloatBuffer) {
        let a = architecture
        let hd = a.headDimension
        let qWidth = a.headCount * hd
        let kvWidth = a.keyValueHeadCount * hd
        let q = FloatBuffer(count: count * qWidth)
        let k = FloatBuffer(count: count * kvWidth)
        let v = FloatBuffer(count: count * kvWidth)
        Linear.run([
            LinearJob(weight: w.query.weight, input: input.pointer, output: q.pointer, tokens: count),
            LinearJob(weight: w.key.weight, input: input.pointer, output: k.pointer, tokens: count),
            LinearJob(weight: w.value.weight, input: input.pointer, output: v.pointer, tokens: count),
        ])
        if let bias = w.query.bias { q.addToRows(bias, rows: count) }
        if let bias = w.key.bias { k.addToRows(bias, rows: count) }
        if let bias = w.value.bias { v.addToRows(bias, rows: count) }

        let cosines = FloatBuffer(count: hd / 2), sines = FloatBuffer(count: hd / 2)
        let scratch = FloatBuffer(count: max(qWidth, kvWidth))
        for t in 0..<count {
            let qt = q.row(t, width: qWidth), kt = k.row(t, width: kvWidth), vt = v.row(t, width: kvWidth)
            switch a.queryKeyNorm {
            case .none: break
            case .perHead:
                for h in 0..<a.headCount {
                    Norms.rms(qt + h * hd, weight: w.queryNorm!, eps: a.rmsNormEpsilon, output: scratch.pointer, count: hd)
                    (qt + h * hd).update(from: scratch.pointer, count: hd)
                }
                for h in 0..<a.keyValueHeadCount {
                    Norms.rms(kt + h * hd, weight: w.keyNorm!, eps: a.rmsNormEpsilon, output: scratch.pointer, count: hd)
                    (kt + h * hd).update(from: scratch.pointer, count: hd)
                }
            case .wholeProjection:
                Norms.rms(qt, weight: w.queryNorm!, eps: a.rmsNormEpsilon, output: scratch.pointer, count: qWidth)
                qt.update(from: scratch.pointer, count: qWidth)
                Norms.rms(kt, weight: w.keyNorm!, eps: a.rmsNormEpsilon, output: scratch.pointer, count: kvWidth)
                kt.update(from: scratch.pointer, count: kvWidth)
            }
            if let clip = a.clipQKV {
                for i in 0..<qWidth { qt[i] = min(max(qt[i], -clip), clip) }
                for i in 0..<kvWidth { kt[i] = min(max(kt[i], -clip), clip); vt[i] = min(max(vt[i], -clip), clip) }
            }
            rope.angles(position: start + t, cos: cosines.pointer, sin: sines.pointer)
            rope.apply(qt, heads: a.headCount, headDimension: hd, cos: cosines.pointer, sin: sines.pointer)
            rope.apply(kt, heads: a.keyValueHeadCount, headDimension: hd, cos: cosines.pointer, sin: sines.pointer)
            cache.key(layer: l, position: start + t).update(from: kt, count: kvWidth)
            cache.value(layer: l, position: start + t).update(from: vt, count: kvWidth)
        }

        // Scaled dot-product attention, one (token, head) pair per unit of work.
        let mixed = FloatBuffer(count: count * qWidth)
        let groupSize = a.headCount / a.keyValueHeadCount
        let scale = 1 / Float(hd).squareRoot()
        let window = a.slidingWindows[l]
        Parallel.forRanges(count * a.headCount, minimumPerThread: max(1, 2048 / max(1, start + count))) { units in
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: start + count)
            defer { scores.deallocate() }
            for unit in units {
                let t = unit / a.headCount, h = unit % a.headCount
                let position = start + t
                let first = window.map { max(0, position - $0 + 1) } ?? 0
                let query = q.row(t, width: qWidth) + h * hd
                let kvOffset = (h / groupSize) * hd
                for j in first...position {
                    scores[j - first] = Dot.product(query, cache.key(layer: l, position: j) + kvOffset, count: hd) * scale
                }
                let n = position - first + 1
                Softmax.inPlace(scores, count: n)
                let out = mixed.row(t, width: qWidth) + h * hd
                out.update(repeating: 0, count: hd)
                for j in first...position {
                    axpy(scores[j - first], cache.value(layer: l, position: j) + kvOffset, out, count: hd)
                }
            }
        }
        Linear.run(LinearJob(weight: w.output.weight, input: mixed.pointer, output: output.pointer, tokens: count))
        if let bias = w.output.bias { output.addToRows(bias, rows: count) }
    }

    // MARK: - Feed-forward

    /// `output = down(silu(gate(x)) * up(x))` for `count` rows of `input`.
    func feedForward(_ w: FeedForwardWeights, input: FloatBuffer, count: Int, output: FloatBuffer) {
        let size = w.intermediateSize
        let gate = FloatBuffer(count: count * size), up = FloatBuffer(count: count * size)
        Linear.run([
            LinearJob(weight: w.gate.weight, input: input.pointer, output: gate.pointer, tokens: count),
            LinearJob(weight: w.up.weight, input: input.pointer, output: up.pointer, tokens: count),
        ])
        if let bias = w.gate.bias { gate.addToRows(bias, rows: count) }
        if let bias = w.up.bias { up.addToRows(bias, rows: count) }
        Activations.siluGate(gate.pointer, up: up.pointer, count: count * size)
        Linear.run(LinearJob(weight: w.down.weight, input: gate.pointer, output: output.pointer, tokens: count))
        if let bias = w.down.bias { output.addToRows(bias, rows: count) }
    }

    /// The sparse block: route each token to its top-k experts, run every chosen expert once on the
    /// tokens that chose it, and sum the weighted outputs (plus the gated shared expert, if any).
    func mixtureOfExperts(_ w: MixtureOfExpertsWeights, layer: Int, input: FloatBuffer, count: Int, start: Int,
                          output: FloatBuffer, observer: RoutingObserver?) {
        let a = architecture
        let m = a.moe!
        let hidden = a.hiddenSize
        let expertCount = m.expertCount

        let routerLogits = FloatBuffer(count: count * expertCount)
        Linear.run(LinearJob(weight: w.router, input: input.pointer, output: routerLogits.pointer, tokens: count))

        // Where the MoE layer picks its experts.
        var assignments = [[(token: Int, weight: Float)]](repeating: [], count: expertCount)
        let probabilities = FloatBuffer(count: expertCount)
        for t in 0..<count {
            let logits = routerLogits.row(t, width: expertCount)
            probabilities.pointer.update(from: logits, count: expertCount)
            Softmax.inPlace(probabilities.pointer, count: expertCount)
            let chosen = TopK.indices(probabilities.pointer, count: expertCount, k: m.expertsPerToken)
            var chosenWeights = chosen.map { probabilities[$0] }
            if m.normalizeTopKProbabilities {
                let total = chosenWeights.reduce(0, +)
                chosenWeights = chosenWeights.map { $0 / total }
            }
            for (e, weight) in zip(chosen, chosenWeights) { assignments[e].append((t, weight)) }
            observer?.record(RoutingEvent(layer: layer, position: start + t,
                                          routerLogits: Array(UnsafeBufferPointer(start: logits, count: expertCount)),
                                          probabilities: probabilities.array(0..<expertCount),
                                          experts: chosen, weights: chosenWeights))
        }

        // Gather each expert's tokens into one contiguous segment.
        let size = m.expertIntermediateSize
        let slots = count * m.expertsPerToken
        let gathered = FloatBuffer(count: slots * hidden)
        let gate = FloatBuffer(count: slots * size), up = FloatBuffer(count: slots * size)
        let expertOutput = FloatBuffer(count: slots * hidden)
        var segmentStart = [Int](repeating: 0, count: expertCount + 1)
        for e in 0..<expertCount { segmentStart[e + 1] = segmentStart[e] + assignments[e].count }
        for e in 0..<expertCount {
            for (i, assignment) in assignments[e].enumerated() {
                gathered.row(segmentStart[e] + i, width: hidden).update(from: input.row(assignment.token, width: hidden), count: hidden)
            }
        }
        var gateUpJobs: [LinearJob] = []
        var downJobs: [LinearJob] = []
        for e in 0..<expertCount where !assignments[e].isEmpty {
            let n = assignments[e].count, s = segmentStart[e]
            let expert = w.experts[e]
            gateUpJobs.append(LinearJob(weight: expert.gate.weight, input: gathered.row(s, width: hidden), output: gate.row(s, width: size), tokens: n))
            gateUpJobs.append(LinearJob(weight: expert.up.weight, input: gathered.row(s, width: hidden), output: up.row(s, width: size), tokens: n))
            downJobs.append(LinearJob(weight: expert.down.weight, input: gate.row(s, width: size), output: expertOutput.row(s, width: hidden), tokens: n))
        }
        Linear.run(gateUpJobs)
        Activations.siluGate(gate.pointer, up: up.pointer, count: slots * size)
        Linear.run(downJobs)

        output.zero()
        for e in 0..<expertCount {
            for (i, assignment) in assignments[e].enumerated() {
                axpy(assignment.weight, expertOutput.row(segmentStart[e] + i, width: hidden), output.row(assignment.token, width: hidden), count: hidden)
            }
        }

        if let shared = w.sharedExpert, let sharedGate = w.sharedExpertGate {
            let sharedOutput = FloatBuffer(count: count * hidden)
            feedForward(shared, input: input, count: count, output: sharedOutput)
            for t in 0..<count {
                let g = Activations.sigmoid(sharedGate.dot(row: 0, input.row(t, width: hidden)))
                axpy(g, sharedOutput.row(t, width: hidden), output.row(t, width: hidden), count: hidden)
            }
        }
    }

    // MARK: - Helpers

    private func addInPlace(_ x: FloatBuffer, _ y: FloatBuffer) {
        axpy(1, y.pointer, x.pointer, count: x.count)
    }
}
