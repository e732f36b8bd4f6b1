import ArgumentParser
import Foundation
import MixtureCore
import MixtureEmbeddings

struct Embed: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Embed sentences with a sentence-transformers model folder.",
        discussion: "Reads JSON Lines of strings on standard input and writes one JSON array of floats per line, in order.")

    @Option(name: .long, help: "sentence-transformers model folder (modules.json, config.json, model.safetensors, tokenizer.json).")
    var model: String

    @Option(name: .customLong("batch-size"), help: "Sentences embedded together.")
    var batchSize: Int = 32

    @Option(name: .long, help: "Worker threads for the kernels (default: all cores).")
    var threads: Int?

    @Flag(help: "After the output, print the embedding throughput (sentences/s, model loading excluded) to standard error.")
    var timing = false

    func validate() throws {
        guard batchSize > 0 else { throw ValidationError("--batch-size must be at least 1") }
        if let t = threads, t < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        if let t = threads { Parallel.threadCount = t }
        let embedder = try SentenceTransformer.load(from: URL(fileURLWithPath: model))
        _ = try embedder.tokenizer()

        var pending: [String] = []
        var embedded = 0
        var seconds = 0.0
        var firstBatch: (count: Int, seconds: Double)?
        func flush() throws {
            guard !pending.isEmpty else { return }
            let start = DispatchTime.now().uptimeNanoseconds
            let embeddings = try embedder.embed(pending, batchSize: batchSize)
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if firstBatch == nil { firstBatch = (embeddings.count, elapsed) }
            seconds += elapsed
            embedded += embeddings.count
            var text = ""
            for embedding in embeddings {
                text += "[" + embedding.map(jsonNumber).joined(separator: ",") + "]\n"
            }
            FileHandle.standardOutput.write(Data(text.utf8))
            pending.removeAll(keepingCapacity: true)
        }
        try readJSONLines { value, lineNumber in
            guard let sentence = value as? String else {
                throw MixtureError.invalidArgument("standard input line \(lineNumber): expected a JSON string, e.g. \"some text\"")
            }
            pending.append(sentence)
            if pending.count >= batchSize { try flush() }
        }
        try flush()
        if timing {
            printError(String(format: "embedded %d sentences in %.3f s: %.1f sentences/s (batch size %d, %d threads)",
                              embedded, seconds, Double(embedded) / max(seconds, 1e-9), batchSize, Parallel.threadCount))
            if let first = firstBatch, embedded > first.count {
                // The first batch pays for first touches of the mapped weights and buffers.
                printError(String(format: "after the first batch: %.1f sentences/s", Double(embedded - first.count) / max(seconds - first.seconds, 1e-9)))
            }
        }
    }
}
