/// A backtracking regex engine over Unicode scalars with Oniguruma's semantics (leftmost match,
/// first alternative wins, greedy quantifiers), covering the syntax tokenizer.json split patterns
/// use: alternation, groups `(?:…)` `(?i:…)`, look-ahead `(?=…)` `(?!…)`, classes with `\p{…}`,
/// `\s` `\w` `\d`, quantifiers `? * + {n,m}` (greedy or lazy) and the anchors `^` `$`.
///
/// Foundation's NSRegularExpression (ICU) differs from Oniguruma on these patterns, and the GPT-2,
/// Llama 3 and Qwen2 splits must match the Rust library exactly, so the engine is written here.
/// Quantified single-scalar classes (`\p{L}+`, `\s*`) run as loops with one backtrack frame, so
/// long runs of letters or spaces cost neither recursion nor a frame per scalar.
final class TokenizerRegex {
    enum Instruction {
        case scalar(Int)                                            // class index
        case split(Int, Int)                                        // try first, backtrack to second
        case jump(Int)
        case repeatClass(Int, min: Int, max: Int, greedy: Bool)
        case lookahead(body: Int, next: Int, negative: Bool)
        case lineStart, lineEnd, textStart, textEnd
        case match
    }

    let pattern: String
    private(set) var program: [Instruction] = []
    private(set) var classes: [ScalarClass] = []

    init(_ pattern: String) throws {
        self.pattern = pattern
        var parser = RegexParser(pattern: Array(pattern.unicodeScalars))
        let node = try parser.parseAll()
        var compiler = RegexCompiler()
        compiler.emit(node)
        compiler.program.append(.match)
        program = compiler.program
        classes = compiler.classes
        for index in classes.indices { classes[index].finalize() }
    }

    /// Non-overlapping matches scanning left to right, as `(start, end)` scalar offsets, with the
    /// iteration rules of the `onig` crate: an empty match right where the previous match ended is
    /// skipped by moving one scalar on.
    func matches(in text: Scalars) -> [(Int, Int)] {
        var result: [(Int, Int)] = []
        text.withUnsafeBufferPointer { buffer in
            var stack: [Frame] = []
            stack.reserveCapacity(16)
            let count = buffer.count
            var searchStart = 0
            var lastMatchEnd = -1
            while searchStart <= count {
                var found: (Int, Int)?
                var start = searchStart
                while start <= count {
                    if let end = run(buffer, from: 0, at: start, stack: &stack) {
                        found = (start, end)
                        break
                    }
                    start += 1
                }
                guard let (matchStart, matchEnd) = found else { break }
                if matchStart == matchEnd && matchEnd == lastMatchEnd {
                    searchStart += 1
                    continue
                }
                result.append((matchStart, matchEnd))
                searchStart = matchEnd
                lastMatchEnd = matchEnd
            }
        }
        return result
    }

    struct Frame {
        enum Kind: UInt8 { case alternative, greedyRepeat, lazyRepeat }
        var kind: Kind
        var pc: Int
        var position: Int
        var count: Int
        var start: Int
    }

    private func run(_ text: UnsafeBufferPointer<Unicode.Scalar>, from entry: Int, at position: Int,
                     stack: inout [Frame]) -> Int? {
        let base = stack.count
        defer { stack.removeSubrange(base...) }
        var pc = entry
        var position = position
        let end = text.count
        while true {
            var failed = false
            switch program[pc] {
            case .scalar(let classIndex):
                if position < end && classes[classIndex].matches(text[position]) {
                    position += 1
                    pc += 1
                } else {
                    failed = true
                }
            case .split(let first, let second):
                stack.append(Frame(kind: .alternative, pc: second, position: position, count: 0, start: 0))
                pc = first
            case .jump(let target):
                pc = target
            case .repeatClass(let classIndex, let min, let max, let greedy):
                let scalarClass = classes[classIndex]
                if greedy {
                    var count = 0
                    while count < max && position + count < end && scalarClass.matches(text[position + count]) { count += 1 }
                    if count < min {
                        failed = true
                    } else {
                        if count > min {
                            stack.append(Frame(kind: .greedyRepeat, pc: pc + 1, position: position, count: count - 1, start: min))
                        }
                        position += count
                        pc += 1
                    }
                } else {
                    var count = 0
                    while count < min && position + count < end && scalarClass.matches(text[position + count]) { count += 1 }
                    if count < min {
                        failed = true
                    } else {
                        position += count
                        if count < max {
                            stack.append(Frame(kind: .lazyRepeat, pc: pc, position: position, count: count, start: 0))
                        }
                        pc += 1
                    }
                }
            case .lookahead(let body, let next, let negative):
                let matched = run(text, from: body, at: position, stack: &stack) != nil
                if matched != negative { pc = next } else { failed = true }
            case .lineStart:
                if position == 0 || text[position - 1] == "\n" { pc += 1 } else { failed = true }
            case .lineEnd:
                if position == end || text[position] == "\n" { pc += 1 } else { failed = true }
            case .textStart:
                if position == 0 { pc += 1 } else { failed = true }
            case .textEnd:
                if position == end { pc += 1 } else { failed = true }
            case .match:
                return position
            }
            guard failed else { continue }
            // Backtrack.
            var resumed = false
            while stack.count > base {
                let frame = stack.removeLast()
                switch frame.kind {
                case .alternative:
                    pc = frame.pc
                    position = frame.position
                    resumed = true
                case .greedyRepeat:
                    // `count` is the number of repetitions to try now; `start` holds the minimum.
                    if frame.count > frame.start {
                        stack.append(Frame(kind: .greedyRepeat, pc: frame.pc, position: frame.position,
                                           count: frame.count - 1, start: frame.start))
                    }
                    position = frame.position + frame.count
                    pc = frame.pc
                    resumed = true
                case .lazyRepeat:
                    guard case .repeatClass(let classIndex, _, let max, _) = program[frame.pc] else { continue }
                    if frame.position < end && classes[classIndex].matches(text[frame.position]) {
                        let count = frame.count + 1
                        position = frame.position + 1
                        if count < max {
                            stack.append(Frame(kind: .lazyRepeat, pc: frame.pc, position: position, count: count, start: 0))
                        }
                        pc = frame.pc + 1
                        resumed = true
                    }
                }
                if resumed { break }
            }
            if !resumed { return nil }
        }
    }
}

indirect enum RegexNode {
    case empty
    case scalarClass(ScalarClass)
    case sequence([RegexNode])
    case alternation([RegexNode])
    case repetition(RegexNode, min: Int, max: Int, greedy: Bool)
    case lookahead(RegexNode, negative: Bool)
    case lineStart, lineEnd, textStart, textEnd
}

struct RegexParseError: Error {
    let message: String
}

struct RegexParser {
    let pattern: [Unicode.Scalar]
    var index = 0
    var ignoreCase = false

    init(pattern: [Unicode.Scalar]) {
        self.pattern = pattern
    }

    mutating func parseAll() throws -> RegexNode {
        let node = try parseAlternation()
        if index < pattern.count { throw RegexParseError(message: "unbalanced ')' at offset \(index)") }
        return node
    }

    private var atEnd: Bool { index >= pattern.count }
    private func peek(_ offset: Int = 0) -> Unicode.Scalar? {
        index + offset < pattern.count ? pattern[index + offset] : nil
    }

    private mutating func parseAlternation() throws -> RegexNode {
        var branches = [try parseSequence()]
        while peek() == "|" {
            index += 1
            branches.append(try parseSequence())
        }
        return branches.count == 1 ? branches[0] : .alternation(branches)
    }

    private mutating func parseSequence() throws -> RegexNode {
        var items: [RegexNode] = []
        while let scalar = peek(), scalar != "|", scalar != ")" {
            let atom = try parseAtom()
            items.append(try parseQuantifier(atom))
        }
        return items.count == 1 ? items[0] : .sequence(items)
    }

    private mutating func parseQuantifier(_ atom: RegexNode) throws -> RegexNode {
        guard let scalar = peek() else { return atom }
        var min = 0
        var max = Int.max
        switch scalar {
        case "*": index += 1
        case "+": min = 1; index += 1
        case "?": max = 1; index += 1
        case "{":
            guard let bounds = parseBraces() else { return atom }
            (min, max) = bounds
        default:
            return atom
        }
        var greedy = true
        if peek() == "?" {
            greedy = false
            index += 1
        } else if peek() == "+" {
            throw RegexParseError(message: "possessive quantifiers are not supported")
        }
        return .repetition(atom, min: min, max: max, greedy: greedy)
    }

    /// `{n}`, `{n,}`, `{n,m}`; anything else is a literal brace (as in Oniguruma).
    private mutating func parseBraces() -> (Int, Int)? {
        var cursor = index + 1
        func number() -> Int? {
            var value: Int?
            while cursor < pattern.count, let digit = Int(String(pattern[cursor])), pattern[cursor].isASCII {
                value = (value ?? 0) * 10 + digit
                cursor += 1
            }
            return value
        }
        let low = number()
        var high = low
        if cursor < pattern.count && pattern[cursor] == "," {
            cursor += 1
            high = number() ?? Int.max
        }
        guard cursor < pattern.count, pattern[cursor] == "}", let min = low ?? (high != nil ? 0 : nil), let max = high else {
            return nil
        }
        index = cursor + 1
        return (min, max)
    }

    private mutating func parseAtom() throws -> RegexNode {
        let scalar = pattern[index]
        switch scalar {
        case "(":
            index += 1
            return try parseGroup()
        case "[":
            index += 1
            return .scalarClass(try parseClass())
        case ".":
            index += 1
            return .scalarClass(ScalarClass(items: [.anyButNewline]))
        case "^":
            index += 1
            return .lineStart
        case "$":
            index += 1
            return .lineEnd
        case "\\":
            index += 1
            return try parseEscape()
        case "*", "+", "?":
            throw RegexParseError(message: "quantifier '\(scalar)' without a target at offset \(index)")
        default:
            index += 1
            return .scalarClass(literal(scalar))
        }
    }

    private func literal(_ scalar: Unicode.Scalar) -> ScalarClass {
        ScalarClass(items: [.range(scalar.value, scalar.value)], ignoreCase: ignoreCase)
    }

    private mutating func parseGroup() throws -> RegexNode {
        let savedIgnoreCase = ignoreCase
        defer { ignoreCase = savedIgnoreCase }
        var lookahead: Bool?
        if peek() == "?" {
            index += 1
            switch peek() {
            case ":":
                index += 1
            case "=":
                index += 1
                lookahead = false
            case "!":
                index += 1
                lookahead = true
            case "<":
                if peek(1) == "=" || peek(1) == "!" { throw RegexParseError(message: "look-behind is not supported") }
                // Named group `(?<name>…)`: capture names are irrelevant for splitting.
                while let next = peek(), next != ">" { index += 1 }
                index += 1
            case "P":
                index += 1
                guard peek() == "<" else { throw RegexParseError(message: "unsupported group syntax") }
                while let next = peek(), next != ">" { index += 1 }
                index += 1
            default:
                // Inline flags: `(?i)`, `(?i:…)`, `(?-i:…)`.
                var enable = true
                var flags = ignoreCase
                while let next = peek(), next != ":" && next != ")" {
                    switch next {
                    case "-": enable = false
                    case "i": flags = enable
                    case "x", "m", "s", "u": break
                    default: throw RegexParseError(message: "unsupported group flag '\(next)'")
                    }
                    index += 1
                }
                if peek() == ")" {
                    // `(?i)` applies to the rest of the enclosing group, whose `)` its caller consumes.
                    index += 1
                    ignoreCase = flags
                    return try parseAlternation()
                }
                index += 1
                ignoreCase = flags
            }
        }
        let body = try parseAlternation()
        guard peek() == ")" else { throw RegexParseError(message: "missing ')'") }
        index += 1
        if let negative = lookahead { return .lookahead(body, negative: negative) }
        return body
    }

    private mutating func parseEscape() throws -> RegexNode {
        guard let scalar = peek() else { throw RegexParseError(message: "trailing backslash") }
        switch scalar {
        case "A":
            index += 1
            return .textStart
        case "z", "Z":
            index += 1
            return .textEnd
        case "b", "B", "G", "K", "R", "X":
            throw RegexParseError(message: "escape '\\\(scalar)' is not supported")
        default:
            if let item = try parseClassEscape(inBrackets: false) { return .scalarClass(item) }
            throw RegexParseError(message: "unsupported escape")
        }
    }

    /// An escape valid both inside and outside brackets (index is just after the backslash).
    private mutating func parseClassEscape(inBrackets: Bool = true) throws -> ScalarClass? {
        let scalar = pattern[index]
        index += 1
        switch scalar {
        case "s": return ScalarClass(items: [.whitespace])
        case "S": return ScalarClass(items: [.whitespace], negated: true)
        case "w": return ScalarClass(items: [inBrackets ? .word : .standaloneWord])
        case "W": return ScalarClass(items: [inBrackets ? .word : .standaloneWord], negated: true)
        case "d": return ScalarClass(items: [.digit])
        case "D": return ScalarClass(items: [.digit], negated: true)
        case "h": return ScalarClass(items: [.range(0x30, 0x39), .range(0x41, 0x46), .range(0x61, 0x66)])
        case "p", "P":
            var name = ""
            if peek() == "{" {
                index += 1
                while let next = peek(), next != "}" {
                    name.unicodeScalars.append(next)
                    index += 1
                }
                guard peek() == "}" else { throw RegexParseError(message: "unterminated \\p{") }
                index += 1
            } else if let next = peek() {
                name = String(next)
                index += 1
            }
            var negated = scalar == "P"
            if name.hasPrefix("^") {
                negated.toggle()
                name.removeFirst()
            }
            guard let mask = ScalarClass.categoryMask(named: name) else {
                throw RegexParseError(message: "unsupported Unicode property '\(name)'")
            }
            return ScalarClass(items: [.categories(mask)], negated: negated)
        case "n": return literal("\n")
        case "r": return literal("\r")
        case "t": return literal("\t")
        case "f": return literal("\u{0C}")
        case "v": return literal("\u{0B}")
        case "a": return literal("\u{07}")
        case "e": return literal("\u{1B}")
        case "0": return literal("\u{00}")
        case "x", "u":
            var digits = ""
            if peek() == "{" {
                index += 1
                while let next = peek(), next != "}" {
                    digits.unicodeScalars.append(next)
                    index += 1
                }
                index += 1
            } else {
                let length = scalar == "x" ? 2 : 4
                for _ in 0..<length {
                    guard let next = peek() else { break }
                    digits.unicodeScalars.append(next)
                    index += 1
                }
            }
            guard let value = UInt32(digits, radix: 16), let decoded = Unicode.Scalar(value) else {
                throw RegexParseError(message: "invalid hex escape '\(digits)'")
            }
            return literal(decoded)
        default:
            if scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) {
                index -= 1
                return nil
            }
            return literal(scalar)
        }
    }

    private mutating func parseClass() throws -> ScalarClass {
        var result = ScalarClass(ignoreCase: ignoreCase)
        if peek() == "^" {
            result.negated = true
            index += 1
        }
        var first = true
        while true {
            guard let scalar = peek() else { throw RegexParseError(message: "unterminated character class") }
            if scalar == "]" && !first {
                index += 1
                break
            }
            first = false
            if scalar == "[" {
                index += 1
                if peek() == ":" { throw RegexParseError(message: "POSIX bracket classes are not supported") }
                result.items.append(.nested(try parseClass()))
                continue
            }
            if scalar == "&" && peek(1) == "&" { throw RegexParseError(message: "class intersection is not supported") }
            var low: Unicode.Scalar
            if scalar == "\\" {
                index += 1
                guard let escaped = try parseClassEscape() else {
                    throw RegexParseError(message: "unsupported escape in class")
                }
                // Single literals can start a range; shorthand classes are added as they are.
                if case .range(let a, let b)? = escaped.items.first, escaped.items.count == 1, a == b, !escaped.negated {
                    low = Unicode.Scalar(a)!
                } else {
                    var nested = escaped
                    nested.ignoreCase = ignoreCase
                    nested.finalize()
                    result.items.append(.nested(nested))
                    continue
                }
            } else {
                low = scalar
                index += 1
            }
            if peek() == "-", let after = peek(1), after != "]" {
                index += 1
                var high: Unicode.Scalar
                if after == "\\" {
                    index += 1
                    guard let escaped = try parseClassEscape(), case .range(let a, _)? = escaped.items.first else {
                        throw RegexParseError(message: "invalid range end in class")
                    }
                    high = Unicode.Scalar(a)!
                } else {
                    high = after
                    index += 1
                }
                guard low.value <= high.value else { throw RegexParseError(message: "invalid range in class") }
                result.items.append(.range(low.value, high.value))
            } else {
                result.items.append(.range(low.value, low.value))
            }
        }
        return result
    }
}

struct RegexCompiler {
    var program: [TokenizerRegex.Instruction] = []
    var classes: [ScalarClass] = []

    mutating func addClass(_ scalarClass: ScalarClass) -> Int {
        var finalized = scalarClass
        finalized.finalize()
        classes.append(finalized)
        return classes.count - 1
    }

    mutating func emit(_ node: RegexNode) {
        switch node {
        case .empty:
            break
        case .scalarClass(let scalarClass):
            program.append(.scalar(addClass(scalarClass)))
        case .sequence(let items):
            for item in items { emit(item) }
        case .alternation(let branches):
            // split L1, next; L1: branch; jump end; next: split ...
            var jumpsToEnd: [Int] = []
            for (offset, branch) in branches.enumerated() {
                if offset < branches.count - 1 {
                    let splitIndex = program.count
                    program.append(.split(0, 0))
                    emit(branch)
                    jumpsToEnd.append(program.count)
                    program.append(.jump(0))
                    program[splitIndex] = .split(splitIndex + 1, program.count)
                } else {
                    emit(branch)
                }
            }
            for index in jumpsToEnd { program[index] = .jump(program.count) }
        case .repetition(let body, let min, let max, let greedy):
            if case .scalarClass(let scalarClass) = body {
                program.append(.repeatClass(addClass(scalarClass), min: min, max: max, greedy: greedy))
                return
            }
            for _ in 0..<min { emit(body) }
            if max == Int.max {
                // loop: split body, exit
                let loopStart = program.count
                program.append(.split(0, 0))
                emit(body)
                program.append(.jump(loopStart))
                let exit = program.count
                program[loopStart] = greedy ? .split(loopStart + 1, exit) : .split(exit, loopStart + 1)
            } else if max > min {
                var pending: [Int] = []
                for _ in min..<max {
                    let splitIndex = program.count
                    program.append(.split(0, 0))
                    pending.append(splitIndex)
                    emit(body)
                }
                let exit = program.count
                for index in pending {
                    program[index] = greedy ? .split(index + 1, exit) : .split(exit, index + 1)
                }
            }
        case .lookahead(let body, let negative):
            let instructionIndex = program.count
            program.append(.match)
            let bodyStart = program.count
            emit(body)
            program.append(.match)
            program[instructionIndex] = .lookahead(body: bodyStart, next: program.count, negative: negative)
        case .lineStart: program.append(.lineStart)
        case .lineEnd: program.append(.lineEnd)
        case .textStart: program.append(.textStart)
        case .textEnd: program.append(.textEnd)
        }
    }
}
