/// One piece of the input on its way through the pipeline. Pieces matched as added tokens carry
/// their id and are left alone by the normalizer, the pre-tokenizers and the model.
struct Piece {
    var scalars: Scalars
    var addedTokenID: Int?
    /// Whether the piece begins at offset 0 of the original input (Metaspace `prepend_scheme: first`).
    var startsAtOrigin: Bool

    init(_ scalars: Scalars, addedTokenID: Int? = nil, startsAtOrigin: Bool) {
        self.scalars = scalars
        self.addedTokenID = addedTokenID
        self.startsAtOrigin = startsAtOrigin
    }

    func slice(_ start: Int, _ end: Int) -> Piece {
        Piece(Array(scalars[start..<end]), startsAtOrigin: startsAtOrigin && start == 0)
    }
}

/// `SplitDelimiterBehavior` of the tokenizers library.
enum SplitDelimiterBehavior: String {
    case removed = "Removed"
    case isolated = "Isolated"
    case mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext"
    case contiguous = "Contiguous"

    static func parse(_ json: JSONObject, _ key: String) throws -> SplitDelimiterBehavior {
        let name = try json.requiredString(key)
        guard let behavior = SplitDelimiterBehavior(rawValue: name) else {
            throw json.error(key, "unknown behavior '\(name)' (supported: Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous)")
        }
        return behavior
    }
}

/// What a split pattern finds: a partition of the text into `(start, end, isMatch)` ranges.
enum SplitPattern {
    case string(Scalars)
    case regex(TokenizerRegex)
    case predicate((Unicode.Scalar) -> Bool)

    /// `{"String": "…"}` or `{"Regex": "…"}` as in tokenizer.json.
    static func parse(_ json: JSONObject, _ key: String) throws -> SplitPattern {
        let pattern = try json.requiredObject(key)
        if let string = try pattern.string("String") { return .string(string.scalars) }
        if let regex = try pattern.string("Regex") {
            do {
                return .regex(try TokenizerRegex(regex))
            } catch let error as RegexParseError {
                throw TokenizerError.unsupportedRegex(json.file, regex, "\(error.message) (at '\(json.fieldPath(key))')")
            }
        }
        throw json.error(key, "expected {\"String\": …} or {\"Regex\": …}")
    }

    func findMatches(_ text: Scalars) -> [(start: Int, end: Int, isMatch: Bool)] {
        if text.isEmpty { return [(0, 0, false)] }
        var matchRanges: [(Int, Int)] = []
        switch self {
        case .string(let needle):
            if needle.isEmpty { return [(0, text.count, false)] }
            var position = 0
            let limit = text.count - needle.count
            while position <= limit {
                if text[position] == needle[0] && text[position..<position + needle.count].elementsEqual(needle) {
                    matchRanges.append((position, position + needle.count))
                    position += needle.count
                } else {
                    position += 1
                }
            }
        case .regex(let regex):
            matchRanges = regex.matches(in: text)
        case .predicate(let predicate):
            for (index, scalar) in text.enumerated() where predicate(scalar) {
                matchRanges.append((index, index + 1))
            }
        }
        var result: [(start: Int, end: Int, isMatch: Bool)] = []
        result.reserveCapacity(matchRanges.count * 2 + 1)
        var previous = 0
        for (start, end) in matchRanges {
            if previous != start { result.append((previous, start, false)) }
            result.append((start, end, true))
            previous = end
        }
        if previous != text.count { result.append((previous, text.count, false)) }
        return result
    }

    /// Splits `piece` by this pattern according to `behavior` (NormalizedString::split).
    func split(_ piece: Piece, behavior: SplitDelimiterBehavior, invert: Bool = false) -> [Piece] {
        var matches = findMatches(piece.scalars)
        if invert {
            for index in matches.indices { matches[index].isMatch.toggle() }
        }
        var ranges: [(start: Int, end: Int, remove: Bool)] = []
        ranges.reserveCapacity(matches.count)
        switch behavior {
        case .isolated:
            for match in matches { ranges.append((match.start, match.end, false)) }
        case .removed:
            for match in matches { ranges.append((match.start, match.end, match.isMatch)) }
        case .contiguous:
            var previousMatch = false
            for match in matches {
                if match.isMatch == previousMatch, !ranges.isEmpty {
                    ranges[ranges.count - 1].end = match.end
                } else {
                    ranges.append((match.start, match.end, false))
                }
                previousMatch = match.isMatch
            }
        case .mergedWithPrevious:
            var previousMatch = false
            for match in matches {
                if match.isMatch && !previousMatch, !ranges.isEmpty {
                    ranges[ranges.count - 1].end = match.end
                } else {
                    ranges.append((match.start, match.end, false))
                }
                previousMatch = match.isMatch
            }
        case .mergedWithNext:
            var previousMatch = false
            for match in matches.reversed() {
                if match.isMatch && !previousMatch, !ranges.isEmpty {
                    ranges[ranges.count - 1].start = match.start
                } else {
                    ranges.append((match.start, match.end, false))
                }
                previousMatch = match.isMatch
            }
            ranges.reverse()
        }
        var pieces: [Piece] = []
        pieces.reserveCapacity(ranges.count)
        for range in ranges where !range.remove && range.end > range.start {
            if range.start == 0 && range.end == piece.scalars.count {
                pieces.append(piece)
            } else {
                pieces.append(piece.slice(range.start, range.end))
            }
        }
        return pieces
    }
}

extension Array where Element == Piece {
    /// Applies `transform` to every piece that is not yet an added token, dropping empty results
    /// (PreTokenizedString::split).
    mutating func splitEach(_ transform: (Piece) throws -> [Piece]) rethrows {
        var result: [Piece] = []
        result.reserveCapacity(count)
        for piece in self {
            if piece.addedTokenID != nil {
                result.append(piece)
                continue
            }
            for part in try transform(piece) where !part.scalars.isEmpty {
                result.append(part)
            }
        }
        self = result
    }
}
