import ArgumentParser
import Foundation
import MixtureCore
import MixtureModels
import MixtureTokenizers

struct SamplingOptions: ParsableArguments {
    @Option(help: "Sampling temperature; 0 picks the most likely token (greedy).")
    var temperature: Float = 0
    @Option(name: .customLong("top-k"), help: "Keep only the k most likely tokens (0: off).")
    var topK: Int = 0
    @Option(name: .customLong("top-p"), help: "Nucleus sampling: keep the smallest set reaching this probability (1: off).")
    var topP: Float = 1
    @Option(name: .customLong("min-p"), help: "Drop tokens below min-p times the top token's probability (0: off).")
    var minP: Float = 0
    @Option(help: "Random seed; the same seed gives the same output.")
    var seed: UInt64 = 0

    var parameters: SamplingParameters {
        SamplingParameters(temperature: temperature, topK: topK, topP: topP, minP: minP, seed: seed)
    }
}

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate from a prompt given as text (--prompt, streamed) or as token ids (--ids).")

    @OptionGroup var options: ModelOptions

    @Option(name: .long, help: "Prompt as comma-separated token ids, e.g. 1,2,3.")
    var ids: String?

    @Option(name: .long, help: "Prompt as text, encoded with the model's tokenizer.json (special tokens added).")
    var prompt: String?

    @Option(help: "tokenizer.json or a folder holding it (default: the model folder).")
    var tokenizer: String?

    @Option(name: .customLong("max-tokens"), help: "Maximum number of tokens to generate.")
    var maxTokens: Int = 32

    @OptionGroup var sampling: SamplingOptions

    @Option(name: .customLong("stop-id"), help: "Also stop when this id is generated (repeatable).")
    var stopIDs: [Int] = []

    @Flag(name: .customLong("ignore-eos"), help: "Do not stop at the model's eos_token_id.")
    var ignoreEOS = false

    @Flag(help: "Print one JSON object: {\"ids\": [generated ids], ...} (with \"text\" for --prompt).")
    var json = false

    @Flag(name: .customLong("routing-stats"), help: "After generation, print each MoE layer's expert load.")
    var routingStats = false

    func validate() throws {
        guard (ids == nil) != (prompt == nil) else { throw ValidationError("give the prompt either as --ids or as --prompt") }
        guard maxTokens >= 0 else { throw ValidationError("--max-tokens must be ≥ 0") }
    }

    func run() throws {
        try options.applyThreads()
        let model = try TransformerModel.load(from: options.url)
        var tok: Tokenizer?
        let promptIDs: [Int]
        if let text = prompt {
            let location = URL(fileURLWithPath: tokenizer ?? options.model)
            let loaded = try Tokenizer.load(from: location)
            tok = loaded
            promptIDs = try loaded.encode(text, addSpecialTokens: true)
        } else {
            promptIDs = try parseIDs(ids!)
        }
        var stops = Set(stopIDs)
        if !ignoreEOS { stops.formUnion(model.endOfSequenceTokens) }
        let statistics = model.architecture.moe.map { RoutingStatistics(expertCount: $0.expertCount) }
        var stream = tok?.streamingDetokenizer(skipSpecialTokens: true)
        var text = ""
        let result = try model.generate(
            prompt: promptIDs, maxTokens: maxTokens, sampling: sampling.parameters, stopTokens: stops,
            routing: routingStats ? statistics : nil,
            onToken: { id in
                if stream != nil {
                    let piece = stream!.append(id)
                    text += piece
                    if !json && !piece.isEmpty { FileHandle.standardOutput.write(Data(piece.utf8)) }
                } else if !json {
                    FileHandle.standardOutput.write(Data("\(id) ".utf8))
                }
                return true
            })
        if stream != nil {
            let rest = stream!.finish()
            text += rest
            if !json { FileHandle.standardOutput.write(Data(rest.utf8)) }
        }
        try report(result, statistics: routingStats ? statistics : nil, architecture: model.architecture, json: json,
                   text: tok == nil ? nil : text)
    }
}

/// Prints the summary after generation: one JSON object, or speed and routing lines.
func report(_ result: GenerationResult, statistics: RoutingStatistics?, architecture: ArchitectureDescription, json: Bool,
            text: String? = nil) throws {
    if json {
        var object: [String: Any] = [
            "ids": result.tokens, "prompt_tokens": result.promptTokens,
            "prefill_tokens_per_second": result.prefillTokensPerSecond,
            "decode_tokens_per_second": result.decodeTokensPerSecond,
            "stopped_at_stop_token": result.stoppedAtEndOfSequence,
        ]
        if let text = text { object["text"] = text }
        if let s = statistics { object["routing"] = ["expert_counts_per_layer": s.jsonObject, "experts": s.expertCount] }
        print(try jsonString(of: object))
    } else {
        print("")
        printError(String(format: "prompt %d tokens: prefill %.1f tok/s; generated %d tokens: decode %.1f tok/s",
                          result.promptTokens, result.prefillTokensPerSecond, result.tokens.count, result.decodeTokensPerSecond))
        if let s = statistics { print(s.summary()) }
    }
}
