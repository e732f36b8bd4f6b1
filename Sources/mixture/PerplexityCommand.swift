import ArgumentParser
import Foundation
import MixtureCore
import MixtureModels
import MixtureTokenizers

struct PerplexityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "perplexity",
        abstract: "Perplexity of a text as llama-perplexity computes it, or KL divergence against a saved base run.",
        discussion: """
        The text is tokenized (BOS added when the tokenizer adds one), cut into non-overlapping chunks of \
        --ctx tokens whose first token is BOS, and the second half of each chunk is scored. Prints \
        "Final estimate: PPL = x +/- error" (or one JSON object with --json).

        --save-logits FILE writes the run's log-probabilities in llama.cpp's file format (what \
        llama-perplexity --kl-divergence-base writes); --kl-divergence-base FILE compares this model \
        against such a file, from either tool, on the tokens it holds: mean KL divergence, top-1 \
        agreement, PPL(Q), PPL(base) and their ratio.
        """)

    @OptionGroup var options: ModelOptions

    @Option(name: .long, help: "Text file to score (not needed with --kl-divergence-base, whose file holds the tokens).")
    var file: String?

    @Option(help: "tokenizer.json, a folder holding it, or a GGUF file (default: the model).")
    var tokenizer: String?

    @Option(help: "Tokens per chunk.")
    var ctx: Int = 512

    @Option(help: "Tokens per forward pass within a chunk (default: the whole chunk).")
    var batch: Int?

    @Option(help: "Score at most this many chunks (default: all that fit).")
    var chunks: Int?

    @Option(name: .customLong("save-logits"), help: "Write the log-probabilities of the scored positions to this file (llama.cpp's format).")
    var saveLogits: String?

    @Option(name: .customLong("kl-divergence-base"), help: "Compare against the log-probabilities in this file (from --save-logits or llama-perplexity).")
    var klDivergenceBase: String?

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    @Flag(help: "No progress bar.")
    var quiet = false

    func validate() throws {
        guard ctx >= 4 else { throw ValidationError("--ctx must be at least 4") }
        if let b = batch, b < 1 { throw ValidationError("--batch must be at least 1") }
        if let c = chunks, c < 1 { throw ValidationError("--chunks must be at least 1") }
        guard (file == nil) != (klDivergenceBase == nil) else {
            throw ValidationError(klDivergenceBase == nil ? "give the text to score with --file" : "--kl-divergence-base takes its tokens from the file: leave out --file")
        }
        guard saveLogits == nil || klDivergenceBase == nil else { throw ValidationError("--save-logits and --kl-divergence-base do not go together") }
    }

    func run() throws {
        try options.applyThreads()
        if let base = klDivergenceBase { return try divergence(basePath: base) }
        let tok = try Tokenizer.load(from: URL(fileURLWithPath: tokenizer ?? options.model))
        guard let data = FileManager.default.contents(atPath: file!) else { throw MixtureError.invalidArgument("--file \(file!): cannot be read") }
        guard let text = String(data: data, encoding: .utf8) else { throw MixtureError.invalidFile(path: file!, reason: "is not UTF-8 text") }
        let model = try TransformerModel.load(from: options.url, residency: options.residency)
        let tokens = try tok.encode(text, addSpecialTokens: true)
        let bos = try beginningOfSequence(tok)
        guard tokens.count >= 2 * ctx else {
            throw MixtureError.invalidArgument("--file \(file!) tokenizes to \(tokens.count) tokens; perplexity with --ctx \(ctx) needs at least \(2 * ctx)")
        }
        let chunkList = Perplexity.chunks(tokens, context: ctx, bos: bos, limit: chunks)
        let batchSize = min(batch ?? ctx, ctx)

        // --save-logits: written under a temporary name beside the target, renamed into place at the end.
        var writer: Perplexity.LogProbabilityWriter?
        var temporary: URL?
        var handle: FileHandle?
        if let path = saveLogits {
            let target = URL(fileURLWithPath: path)
            let part = target.deletingLastPathComponent().appendingPathComponent(".\(target.lastPathComponent).partial-\(ProcessInfo.processInfo.processIdentifier)")
            guard FileManager.default.createFile(atPath: part.path, contents: nil) else {
                throw MixtureError.invalidArgument("--save-logits \(path): cannot create a file there")
            }
            temporary = part
            handle = try FileHandle(forWritingTo: part)
            writer = try Perplexity.LogProbabilityWriter(handle: handle!, context: ctx, vocabulary: model.architecture.vocabularySize, chunks: chunkList)
        }
        var finished = false
        defer {
            if !finished, let temporary {
                try? handle?.close()
                try? FileManager.default.removeItem(at: temporary)
            }
        }

        let bar = ProgressBar(label: "perplexity", unit: " chunks", enabled: !quiet)
        var accumulator = Perplexity.Accumulator()
        for (c, chunk) in chunkList.enumerated() {
            let rows = try Perplexity.scoredLogits(model: model, chunk: chunk, batch: batchSize)
            let first = ctx / 2
            for (offset, row) in rows.enumerated() {
                accumulator.add(Perplexity.Accumulator.negativeLogLikelihood(row, target: tokens[c * ctx + first + offset + 1]))
                try writer?.write(row)
            }
            bar.update(c + 1, of: chunkList.count)
        }
        bar.finish()
        if let handle, let temporary, let path = saveLogits {
            try handle.close()
            guard rename(temporary.path, path) == 0 else {
                throw MixtureError.invalidArgument("--save-logits \(path): cannot rename \(temporary.path) into place (errno \(errno))")
            }
        }
        finished = true
        let ppl = accumulator.perplexity, error = accumulator.standardError
        if json {
            writeLine(try jsonString(of: ["perplexity": ppl, "standard_error": error, "tokens": tokens.count, "chunks": chunkList.count,
                                          "context": ctx, "scored": accumulator.count]))
        } else {
            writeLine("\(tokens.count) tokens, \(chunkList.count) chunks of \(ctx), \(accumulator.count) scored")
            writeLine(String(format: "Final estimate: PPL = %.4f +/- %.5f", ppl, error))
        }
    }

    /// The id the tokenizer adds in front of a text, if it adds exactly one; tokenizers that add more
    /// (e.g. an end-of-sequence token) cannot be scored this way, as in llama-perplexity.
    func beginningOfSequence(_ tok: Tokenizer) throws -> Int? {
        let added = try tok.encode("", addSpecialTokens: true)
        guard added.count <= 1 else {
            throw MixtureError.invalidArgument("the tokenizer adds \(added.count) special tokens around a text (\(added)); perplexity needs at most a BOS in front")
        }
        return added.first
    }

    func divergence(basePath: String) throws {
        let base = try Perplexity.LogProbabilityFile(path: basePath)
        let model = try TransformerModel.load(from: options.url, residency: options.residency)
        guard base.vocabulary == model.architecture.vocabularySize else {
            throw MixtureError.invalidFile(path: basePath, reason: "was computed with a vocabulary of \(base.vocabulary), the model has \(model.architecture.vocabularySize)")
        }
        let context = base.context
        let chunkList = chunks.map { Array(base.chunks.prefix($0)) } ?? base.chunks
        let batchSize = min(batch ?? context, context)
        let bar = ProgressBar(label: "kl-divergence", unit: " chunks", enabled: !quiet)
        var divergence = Perplexity.Divergence()
        for (c, chunk) in chunkList.enumerated() {
            let rows = try Perplexity.scoredLogits(model: model, chunk: chunk, batch: batchSize)
            for (offset, row) in rows.enumerated() {
                divergence.add(logits: row, base: base.logProbabilities(chunk: c, position: offset), target: chunk[context / 2 + offset + 1])
            }
            bar.update(c + 1, of: chunkList.count)
        }
        bar.finish()
        let ppl = divergence.perplexity, basePPL = divergence.basePerplexity, kld = divergence.meanKLD
        let top = divergence.sameTopFraction, ratio = divergence.logRatio, rms = divergence.rmsProbabilityDifference
        let sorted = divergence.values.sorted()
        let median = sorted.count % 2 == 0 ? 0.5 * (sorted[sorted.count / 2] + sorted[sorted.count / 2 - 1]) : sorted[sorted.count / 2]
        if json {
            writeLine(try jsonString(of: [
                "perplexity": ppl.value, "perplexity_error": ppl.error, "base_perplexity": basePPL.value, "base_perplexity_error": basePPL.error,
                "ln_ppl_ratio": ratio.value, "ln_ppl_ratio_error": ratio.error, "delta_ppl": ppl.value - basePPL.value,
                "mean_kld": kld.value, "mean_kld_error": kld.error, "median_kld": Double(median), "max_kld": Double(sorted.last!),
                "kld_99": Double(Perplexity.Divergence.percentile(sorted, 0.99)),
                "same_top": top.value, "same_top_error": top.error, "rms_delta_p": rms.value,
                "scored": divergence.count, "chunks": chunkList.count, "context": context,
            ]))
            return
        }
        writeLine("\(chunkList.count) chunks of \(context), \(divergence.count) scored positions")
        writeLine(String(format: "Mean PPL(Q)              : %10.6f ± %10.6f", ppl.value, ppl.error))
        writeLine(String(format: "Mean PPL(base)           : %10.6f ± %10.6f", basePPL.value, basePPL.error))
        writeLine(String(format: "Mean ln(PPL(Q)/PPL(base)): %10.6f ± %10.6f", ratio.value, ratio.error))
        writeLine(String(format: "Mean PPL(Q)-PPL(base)    : %10.6f", ppl.value - basePPL.value))
        writeLine(String(format: "Mean    KLD: %10.6f ± %10.6f", kld.value, kld.error))
        writeLine(String(format: "Maximum KLD: %10.6f", sorted.last!))
        writeLine(String(format: "99.0%%   KLD: %10.6f", Perplexity.Divergence.percentile(sorted, 0.99)))
        writeLine(String(format: "Median  KLD: %10.6f", median))
        writeLine(String(format: "RMS Δp    : %6.3f %%", 100 * rms.value))
        writeLine(String(format: "Same top p: %6.3f ± %5.3f %%", 100 * top.value, 100 * top.error))
    }
}
