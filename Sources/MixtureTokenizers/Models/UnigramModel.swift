import Foundation
import MixtureCore

/// SentencePiece Unigram: the segmentation maximizing the sum of piece log-probabilities
/// (Viterbi over a trie of pieces); unknown characters score `min_score - 10` and consecutive
/// unknowns fuse into one `unk`.
final class UnigramModel: TokenizerModel {
    let pieces: [String]
    let scores: [Double]
    let vocabulary: [TokenKey: Int]
    let unknownID: Int?
    let byteFallback: Bool
    private let unknownScore: Double
    private let trie: ScalarTrie
    private let cache = WordCache()
    private let byteIDs: [Int?]

    static let unknownPenalty = 10.0

    init(json: JSONObject) throws {
        guard let raw = json.raw("vocab") as? [Any] else {
            throw TokenizerError.missingField(json.file, json.fieldPath("vocab"))
        }
        var pieces: [String] = []
        var scores: [Double] = []
        var vocabulary = [TokenKey: Int](minimumCapacity: raw.count)
        pieces.reserveCapacity(raw.count)
        scores.reserveCapacity(raw.count)
        var trie = ScalarTrie()
        var minScore = Double.infinity
        for (id, entry) in raw.enumerated() {
            guard let pair = entry as? [Any], pair.count == 2, let piece = pair[0] as? String,
                  let score = (pair[1] as? Double) ?? (pair[1] as? Int).map(Double.init) else {
                throw json.error("vocab", "entry \(id) is not [piece, score]")
            }
            pieces.append(piece)
            scores.append(score)
            vocabulary[TokenKey(piece)] = id
            trie.insert(piece.scalars, id: id)
            minScore = min(minScore, score)
        }
        self.pieces = pieces
        self.scores = scores
        self.vocabulary = vocabulary
        self.trie = trie
        self.unknownScore = (pieces.isEmpty ? 0 : minScore) - UnigramModel.unknownPenalty
        self.unknownID = try json.int("unk_id")
        if let unknownID, unknownID < 0 || unknownID >= pieces.count {
            throw json.error("unk_id", "\(unknownID) is outside the vocabulary of \(pieces.count) pieces")
        }
        self.byteFallback = try json.bool("byte_fallback", default: false)
        var byteIDs = [Int?](repeating: nil, count: 256)
        for byte in 0..<256 { byteIDs[byte] = vocabulary[token: BPEModel.byteToken(UInt8(byte))] }
        self.byteIDs = byteIDs
    }

    var vocabularySize: Int { pieces.count }
    func tokenToID(_ token: String) -> Int? { vocabulary[token: token] }
    func idToToken(_ id: Int) -> String? { id >= 0 && id < pieces.count ? pieces[id] : nil }

    func tokenize(_ word: Scalars, into ids: inout [Int]) throws {
        if word.isEmpty { return }
        if let cached = cache.get(word) {
            ids.append(contentsOf: cached)
            return
        }
        var result: [Int] = []
        for (start, end) in try segment(word) {
            let piece = word[start..<end]
            if let id = trie.exactID(piece) {
                result.append(id)
                continue
            }
            if byteFallback {
                var bytes: [UInt8] = []
                for scalar in piece { scalar.appendUTF8(to: &bytes) }
                if bytes.allSatisfy({ byteIDs[Int($0)] != nil }) {
                    for byte in bytes { result.append(byteIDs[Int(byte)]!) }
                    continue
                }
            }
            guard let unknownID else {
                throw TokenizerError.encoding("Unigram: \(piece.string.debugDescription) is unknown and the model has no unk_id")
            }
            result.append(unknownID)
        }
        cache.set(word, result)
        ids.append(contentsOf: result)
    }

    /// Best segmentation as scalar ranges (Unigram::encode_optimized).
    private func segment(_ word: Scalars) throws -> [(Int, Int)] {
        let size = word.count
        var bestScore = [Double](repeating: 0, count: size + 1)
        var bestStart = [Int](repeating: -1, count: size + 1)
        var bestID = [Int](repeating: -1, count: size + 1)
        for start in 0..<size {
            let scoreHere = bestScore[start]
            var hasSingleScalar = false
            trie.forEachPrefix(of: word, from: start) { end, id in
                let candidate = scores[id] + scoreHere
                if bestStart[end] == -1 || candidate > bestScore[end] {
                    bestScore[end] = candidate
                    bestStart[end] = start
                    bestID[end] = id
                }
                if end == start + 1 { hasSingleScalar = true }
            }
            if !hasSingleScalar {
                let end = start + 1
                let candidate = unknownScore + scoreHere
                if bestStart[end] == -1 || candidate > bestScore[end] {
                    guard let unknownID else {
                        throw TokenizerError.encoding("Unigram: \(String(String.UnicodeScalarView([word[start]])).debugDescription) is unknown and the model has no unk_id")
                    }
                    bestScore[end] = candidate
                    bestStart[end] = start
                    bestID[end] = unknownID
                }
            }
        }
        var ranges: [(Int, Int)] = []
        var end = size
        var unknownEnd = -1
        while end > 0 {
            let start = bestStart[end]
            if let unknownID, bestID[end] == unknownID {
                if unknownEnd == -1 { unknownEnd = end }
            } else {
                if unknownEnd != -1 {
                    ranges.append((end, unknownEnd))
                    unknownEnd = -1
                }
                ranges.append((start, end))
            }
            end = start
        }
        if unknownEnd != -1 { ranges.append((0, unknownEnd)) }
        ranges.reverse()
        return ranges
    }
}

/// A trie over Unicode scalars mapping pieces to ids.
struct ScalarTrie {
    private var children: [[UInt32: Int32]] = [[:]]
    /// Ids are u32 in tokenizer.json, so they need more than Int32.
    private var ids: [Int] = [-1]

    mutating func insert(_ key: Scalars, id: Int) {
        if key.isEmpty { return }
        var node = 0
        for scalar in key {
            if let child = children[node][scalar.value] {
                node = Int(child)
            } else {
                children.append([:])
                ids.append(-1)
                let child = children.count - 1
                children[node][scalar.value] = Int32(child)
                node = child
            }
        }
        // The first occurrence wins for duplicate pieces, as a HashMap insert of the later one
        // would shadow it only in token_to_ids; keep the later id like the library's map.
        ids[node] = id
    }

    /// Calls `body(end, id)` for every piece that starts at `start`, shortest first.
    func forEachPrefix(of text: Scalars, from start: Int, _ body: (Int, Int) throws -> Void) rethrows {
        var node = 0
        var position = start
        while position < text.count, let child = children[node][text[position].value] {
            node = Int(child)
            position += 1
            if ids[node] >= 0 { try body(position, ids[node]) }
        }
    }

    func exactID(_ key: ArraySlice<Unicode.Scalar>) -> Int? {
        var node = 0
        for scalar in key {
            guard let child = children[node][scalar.value] else { return nil }
            node = Int(child)
        }
        return ids[node] >= 0 ? ids[node] : nil
    }
}
