import ArgumentParser
import Foundation
import MixtureCore
import MixtureModels

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build a small synthetic MoE checkpoint (random weights) and run generation with routing statistics and speed.")

    @Option(help: "Where to keep the demo checkpoint.")
    var directory: String = FileManager.default.temporaryDirectory.appendingPathComponent("mixture-demo-moe").path

    @Option(name: .customLong("max-tokens"), help: "Tokens to generate.")
    var maxTokens: Int = 48

    func run() throws {
        let folder = URL(fileURLWithPath: directory)
        let checkpoint = SyntheticCheckpoint.demo()
        if !FileManager.default.fileExists(atPath: folder.appendingPathComponent("config.json").path) {
            print("Building a demo MoE checkpoint with RANDOM weights in \(directory)")
            print("(no trained weights ship with Mixture yet: the generated ids are meaningless; the routing and speed are real)")
            let progress = ProgressBar(label: "writing")
            try checkpoint.write(to: folder) { done, total in progress.update(done, of: total) }
            progress.finish()
        }
        let model = try TransformerModel.load(from: folder)
        let a = model.architecture
        let (total, active) = a.parameterCounts
        print("model: \(a.modelType), \(a.layerCount) layers, \(a.moe!.expertCount) experts top-\(a.moe!.expertsPerToken), "
              + "\(human(total)) parameters (\(human(active)) active per token), \(model.weights.dtypes.sorted().joined())")
        let prompt = [1, 17, 42, 99, 7, 256, 1024, 3]
        print("prompt ids: \(prompt.map(String.init).joined(separator: ","))")
        print("generated ids: ", terminator: "")
        let statistics = RoutingStatistics(expertCount: a.moe!.expertCount)
        let result = try model.generate(prompt: prompt, maxTokens: maxTokens,
                                        sampling: SamplingParameters(temperature: 0.8, topK: 40, topP: 0.95, seed: 7),
                                        routing: statistics,
                                        onToken: { id in
                                            print(id, terminator: " ")
                                            fflush(stdout)
                                            return true
                                        })
        print("")
        print(String(format: "speed: prefill %.1f tok/s (%d tokens), decode %.1f tok/s (%d tokens), %d threads",
                     result.prefillTokensPerSecond, result.promptTokens, result.decodeTokensPerSecond, result.tokens.count, Parallel.threadCount))
        print(statistics.summary())
    }
}
