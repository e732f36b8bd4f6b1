import ArgumentParser
import Foundation
import MixtureCore
import MixtureModels

struct Synth: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a checkpoint with random weights (for speed tests): OLMoE-1B-7B's geometry or the small demo MoE.")

    @Argument(help: "Output folder.")
    var output: String

    @Option(help: "Geometry: olmoe (OLMoE-1B-7B widths) or demo (small).")
    var geometry: String = "olmoe"

    @Option(help: "Number of layers.")
    var layers: Int?

    @Option(name: .customLong("vocab-size"), help: "Vocabulary size (default: the geometry's).")
    var vocabularySize: Int?

    @Option(help: "Weight dtype: bf16, f16 or f32.")
    var dtype: String = "bf16"

    @Option(help: "Random seed.")
    var seed: UInt64 = 0

    func run() throws {
        var checkpoint: SyntheticCheckpoint
        switch geometry {
        case "olmoe": checkpoint = .olmoeGeometry(layers: layers ?? 4)
        case "demo": checkpoint = .demo()
        default: throw ValidationError("--geometry must be olmoe or demo, got '\(geometry)'")
        }
        if let layers = layers {
            guard layers > 0 else { throw ValidationError("--layers must be at least 1") }
            checkpoint.layerCount = layers
        }
        if let size = vocabularySize {
            guard size > 0 else { throw ValidationError("--vocab-size must be at least 1") }
            checkpoint.vocabularySize = size
        }
        guard let type = DType(name: dtype) else { throw ValidationError("--dtype must be bf16, f16 or f32, got '\(dtype)'") }
        checkpoint.dtype = type
        checkpoint.seed = seed
        let progress = ProgressBar(label: "writing \(output)")
        try checkpoint.write(to: URL(fileURLWithPath: output)) { done, total in progress.update(done, of: total) }
        progress.finish()
        print("wrote \(output): synthetic \(checkpoint.modelType) checkpoint with random weights (\(type.rawValue))")
    }
}
