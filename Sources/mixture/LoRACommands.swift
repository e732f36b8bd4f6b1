import ArgumentParser
import Foundation
import MixtureCore
import MixtureMerge

struct ExtractLoRA: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract-lora",
        abstract: "Extract a PEFT LoRA adapter from a fine-tune: the truncated SVD of each linear layer's delta (as mergekit-extract-lora).",
        discussion: """
        Writes OUT/adapter_config.json and OUT/adapter_model.safetensors. Each linear layer's delta \
        (finetuned − base) becomes lora_B = U·√S, lora_A = √S·Vᵀ at rank min(--rank, rows, columns), with \
        lora_alpha = r. Embeddings, the output head, norms and other non-linear tensors are stored at full \
        rank (modules_to_save).
        """)

    @Option(help: "Base model folder (config.json + *.safetensors).")
    var base: String

    @Option(help: "Fine-tuned model folder with the same architecture.")
    var finetuned: String

    @Option(help: "LoRA rank (layers smaller than this keep their full rank).")
    var rank: Int

    @Argument(help: "Output adapter folder (written under a temporary name and renamed at the end).")
    var output: String

    @Option(name: .customLong("sv-epsilon"), help: "Drop singular values at or below this (0: keep --rank).")
    var svEpsilon: Double = 0

    @OptionGroup var writer: FolderWriterOptions

    func validate() throws {
        guard rank >= 1 else { throw ValidationError("--rank must be at least 1") }
        guard svEpsilon >= 0 else { throw ValidationError("--sv-epsilon must be at least 0") }
    }

    func run() throws {
        let bar = writer.start(label: "extracting", unit: "modules")
        let started = Date()
        do {
            let summary = try LoRA.extract(base: URL(fileURLWithPath: base), finetuned: URL(fileURLWithPath: finetuned), rank: rank,
                                           to: URL(fileURLWithPath: output),
                                           options: LoRA.ExtractOptions(force: writer.force, singularValueEpsilon: svEpsilon),
                                           progress: { done, total in bar.update(done, of: total) })
            bar.finish()
            let seconds = Date().timeIntervalSince(started)
            print("extracted \(summary.ranks.count) LoRA modules (r=\(summary.rank)) and \(summary.fullTensors.count) full tensors"
                + " (modules_to_save: \(summary.modulesToSave.joined(separator: ", "))) into \(output) in \(String(format: "%.1f", seconds)) s")
        } catch {
            bar.finish()
            throw error
        }
    }
}

struct ApplyLoRA: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply-lora",
        abstract: "Fold a PEFT LoRA adapter into its base model (as peft's merge_and_unload) and write the merged model.",
        discussion: """
        Writes OUT with the base's safetensors layout (same shards, dtypes and tensor order) and copies its \
        config.json, tokenizer and generation files. Supports rank_pattern / alpha_pattern, use_rslora, \
        LoRA on embeddings, lora_bias, Conv1D (fan_in_fan_out) layers and modules_to_save; DoRA and other \
        LoRA variants are refused.
        """)

    @Option(help: "Base model folder (config.json + *.safetensors).")
    var base: String

    @Option(help: "Adapter folder (adapter_config.json + adapter_model.safetensors).")
    var adapter: String

    @Argument(help: "Output model folder (written under a temporary name and renamed at the end).")
    var output: String

    @OptionGroup var writer: FolderWriterOptions

    func run() throws {
        let bar = writer.start(label: "merging", unit: "tensors")
        let started = Date()
        do {
            let summary = try LoRA.apply(base: URL(fileURLWithPath: base), adapter: URL(fileURLWithPath: adapter),
                                         to: URL(fileURLWithPath: output), options: LoRA.ApplyOptions(force: writer.force),
                                         progress: { done, total in bar.update(done, of: total) })
            bar.finish()
            for ignored in summary.ignoredTensors { printError("warning: ignored \(ignored)") }
            let seconds = Date().timeIntervalSince(started)
            print("merged \(summary.mergedModules.count) LoRA modules and replaced \(summary.replacedTensors.count) tensors"
                + " into \(output) (\(summary.files.count) files) in \(String(format: "%.1f", seconds)) s")
        } catch {
            bar.finish()
            throw error
        }
    }
}
