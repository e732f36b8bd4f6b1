/// Incremental decoding for generation: feed ids one at a time and get back only text that is
/// final — never half of a UTF-8 sequence split across byte tokens, and with the spacing the full
/// decode would give (decoders such as Metaspace treat the first token specially, so each step
/// decodes a window that starts one token back and emits only the new suffix).
///
/// For any valid text the concatenated output equals `decode` of all ids. Only when a model emits
/// byte tokens that never form valid UTF-8 can they differ: ByteFallback then turns the whole
/// byte run (including ASCII bytes already streamed, e.g. `<0x0A>`) into U+FFFD.
public struct StreamingDetokenizer: Sendable {
    public let tokenizer: Tokenizer
    public let skipSpecialTokens: Bool
    private var allIDs: [Int] = []
    /// The ids that contribute text. Ids `decode` drops (skipped special tokens, unknown ids) are
    /// left out, so the first token of a window is always real text: decoders that treat the
    /// first token specially (Metaspace, Strip) then see the same first token in both windows.
    private var ids: [Int] = []
    /// Start of the window decoded for context.
    private var prefixOffset = 0
    /// End of the text already emitted.
    private var readOffset = 0

    public init(tokenizer: Tokenizer, skipSpecialTokens: Bool = true) {
        self.tokenizer = tokenizer
        self.skipSpecialTokens = skipSpecialTokens
    }

    /// Adds one id and returns the newly completed text (often empty while a multi-byte
    /// character is still incomplete).
    public mutating func append(_ id: Int) -> String {
        allIDs.append(id)
        guard tokenizer.decodedToken(id, skipSpecialTokens: skipSpecialTokens) != nil else { return "" }
        ids.append(id)
        let previousText = tokenizer.decode(Array(ids[prefixOffset..<readOffset]), skipSpecialTokens: skipSpecialTokens)
        let currentText = tokenizer.decode(Array(ids[prefixOffset...]), skipSpecialTokens: skipSpecialTokens)
        let previousScalars = previousText.unicodeScalars.count
        let currentScalars = Array(currentText.unicodeScalars)
        // Hold back while the text ends in a replacement character: the next byte token may complete it.
        guard currentScalars.count > previousScalars, currentScalars.last != "\u{FFFD}",
              currentScalars.starts(with: previousText.unicodeScalars) else {
            return ""
        }
        prefixOffset = readOffset
        readOffset = ids.count
        return currentScalars[previousScalars...].string
    }

    /// Adds several ids; returns the text completed by them.
    public mutating func append<S: Sequence>(contentsOf newIDs: S) -> String where S.Element == Int {
        var text = ""
        for id in newIDs { text += append(id) }
        return text
    }

    /// Returns whatever is still held back (including replacement characters for bytes that never
    /// formed a complete character) and resets the stream.
    public mutating func finish() -> String {
        defer {
            allIDs.removeAll()
            ids.removeAll()
            prefixOffset = 0
            readOffset = 0
        }
        guard readOffset < ids.count else { return "" }
        let previousText = tokenizer.decode(Array(ids[prefixOffset..<readOffset]), skipSpecialTokens: skipSpecialTokens)
        let currentText = tokenizer.decode(Array(ids[prefixOffset...]), skipSpecialTokens: skipSpecialTokens)
        let previousScalars = previousText.unicodeScalars.count
        let currentScalars = Array(currentText.unicodeScalars)
        guard currentScalars.count > previousScalars else { return "" }
        return currentScalars[previousScalars...].string
    }

    /// All ids appended since the last `finish()`.
    public var tokenIDs: [Int] { allIDs }
}
