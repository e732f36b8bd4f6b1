import ArgumentParser
import Foundation
import MixtureCore
import MixtureFormats
import MixtureModels

struct Quantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Quantize a GGUF model into another GGUF file, as llama-quantize does (same recipes, same bytes).",
        discussion: """
        TYPE is a llama-quantize file type: Q4_K_M (or Q4_K), Q4_K_S, Q5_K_M (or Q5_K), Q5_K_S, Q3_K_M (or Q3_K), \
        Q3_K_S, Q3_K_L, Q2_K, Q6_K, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, IQ4_XS, MXFP4_MOE, F16, BF16 or F32. \
        Each recipe gives some tensors more bits as llama-quantize does (output.weight in Q6_K, the attn_v and \
        ffn_down of chosen layers in Q6_K for Q4_K_M, ...), and rows that a 256-element block does not divide \
        fall back to a 32-element type. --pure gives every matrix the one type. Norms, routers and other \
        vectors keep their type. The metadata (architecture, tokenizer, chat template) is copied, with \
        general.file_type set; llama.cpp loads the result.
        """)

    @Argument(help: "The input .gguf file (F32, F16 or BF16; quantized tensors need --allow-requantize).")
    var input: String

    @Argument(help: "The output .gguf file (written under a temporary name and renamed into place at the end).")
    var output: String

    @Option(name: .long, help: "File type (recipe) or tensor type, as llama-quantize names them.")
    var type: String

    @Flag(name: .long, help: "Every quantizable matrix in the one type: no per-tensor choices, no bigger output matrix.")
    var pure = false

    @Option(name: .customLong("output-tensor-type"), help: "Type of output.weight.")
    var outputTensorType: String?

    @Option(name: .customLong("token-embedding-type"), help: "Type of token_embd.weight.")
    var tokenEmbeddingType: String?

    @Flag(name: .customLong("leave-output-tensor"), help: "Leave output.weight in its input type.")
    var leaveOutputTensor = false

    @Option(name: .customLong("tensor-type"), help: "PATTERN=TYPE: tensors whose name matches the regular expression get TYPE (repeatable; the first match wins).")
    var tensorTypes: [String] = []

    @Flag(name: .customLong("allow-requantize"), help: "Allow quantizing tensors that are already quantized (they are dequantized first; quality suffers).")
    var allowRequantize = false

    @Flag(name: .customLong("dry-run"), help: "Print each tensor's type and the sizes without writing anything.")
    var dryRun = false

    @Flag(name: .long, help: "Replace the output file if it exists.")
    var force = false

    @Option(name: .long, help: "Worker threads (default: all cores).")
    var threads: Int?

    @Flag(name: .long, help: "No progress bar.")
    var quiet = false

    func validate() throws {
        if let t = threads, t < 1 { throw ValidationError("--threads must be at least 1") }
    }

    static func tensorType(_ name: String, flag: String) throws -> GGMLType {
        guard let type = GGMLType.allCases.first(where: { $0.description == name.uppercased() }), GGMLQuantize.quantizable.contains(type) else {
            throw ValidationError("\(flag): '\(name)' is not a type that can be written (one of \(GGMLQuantize.quantizable.map(\.description).joined(separator: ", ")))")
        }
        return type
    }

    func run() throws {
        if let t = threads { Parallel.threadCount = t }
        guard let fileType = QuantizationRecipe.FileType(name: type) else {
            throw ValidationError("--type: '\(type)' is not a known type (one of \(QuantizationRecipe.FileType.allCases.map(\.name).joined(separator: ", ")))")
        }
        let inputURL = URL(fileURLWithPath: input), outputURL = URL(fileURLWithPath: output)
        guard GGUFFile.hasMagic(inputURL) else {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory), isDirectory.boolValue {
                throw MixtureError.invalidArgument("\(input): quantizing a Hugging Face folder is not supported yet; convert it to GGUF first (llama.cpp's convert_hf_to_gguf.py --outtype f32, f16 or bf16)")
            }
            throw MixtureError.invalidArgument("\(input): not a GGUF file")
        }
        if inputURL.standardizedFileURL.resolvingSymlinksInPath().path == outputURL.standardizedFileURL.resolvingSymlinksInPath().path {
            throw MixtureError.invalidArgument("\(output): the output must not be the input")
        }
        if !dryRun && !force && FileManager.default.fileExists(atPath: output) {
            throw MixtureError.invalidArgument("\(output): exists (use --force to replace it)")
        }
        var options = GGUFQuantization.Options(fileType: fileType)
        options.recipe.pure = pure
        options.recipe.leaveOutputTensor = leaveOutputTensor
        options.recipe.outputTensorType = try outputTensorType.map { try Self.tensorType($0, flag: "--output-tensor-type") }
        options.recipe.tokenEmbeddingType = try tokenEmbeddingType.map { try Self.tensorType($0, flag: "--token-embedding-type") }
        options.recipe.overrides = try tensorTypes.map { spec in
            guard let eq = spec.firstIndex(of: "="), eq != spec.startIndex else {
                throw ValidationError("--tensor-type: '\(spec)' is not PATTERN=TYPE")
            }
            // Lowercased, as llama-quantize does with the pattern.
            let pattern = String(spec[..<eq]).lowercased()
            guard (try? NSRegularExpression(pattern: pattern)) != nil else {
                throw ValidationError("--tensor-type: '\(pattern)' is not a valid regular expression")
            }
            return (pattern, try Self.tensorType(String(spec[spec.index(after: eq)...]), flag: "--tensor-type"))
        }
        options.allowRequantize = allowRequantize

        let file = try GGUFFile(path: input)
        let plan = try GGUFQuantization.plan(file, options: options)
        for line in plan.fallbacks { FileHandle.standardError.write(Data("warning: \(line)\n".utf8)) }
        let elements = plan.tensors.reduce(0) { $0 + $1.info.elementCount }
        func summary(_ verb: String) -> String {
            String(format: "%@ %d tensors: %.2f MiB (%.2f bits per weight) -> %.2f MiB (%.2f bits per weight), %@", verb, plan.tensors.count,
                   Double(plan.inputBytes) / 1_048_576, Double(plan.inputBytes) * 8 / Double(max(1, elements)),
                   Double(plan.outputBytes) / 1_048_576, Double(plan.outputBytes) * 8 / Double(max(1, elements)), fileType.name)
        }
        if dryRun {
            for p in plan.tensors {
                let shape = p.info.dimensions.map(String.init).joined(separator: " x ")
                print(String(format: "%-40@ %-20@ %6@ -> %-6@ %10.3f MiB", p.info.name, shape, p.info.type.description, p.type.description,
                             Double(p.bytes) / 1_048_576))
            }
            print(summary("would write"))
            return
        }
        let bar = ProgressBar(label: "quantizing", unit: "MiB", enabled: !quiet)
        let started = Date()
        var cumulative = [0]
        for p in plan.tensors { cumulative.append(cumulative.last! + p.bytes) }
        let totalMiB = cumulative.last! / 1_048_576
        do {
            try plan.writer.write(to: outputURL) { done, _ in bar.update(cumulative[done] / 1_048_576, of: totalMiB) }
            bar.finish()
        } catch {
            bar.finish()
            throw error
        }
        print(summary("quantized") + String(format: " into %@ in %.1f s", output, Date().timeIntervalSince(started)))
    }
}
