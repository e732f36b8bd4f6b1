import ArgumentParser
import Foundation
import MixtureCore
import MixtureMerge

struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Merge models as a mergekit YAML config describes (linear, ties, dare, slerp, ..., passthrough).",
        discussion: """
        Reads the same configs as mergekit-yaml and writes OUT_DIR: *.safetensors (sharded with \
        model.safetensors.index.json above --max-shard-size), config.json and the base model's tokenizer files. \
        Methods: \(MergeMethods.names.joined(separator: ", ")).
        """)

    @Argument(help: "mergekit YAML config.")
    var config: String

    @Argument(help: "Output folder (written under a temporary name and renamed at the end).")
    var outDir: String

    @Option(name: [.customLong("seed"), .customLong("random-seed")], help: "Seed for the random masks of dare_* and della* (default: random, printed).")
    var seed: UInt64?

    @Option(name: [.customLong("max-shard-size"), .customLong("out-shard-size")],
            help: "Largest output shard, e.g. 5B (bytes, mergekit's notation: K/M/B = 10^3/10^6/10^9), 2GB, 500MiB.")
    var maxShardSize: String = "5B"

    @OptionGroup var writer: FolderWriterOptions

    @Flag(name: .customLong("no-copy-tokenizer"), help: "Do not copy tokenizer files to the output.")
    var noCopyTokenizer = false

    func run() throws {
        guard let shardBytes = parseByteSize(maxShardSize) else {
            throw ValidationError("--max-shard-size: '\(maxShardSize)' is not a size (e.g. 5B, 500M, 2GB, 1GiB)")
        }
        var options = MergeOptions()
        options.seed = seed
        options.force = writer.force
        options.maxShardSize = shardBytes
        options.copyTokenizer = !noCopyTokenizer
        let bar = writer.start(label: "merging", unit: "tensors")
        options.progress = { done, total, _ in bar.update(done, of: total) }
        let started = Date()
        do {
            let summary = try Merger.run(configPath: config, output: outDir, options: options)
            bar.finish()
            for w in summary.warnings { printError("warning: \(w)") }
            let seconds = Date().timeIntervalSince(started)
            let gb = Double(summary.bytes) / 1e9
            print("merged \(summary.tensors) tensors (\(String(format: "%.3f", gb)) GB, \(summary.shards.count) shard\(summary.shards.count == 1 ? "" : "s")) into \(summary.output.path) in \(String(format: "%.1f", seconds)) s; seed \(summary.seed); peak RSS \(ProcessMemory.residentBytes().peak / 1_048_576) MiB")
        } catch {
            bar.finish()
            throw error
        }
    }
}

/// "5B", "500M", "20K" (mergekit: powers of ten), "2GB", "1GiB", "123".
func parseByteSize(_ text: String) -> Int? {
    let t = text.trimmingCharacters(in: .whitespaces)
    let units: [(String, Double)] = [
        ("KIB", 1024), ("MIB", 1_048_576), ("GIB", 1_073_741_824),
        ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("K", 1e3), ("M", 1e6), ("B", 1e9), ("G", 1e9),
    ]
    for (suffix, factor) in units where t.uppercased().hasSuffix(suffix) {
        guard let v = Double(t.dropLast(suffix.count)), v > 0 else { return nil }
        return Int(v * factor)
    }
    guard let v = Int(t), v >= 0 else { return nil }
    return v
}
