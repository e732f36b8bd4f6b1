import Foundation
import MixtureCore
import MixtureTokenizers

/// The text API: tokenize as sentence-transformers does, then embed the ids. All use of the tokenizer
/// library is in this file.
extension SentenceTransformer {
    /// The Transformer module's tokenizer, loaded on first use.
    ///
    /// sentence-transformers calls the tokenizer with its own truncation (to `max_seq_length`) and
    /// padding, which replace whatever `tokenizer.json` stores (all-MiniLM-L6-v2 stores truncation to
    /// 128 and padding to 128), so both are dropped here and truncation is done by `tokenize`.
    public func tokenizer() throws -> Tokenizer {
        tokenizerLock.lock()
        defer { tokenizerLock.unlock() }
        if let cached = cachedTokenizer as? Tokenizer { return cached }
        let fileURL = transformerURL.appendingPathComponent("tokenizer.json")
        guard let data = FileManager.default.contents(atPath: fileURL.path) else {
            throw MixtureError.missingFile(path: fileURL.path, reason: "missing (the text API needs the model's tokenizer)")
        }
        let configURL = transformerURL.appendingPathComponent("tokenizer_config.json")
        let tokenizer = try Tokenizer(tokenizerJSON: data, tokenizerConfigJSON: FileManager.default.contents(atPath: configURL.path),
                                      fileName: fileURL.path, configFileName: configURL.path).withoutTruncationOrPadding()
        cachedTokenizer = tokenizer
        return tokenizer
    }

    /// Token ids of `text` as sentence-transformers makes them (`truncation=True, max_length=max_seq_length`):
    /// special tokens added, and the text's own tokens cut from the end so the whole fits, keeping the
    /// special tokens.
    public func tokenize(_ text: String) throws -> [Int] {
        let tokenizer = try tokenizer()
        let input = lowercasesInput ? text.lowercased() : text
        let full = try tokenizer.encode(input, addSpecialTokens: true)
        guard full.count > maxSequenceLength else { return full }
        let content = try tokenizer.encode(input, addSpecialTokens: false)
        let specialCount = full.count - content.count
        // Where the content sits inside the template, e.g. after [CLS] and before [SEP].
        guard specialCount >= 0, specialCount < maxSequenceLength,
              let offset = (0...specialCount).first(where: { full[$0..<($0 + content.count)].elementsEqual(content) }) else {
            throw MixtureError.invalidArgument("cannot truncate the tokenized text to \(maxSequenceLength) tokens: the tokenizer's template adds \(specialCount) tokens")
        }
        let kept = maxSequenceLength - specialCount
        return Array(full[0..<offset]) + content[0..<kept] + full[(offset + content.count)...]
    }

    /// Embeddings of `sentences`, as `SentenceTransformer.encode` returns them.
    public func embed(_ sentences: [String], batchSize: Int = 32) throws -> [[Float]] {
        try embed(tokenIDs: sentences.map(tokenize), batchSize: batchSize)
    }
}
