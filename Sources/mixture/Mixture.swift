import ArgumentParser
import Foundation
import MixtureCore
import MixtureFormats

@main
struct Mixture: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mixture",
        abstract: "Run, route and inspect modular language models (MoE, adapters, merges) on the CPU.",
        version: MixtureCoreVersion.string,
        subcommands: [Demo.self, Generate.self, Logits.self, Embed.self, Tokenize.self, Detokenize.self, Inspect.self, Bench.self, Synth.self, Merge.self, ExtractLoRA.self, ApplyLoRA.self, Convert.self, Quantize.self, PerplexityCommand.self, KernelBench.self])
}

/// Options every model command shares.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "Hugging Face model folder (config.json + *.safetensors), or a .gguf file.")
    var model: String

    @Option(name: .long, help: "Worker threads for the kernels (default: all cores).")
    var threads: Int?

    @Flag(name: .customLong("huge-pages"), help: "Copy the weights into 2 MB pages instead of memory-mapping them (faster decoding, one copy at load).")
    var hugePages = false

    var residency: Residency { hugePages ? .hugePages : .mapped }

    func applyThreads() throws {
        if let t = threads {
            guard t > 0 else { throw ValidationError("--threads must be at least 1") }
            Parallel.threadCount = t
        }
    }

    var url: URL { URL(fileURLWithPath: model) }
}

/// Parses "1,2,3" (spaces allowed).
func parseIDs(_ text: String) throws -> [Int] {
    let parts = text.split(whereSeparator: { $0 == "," || $0 == " " })
    guard !parts.isEmpty else { throw ValidationError("--ids is empty: give comma-separated token ids, e.g. --ids 1,2,3") }
    return try parts.map { part in
        guard let id = Int(part) else { throw ValidationError("--ids: '\(part)' is not an integer token id") }
        return id
    }
}

/// Writes to standard error without buffering surprises.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// JSON for arrays of floats, fast and in the shortest form that round-trips.
func jsonNumber(_ value: Float) -> String {
    if value.isNaN { return "null" }
    if value.isInfinite { return value > 0 ? "1e999" : "-1e999" }
    return "\(value)"
}

func jsonString(of object: Any) throws -> String {
    String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
}
