import ArgumentParser
import Foundation
import MixtureCore
import MixtureFormats
import MixtureModels
import MixtureTokenizers

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a GGUF model as a Hugging Face folder: dequantized safetensors, config.json and the tokenizer.",
        discussion: """
        Every weight is dequantized as gguf-py does and stored in --dtype under transformers' tensor \
        names and layout; config.json carries the semantics llama.cpp runs the file with. The tokenizer \
        inside the file, when there is one, becomes tokenizer.json and tokenizer_config.json (with the \
        chat template), encoding as llama.cpp does.
        """)

    @Argument(help: "The .gguf file.")
    var input: String

    @Argument(help: "Output folder (written under a temporary name and swapped into place at the end).")
    var output: String

    @Option(help: "Stored dtype: f32, f16 or bf16.")
    var dtype: String = "bf16"

    @OptionGroup var writer: FolderWriterOptions

    func run() throws {
        guard let type = DType(name: dtype) else { throw ValidationError("--dtype must be f32, f16 or bf16, found '\(dtype)'") }
        let file = try GGUFFile(path: input)
        let bar = writer.start(label: "converting", unit: "tensors")
        let started = Date()
        do {
            let tokenizerFiles = try GGUFTokenizer.huggingFaceFiles(metadata: file.metadata, path: file.path) ?? [:]
            let summary = try GGUFConversion.convert(file, to: URL(fileURLWithPath: output), dtype: type, force: writer.force,
                                                     extraFiles: tokenizerFiles) { done, total in
                bar.update(done, of: total)
            }
            bar.finish()
            print(String(format: "converted %d tensors (%.3f GB, %@) into %@ in %.1f s", summary.tensors,
                         Double(summary.bytes) / 1e9, type.rawValue, output, Date().timeIntervalSince(started)))
        } catch {
            bar.finish()
            throw error
        }
    }
}
