import ArgumentParser
import Foundation
import MixtureCore
import MixtureModels

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
    static let configuration = CommandConfiguration(abstract: "Generate tokens from a prompt given as ids.")

    @OptionGroup var options: ModelOptions

    @Option(name: .long, help: "Prompt as comma-separated token ids, e.g. 1,2,3.")
    var ids: String

    @Option(name: .customLong("max-tokens"), help: "Number of tokens to generate.")
    var maxTokens: Int = 32

    @OptionGroup var sampling: SamplingOptions

    @Option(name: .customLong("stop-id"), help: "Stop when this id is generated (repeatable).")
    var stopIDs: [Int] = []

    @Flag(name: .customLong("ignore-eos"), help: "Do not stop at the model's eos_token_id.")
    var ignoreEOS = false

    @Flag(help: "Print one JSON object: {\"ids\": [generated ids], ...}.")
    var json = false

    @Flag(name: .customLong("routing-stats"), help: "After generation, print each MoE layer's expert load.")
    var routingStats = false

    func run() throws {
        try options.applyThreads()
        let prompt = try parseIDs(ids)
        let model = try TransformerModel.load(from: options.url, residency: options.residency)
        let statistics = model.architecture.moe.map { RoutingStatistics(expertCount: $0.expertCount) }
        let result = try model.generate(
            prompt: prompt, maxTokens: maxTokens, sampling: sampling.parameters, stopTokens: Set(stopIDs).union(ignoreEOS ? [] : model.endOfSequenceTokens),
            routing: routingStats ? statistics : nil,
            onToken: { id in
                if !json { FileHandle.standardOutput.write(Data("\(id) ".utf8)) }
                return true
            })
        try report(result, statistics: routingStats ? statistics : nil, architecture: model.architecture, json: json)
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
        if let s = statistics {
            print(s.summary())
        } else if architecture.moe == nil && statistics == nil {
            // Dense model: nothing to route.
        }
    }
}
