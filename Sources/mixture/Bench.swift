import ArgumentParser
import Foundation
import MixtureModels

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure prefill and decode tokens/s, peak memory, and decode speed against the memory-bandwidth bound.")

    @OptionGroup var options: ModelOptions

    @Option(name: .customLong("prompt-tokens"), help: "Tokens in the prefill forward (llama-bench's pp).")
    var promptTokens: Int = 128

    @Option(name: .customLong("decode-tokens"), help: "Single-token forwards from an empty context (llama-bench's tg).")
    var decodeTokens: Int = 64

    @Option(help: "Repetitions; medians are reported.")
    var repetitions: Int = 3

    @Flag(name: .customLong("no-bandwidth"), help: "Skip the read-bandwidth measurement.")
    var noBandwidth = false

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func run() throws {
        try options.applyThreads()
        guard promptTokens >= 0, decodeTokens >= 0, repetitions > 0 else {
            throw ValidationError("--prompt-tokens and --decode-tokens must be ≥ 0 and --repetitions ≥ 1")
        }
        let model = try TransformerModel.load(from: options.url, residency: options.residency)
        let report = try model.benchmark(promptTokens: promptTokens, decodeTokens: decodeTokens, repetitions: repetitions,
                                         measureBandwidth: !noBandwidth,
                                         progress: { step in printError("bench: \(step)") })
        if json {
            print(try jsonString(of: report.jsonObject))
        } else {
            print("model: \(options.model) (\(model.architecture.modelType), \(model.weights.dtypes.sorted().joined(separator: ",")))")
            print(report.text)
        }
    }
}
