import MixtureCore
/// Byte-pair encoding: every word starts as single characters (or their byte tokens), then the
/// lowest-ranked adjacent pair in `merges` is merged until none applies.
final class BPEModel: TokenizerModel {
    let vocabulary: [TokenKey: Int]
    let tokens: TokensByID
    /// (left id << 32 | right id) → (rank << 32 | merged id).
    let merges: [UInt64: UInt64]
    let unknownToken: String?
    let continuingSubwordPrefix: String?
    let endOfWordSuffix: String?
    let fuseUnknown: Bool
    let byteFallback: Bool
    let ignoreMerges: Bool
    /// Ids of single-scalar tokens, for the common case without prefix or suffix.
    private let scalarIDs: [UInt32: Int]
    private let byteIDs: [Int?]
    private let cache = WordCache()

    convenience init(json: JSONObject) throws {
        let (vocabulary, tokens) = try TokenizerModels.parseVocabulary(json)
        let continuingSubwordPrefix = try json.string("continuing_subword_prefix")
        if let dropout = try json.double("dropout"), dropout > 0 {
            throw json.error("dropout", "BPE dropout is random at encode time and not supported")
        }

        var merges = [UInt64: UInt64]()
        let rawMerges = (json.raw("merges") as? [Any]) ?? []
        merges.reserveCapacity(rawMerges.count)
        let prefixLength = continuingSubwordPrefix?.unicodeScalars.count ?? 0
        for (rank, entry) in rawMerges.enumerated() {
            let left: String
            let right: String
            if let pair = entry as? [Any], pair.count == 2, let a = pair[0] as? String, let b = pair[1] as? String {
                (left, right) = (a, b)
            } else if let line = entry as? String, let space = line.firstIndex(of: " ") {
                (left, right) = (String(line[..<space]), String(line[line.index(after: space)...]))
            } else {
                throw json.error("merges", "entry \(rank) is neither \"a b\" nor [\"a\", \"b\"]")
            }
            guard let leftID = vocabulary[token: left] else {
                throw json.error("merges", "merge \(rank) uses \(left.debugDescription), which is not in the vocabulary")
            }
            guard let rightID = vocabulary[token: right] else {
                throw json.error("merges", "merge \(rank) uses \(right.debugDescription), which is not in the vocabulary")
            }
            let merged = prefixLength == 0 ? left + right
                : left + String(String.UnicodeScalarView(right.unicodeScalars.dropFirst(prefixLength)))
            guard let mergedID = vocabulary[token: merged] else {
                throw json.error("merges", "merge \(rank) produces \(merged.debugDescription), which is not in the vocabulary")
            }
            merges[UInt64(leftID) << 32 | UInt64(rightID)] = UInt64(rank) << 32 | UInt64(mergedID)
        }
        self.init(vocabulary: vocabulary, tokens: tokens, merges: merges,
                  unknownToken: try json.string("unk_token"),
                  continuingSubwordPrefix: continuingSubwordPrefix,
                  endOfWordSuffix: try json.string("end_of_word_suffix"),
                  fuseUnknown: try json.bool("fuse_unk", default: false),
                  byteFallback: try json.bool("byte_fallback", default: false),
                  ignoreMerges: try json.bool("ignore_merges", default: false))
    }

    /// `merges` maps (left id << 32 | right id) to (rank << 32 | merged id); equal ranks are allowed
    /// (the leftmost pair goes first among them).
    init(vocabulary: [TokenKey: Int], tokens: TokensByID, merges: [UInt64: UInt64], unknownToken: String?,
         continuingSubwordPrefix: String? = nil, endOfWordSuffix: String? = nil,
         fuseUnknown: Bool, byteFallback: Bool, ignoreMerges: Bool) {
        self.vocabulary = vocabulary
        self.tokens = tokens
        self.merges = merges
        self.unknownToken = unknownToken
        self.continuingSubwordPrefix = continuingSubwordPrefix
        self.endOfWordSuffix = endOfWordSuffix
        self.fuseUnknown = fuseUnknown
        self.byteFallback = byteFallback
        self.ignoreMerges = ignoreMerges

        var scalarIDs = [UInt32: Int]()
        for (token, id) in vocabulary {
            let scalars = token.string.unicodeScalars
            if scalars.count == 1, let scalar = scalars.first { scalarIDs[scalar.value] = id }
        }
        self.scalarIDs = scalarIDs
        var byteIDs = [Int?](repeating: nil, count: 256)
        for byte in 0..<256 { byteIDs[byte] = vocabulary[token: BPEModel.byteToken(UInt8(byte))] }
        self.byteIDs = byteIDs
    }

    /// `<0x0A>`: the byte-fallback token of a byte.
    static func byteToken(_ byte: UInt8) -> String {
        let hex = String(byte, radix: 16, uppercase: true)
        return "<0x" + (hex.count == 1 ? "0" + hex : hex) + ">"
    }

    var vocabularySize: Int { vocabulary.count }
    func tokenToID(_ token: String) -> Int? { vocabulary[token: token] }
    func idToToken(_ id: Int) -> String? { tokens[id] }

    func tokenize(_ word: Scalars, into ids: inout [Int]) throws {
        if word.isEmpty { return }
        if let cached = cache.get(word) {
            ids.append(contentsOf: cached)
            return
        }
        var result: [Int]
        if ignoreMerges, let id = vocabulary[token: word.string] {
            result = [id]
        } else {
            result = try merge(initialSymbols(word))
        }
        cache.set(word, result)
        ids.append(contentsOf: result)
    }

    /// The word's characters as ids, with unknown characters replaced by byte tokens or `unk_token`.
    private func initialSymbols(_ word: Scalars) throws -> [Int] {
        var symbols: [Int] = []
        symbols.reserveCapacity(word.count)
        var pendingUnknown: Int?
        let plain = continuingSubwordPrefix == nil && endOfWordSuffix == nil
        var utf8: [UInt8] = []
        for (index, scalar) in word.enumerated() {
            var id: Int?
            var text: String?
            if plain {
                id = scalarIDs[scalar.value]
            } else {
                var piece = String(String.UnicodeScalarView([scalar]))
                if index > 0, let prefix = continuingSubwordPrefix { piece = prefix + piece }
                if index == word.count - 1, let suffix = endOfWordSuffix { piece += suffix }
                id = vocabulary[token: piece]
                text = piece
            }
            if let id {
                if let unknown = pendingUnknown {
                    symbols.append(unknown)
                    pendingUnknown = nil
                }
                symbols.append(id)
                continue
            }
            if byteFallback {
                utf8.removeAll(keepingCapacity: true)
                if let text { utf8.append(contentsOf: text.utf8) } else { scalar.appendUTF8(to: &utf8) }
                if utf8.allSatisfy({ byteIDs[Int($0)] != nil }) {
                    // Rust pushes byte tokens without flushing a pending unknown first.
                    for byte in utf8 { symbols.append(byteIDs[Int(byte)]!) }
                    continue
                }
            }
            if let unknownToken {
                guard let unknownID = vocabulary[token: unknownToken] else {
                    throw TokenizerError.encoding("BPE unk_token \(unknownToken.debugDescription) is not in the vocabulary")
                }
                if pendingUnknown != nil && !fuseUnknown {
                    symbols.append(pendingUnknown!)
                }
                pendingUnknown = unknownID
            }
        }
        if let unknown = pendingUnknown { symbols.append(unknown) }
        return symbols
    }

    private struct MergeCandidate {
        var rank: UInt32
        var position: Int32
        var mergedID: UInt32

        @inline(__always)
        static func < (a: MergeCandidate, b: MergeCandidate) -> Bool {
            a.rank != b.rank ? a.rank < b.rank : a.position < b.position
        }
    }

    /// Word::merge_all: a priority queue of (rank, position), lowest first, over a linked list of
    /// symbols; stale queue entries are skipped.
    private func merge(_ initial: [Int]) -> [Int] {
        let count = initial.count
        if count < 2 || merges.isEmpty { return initial }
        // Ids are u32 in tokenizer.json (checked at load).
        var symbol = initial.map { UInt32($0) }
        var previous = (0..<count).map { Int32($0) - 1 }
        var next = (0..<count).map { $0 + 1 < count ? Int32($0 + 1) : -1 }
        var alive = [Bool](repeating: true, count: count)
        var heap: [MergeCandidate] = []
        heap.reserveCapacity(count)

        func push(_ candidate: MergeCandidate) {
            heap.append(candidate)
            var child = heap.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                if heap[child] < heap[parent] {
                    heap.swapAt(child, parent)
                    child = parent
                } else {
                    break
                }
            }
        }
        func pop() -> MergeCandidate? {
            guard let first = heap.first else { return nil }
            let last = heap.removeLast()
            if !heap.isEmpty {
                heap[0] = last
                var parent = 0
                while true {
                    let left = 2 * parent + 1
                    if left >= heap.count { break }
                    var smallest = left
                    if left + 1 < heap.count && heap[left + 1] < heap[left] { smallest = left + 1 }
                    if heap[smallest] < heap[parent] {
                        heap.swapAt(smallest, parent)
                        parent = smallest
                    } else {
                        break
                    }
                }
            }
            return first
        }
        @inline(__always)
        func lookup(_ left: UInt32, _ right: UInt32) -> UInt64? {
            merges[UInt64(left) << 32 | UInt64(right)]
        }

        for position in 0..<(count - 1) {
            if let found = lookup(symbol[position], symbol[position + 1]) {
                push(MergeCandidate(rank: UInt32(found >> 32), position: Int32(position), mergedID: UInt32(truncatingIfNeeded: found)))
            }
        }
        while let top = pop() {
            let position = Int(top.position)
            guard alive[position], next[position] != -1 else { continue }
            let rightPosition = Int(next[position])
            guard let current = lookup(symbol[position], symbol[rightPosition]),
                  UInt32(truncatingIfNeeded: current) == top.mergedID else { continue }
            symbol[position] = top.mergedID
            alive[rightPosition] = false
            let afterRight = next[rightPosition]
            next[position] = afterRight
            if afterRight != -1 { previous[Int(afterRight)] = Int32(position) }
            let before = previous[position]
            if before >= 0, let found = lookup(symbol[Int(before)], symbol[position]) {
                push(MergeCandidate(rank: UInt32(found >> 32), position: before, mergedID: UInt32(truncatingIfNeeded: found)))
            }
            if afterRight != -1, let found = lookup(symbol[position], symbol[Int(afterRight)]) {
                push(MergeCandidate(rank: UInt32(found >> 32), position: Int32(position), mergedID: UInt32(truncatingIfNeeded: found)))
            }
        }
        var result: [Int] = []
        result.reserveCapacity(count)
        var position = 0
        while position != -1 {
            result.append(Int(symbol[position]))
            position = Int(next[position])
        }
        return result
    }
}
