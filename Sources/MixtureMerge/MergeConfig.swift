import Foundation
import MixtureCore
import Yams

/// A scalar as written in the YAML config. Conversion to the type a merge method expects happens
/// when a parameter is resolved (as pydantic does in mergekit: `"1e-5"` is a number where a number
/// is expected, `1` is `true` where a boolean is expected).
public enum ScalarValue: Equatable, CustomStringConvertible, Sendable {
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case null

    public var description: String {
        switch self {
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .string(let s): return "'\(s)'"
        case .null: return "null"
        }
    }
}

/// One `- filter: ... value: ...` entry (a filter of `nil` or `*` matches every tensor).
public struct ConditionalSetting: Equatable, Sendable {
    public var filter: String?
    public var value: ParameterSetting
}

/// A parameter value: a scalar, a gradient (a list interpolated across the layers of a slice), or
/// a list of filtered values tried in order.
public indirect enum ParameterSetting: Equatable, Sendable {
    case scalar(ScalarValue)
    case gradient([ScalarValue])
    case conditional([ConditionalSetting])
}

public typealias ParameterSettings = [String: ParameterSetting]

/// A model named in the config, with where it was named (for error messages).
public struct ModelReference: Hashable, Sendable, CustomStringConvertible {
    /// The path as written.
    public var path: String
    /// A PEFT adapter folded into the model before merging (`MODEL+LORA`).
    public var lora: String?

    public init(path: String, lora: String? = nil) {
        self.path = path
        self.lora = lora
    }

    public var description: String { lora.map { "\(path)+\($0)" } ?? path }
}

public struct InputModelDefinition: Sendable {
    public var model: ModelReference
    public var parameters: ParameterSettings?
}

public struct InputSliceDefinition: Sendable {
    public var model: ModelReference
    public var layerRange: Range<Int>
    public var parameters: ParameterSettings?
}

public struct OutputSliceDefinition: Sendable {
    public var sources: [InputSliceDefinition]
    public var baseModel: ModelReference?
    public var parameters: ParameterSettings?
}

/// `tokenizer_source`: where the output's tokenizer comes from.
public enum TokenizerSource: Equatable, Sendable {
    case base
    case union
    case model(ModelReference)
}

/// A mergekit merge configuration (the YAML `mergekit-yaml` reads).
public struct MergeConfiguration: Sendable {
    public var mergeMethod: String
    public var baseModel: ModelReference?
    public var models: [InputModelDefinition]?
    public var slices: [OutputSliceDefinition]?
    public var parameters: ParameterSettings?
    public var dtype: DType?
    public var outDtype: DType?
    public var tokenizerSource: TokenizerSource?
    public var chatTemplate: String?
    /// The file it was read from (for messages and for resolving relative model paths).
    public var path: String
    /// Keys that were ignored, as mergekit ignores them.
    public var warnings: [String] = []

    /// Every model the config names, base first, each once, in order of first mention.
    public var referencedModels: [ModelReference] {
        var seen = Set<ModelReference>()
        var out: [ModelReference] = []
        func add(_ m: ModelReference) { if seen.insert(m).inserted { out.append(m) } }
        if let b = baseModel { add(b) }
        for m in models ?? [] { add(m.model) }
        for s in slices ?? [] {
            for src in s.sources { add(src.model) }
            if let b = s.baseModel { add(b) }
        }
        return out
    }
}

// MARK: - Parsing

public enum MergeConfigParser {
    /// Reads and validates a config file. Every problem is one line naming the file, the line and
    /// the field.
    public static func load(path: String) throws -> MergeConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw MixtureError.missingFile(path: path, reason: "merge config not found")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw MixtureError.invalidFile(path: path, reason: "not UTF-8 text")
        }
        return try parse(text, path: path)
    }

    public static func parse(_ text: String, path: String) throws -> MergeConfiguration {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw MixtureError.invalidFile(path: path, reason: "empty YAML document (expected a mapping with merge_method)")
            }
            root = node
        } catch let error as YamlError {
            throw MixtureError.invalidFile(path: path, reason: describe(error))
        }
        let reader = NodeReader(path: path)
        return try reader.configuration(root)
    }

    /// One line from a Yams error: "line L, column C: problem".
    static func describe(_ error: YamlError) -> String {
        switch error {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let ctx = context.map { "\($0.text) " } ?? ""
            return "YAML error at line \(mark.line), column \(mark.column): \(ctx)\(problem)"
        case .duplicatedKeysInMapping(let duplicates, _):
            return "YAML error: duplicated keys \(duplicates.joined(separator: ", "))"
        default:
            return "YAML error: " + String(describing: error).split(separator: "\n").first.map(String.init)!
        }
    }
}

/// Walks the YAML tree with error messages that carry the file, line and field path.
struct NodeReader {
    let path: String
    /// Keys mergekit would ignore (pydantic drops unknown fields): reported, not fatal.
    final class Warnings { var list: [String] = [] }
    let warnings = Warnings()

    func ignored(_ node: Node?, _ field: String, _ reason: String) {
        let line = node?.mark.map { ":\($0.line)" } ?? ""
        warnings.list.append("\(path)\(line): field '\(field)': \(reason); ignored")
    }

    func fail(_ node: Node?, _ field: String, _ reason: String) -> MixtureError {
        let line = node?.mark.map { ":\($0.line)" } ?? ""
        return .invalidConfig(path: path + line, field: field, reason: reason)
    }

    func mapping(_ node: Node, _ field: String) throws -> [(key: String, keyNode: Node, value: Node)] {
        guard case .mapping(let m) = node else {
            throw fail(node, field, "expected a mapping (key: value lines), found \(kind(node))")
        }
        var out: [(String, Node, Node)] = []
        var merged: [(String, Node, Node)] = []
        for (k, v) in m {
            guard let key = k.string else { throw fail(k, field, "mapping keys must be strings") }
            if key == "<<" {
                // YAML merge key (`<<: *anchor`, as PyYAML's safe_load reads it): the referenced
                // mapping's entries, unless this mapping sets them itself.
                let sources: [Node]
                if case .sequence(let seq) = v { sources = Array(seq) } else { sources = [v] }
                for source in sources { merged += try mapping(source, field + ".<<") }
                continue
            }
            out.append((key, k, v))
        }
        for entry in merged where !out.contains(where: { $0.0 == entry.0 }) {
            out.append(entry)
        }
        return out
    }

    func sequence(_ node: Node, _ field: String) throws -> [Node] {
        guard case .sequence(let s) = node else {
            throw fail(node, field, "expected a list, found \(kind(node))")
        }
        return Array(s)
    }

    func kind(_ node: Node) -> String {
        switch node {
        case .scalar(let s): return "the scalar '\(s.string)'"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    func string(_ node: Node, _ field: String) throws -> String {
        guard case .scalar(let s) = node, scalar(node) != .null else {
            throw fail(node, field, "expected a string, found \(kind(node))")
        }
        return s.string
    }

    func int(_ node: Node, _ field: String) throws -> Int {
        switch scalarValue(node) {
        case .int(let i): return i
        case .double(let d) where d == d.rounded() && abs(d) < 1e15: return Int(d)
        default: throw fail(node, field, "expected an integer, found \(kind(node))")
        }
    }

    func scalarValue(_ node: Node) -> ScalarValue? {
        guard case .scalar = node else { return nil }
        return scalar(node)
    }

    /// A scalar with YAML 1.1 resolution, as PyYAML does it (plain `yes`/`no` are booleans there too).
    func scalar(_ node: Node) -> ScalarValue {
        guard case .scalar(let s) = node else { return .null }
        let text = s.string
        if s.style != .plain { return .string(text) }
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON": return .bool(true)
        case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF": return .bool(false)
        default: break
        }
        let cleaned = text.replacingOccurrences(of: "_", with: "")
        if let i = Int(cleaned) { return .int(i) }
        if cleaned.lowercased().hasPrefix("0x"), let i = Int(cleaned.dropFirst(2), radix: 16) { return .int(i) }
        // PyYAML's YAML 1.1 float pattern needs a dot ("1e-5" stays a string there); such strings
        // become numbers anyway when a numeric parameter reads them, exactly as in mergekit.
        if yaml11Float(cleaned), let d = Double(cleaned) { return .double(d) }
        switch cleaned.lowercased() {
        case ".inf", "+.inf": return .double(.infinity)
        case "-.inf": return .double(-.infinity)
        case ".nan": return .double(.nan)
        default: return .string(text)
        }
    }

    private func yaml11Float(_ s: String) -> Bool {
        var chars = Substring(s)
        if chars.first == "+" || chars.first == "-" { chars = chars.dropFirst() }
        guard let dot = chars.firstIndex(of: ".") else { return false }
        let mantissaEnd = chars.firstIndex(where: { $0 == "e" || $0 == "E" }) ?? chars.endIndex
        guard dot < mantissaEnd else { return false }
        let intPart = chars[chars.startIndex..<dot]
        let fracPart = chars[chars.index(after: dot)..<mantissaEnd]
        guard intPart.allSatisfy(\.isASCII) && intPart.allSatisfy(\.isNumber),
              fracPart.allSatisfy({ $0.isNumber && $0.isASCII }) else { return false }
        if mantissaEnd == chars.endIndex { return true }
        var exp = chars[chars.index(after: mantissaEnd)...]
        guard exp.first == "+" || exp.first == "-" else { return false }
        exp = exp.dropFirst()
        return !exp.isEmpty && exp.allSatisfy { $0.isNumber && $0.isASCII }
    }

    func modelReference(_ node: Node, _ field: String) throws -> ModelReference {
        if case .mapping = node {
            // {model: PATH or {path: PATH}, lora: PATH or {path: PATH}}
            var pathValue: String?
            var loraValue: String?
            func pathOf(_ value: Node, _ f: String) throws -> String? {
                if case .mapping = value {
                    var out: String?
                    for (k2, _, v2) in try mapping(value, f) where k2 == "path" { out = try string(v2, f + ".path") }
                    return out
                }
                return try string(value, f)
            }
            for (key, _, value) in try mapping(node, field) {
                switch key {
                case "model": pathValue = try pathOf(value, field + ".model")
                case "path": pathValue = try string(value, field + ".path")
                case "lora": loraValue = scalarValue(value) == .null ? nil : try pathOf(value, field + ".lora")
                default: break
                }
            }
            guard let p = pathValue else { throw fail(node, field, "model reference needs a path") }
            return ModelReference(path: p, lora: loraValue)
        }
        let text = try string(node, field)
        guard !text.isEmpty else { throw fail(node, field, "empty model path") }
        // mergekit's "MODEL+LORA": the adapter is folded into the model before merging.
        let parts = text.split(separator: "+", omittingEmptySubsequences: false)
        if parts.count == 2 && !parts[0].isEmpty && !parts[1].isEmpty {
            return ModelReference(path: String(parts[0]), lora: String(parts[1]))
        }
        guard parts.count == 1 else { throw fail(node, field, "'\(text)' is not MODEL or MODEL+LORA") }
        return ModelReference(path: text)
    }

    func parameters(_ node: Node, _ field: String) throws -> ParameterSettings? {
        if scalarValue(node) == .null { return nil }
        var out: ParameterSettings = [:]
        for (key, _, value) in try mapping(node, field) {
            out[key] = try setting(value, "\(field).\(key)")
        }
        return out
    }

    func setting(_ node: Node, _ field: String) throws -> ParameterSetting {
        switch node {
        case .scalar:
            return .scalar(scalar(node))
        case .mapping:
            return .conditional([try conditional(node, field)])
        case .sequence(let items):
            if items.isEmpty { return .gradient([]) }
            if items.allSatisfy({ if case .scalar = $0 { return true } else { return false } }) {
                return .gradient(items.map { scalar($0) })
            }
            var conds: [ConditionalSetting] = []
            for (i, item) in items.enumerated() {
                guard case .mapping = item else {
                    throw fail(item, "\(field)[\(i)]", "a list of filtered values must hold only '- filter: ... value: ...' entries")
                }
                conds.append(try conditional(item, "\(field)[\(i)]"))
            }
            return .conditional(conds)
        case .alias:
            throw fail(node, field, "YAML aliases are not supported here")
        }
    }

    func conditional(_ node: Node, _ field: String) throws -> ConditionalSetting {
        var filter: String?
        var value: ParameterSetting?
        for (key, _, v) in try mapping(node, field) {
            switch key {
            case "filter":
                filter = scalarValue(v) == .null ? nil : try string(v, field + ".filter")
            case "value":
                switch v {
                case .scalar: value = .scalar(scalar(v))
                case .sequence(let items):
                    guard items.allSatisfy({ if case .scalar = $0 { return true } else { return false } }) else {
                        throw fail(v, field + ".value", "expected a number or a list of numbers")
                    }
                    value = .gradient(items.map { scalar($0) })
                default:
                    throw fail(v, field + ".value", "expected a number or a list of numbers, found \(kind(v))")
                }
            default:
                ignored(v, field + "." + key, "unknown key (a filtered value has 'filter' and 'value')")
            }
        }
        guard let value else { throw fail(node, field, "filtered entry without 'value'") }
        return ConditionalSetting(filter: filter, value: value)
    }

    func layerRange(_ node: Node, _ field: String) throws -> Range<Int> {
        let items = try sequence(node, field)
        guard items.count == 2 else { throw fail(node, field, "expected [start, end], found \(items.count) values") }
        let a = try int(items[0], field + "[0]"), b = try int(items[1], field + "[1]")
        guard a >= 0, b >= a else { throw fail(node, field, "invalid layer range [\(a), \(b)] (need 0 <= start <= end)") }
        return a..<b
    }

    func dtype(_ node: Node, _ field: String) throws -> DType? {
        if scalarValue(node) == .null { return nil }
        let text = try string(node, field)
        guard let d = DType(name: text) else {
            throw fail(node, field, "unsupported dtype '\(text)' (supported: float32, float16, bfloat16)")
        }
        return d
    }

    func configuration(_ root: Node) throws -> MergeConfiguration {
        var config = MergeConfiguration(mergeMethod: "", path: path)
        var methodSeen = false
        for (key, keyNode, value) in try mapping(root, "(top level)") {
            switch key {
            case "merge_method":
                config.mergeMethod = try string(value, key)
                methodSeen = true
            case "base_model":
                config.baseModel = scalarValue(value) == .null ? nil : try modelReference(value, key)
            case "models":
                var models: [InputModelDefinition] = []
                for (i, item) in try sequence(value, key).enumerated() {
                    let field = "models[\(i)]"
                    var ref: ModelReference?
                    var params: ParameterSettings?
                    for (k, _, v) in try mapping(item, field) {
                        switch k {
                        case "model": ref = try modelReference(v, field + ".model")
                        case "parameters": params = try parameters(v, field + ".parameters")
                        default: ignored(v, field + "." + k, "unknown key (a model entry has 'model' and 'parameters')")
                        }
                    }
                    guard let ref else { throw fail(item, field, "missing 'model'") }
                    models.append(InputModelDefinition(model: ref, parameters: params))
                }
                config.models = models
            case "slices":
                var slices: [OutputSliceDefinition] = []
                for (i, item) in try sequence(value, key).enumerated() {
                    let field = "slices[\(i)]"
                    var sources: [InputSliceDefinition]?
                    var out = OutputSliceDefinition(sources: [])
                    for (k, _, v) in try mapping(item, field) {
                        switch k {
                        case "sources":
                            var list: [InputSliceDefinition] = []
                            for (j, s) in try sequence(v, field + ".sources").enumerated() {
                                let sf = "\(field).sources[\(j)]"
                                var ref: ModelReference?
                                var range: Range<Int>?
                                var params: ParameterSettings?
                                for (k2, _, v2) in try mapping(s, sf) {
                                    switch k2 {
                                    case "model": ref = try modelReference(v2, sf + ".model")
                                    case "layer_range": range = try layerRange(v2, sf + ".layer_range")
                                    case "parameters": params = try parameters(v2, sf + ".parameters")
                                    default: ignored(v2, sf + "." + k2, "unknown key (a slice source has 'model', 'layer_range' and 'parameters')")
                                    }
                                }
                                guard let ref else { throw fail(s, sf, "missing 'model'") }
                                guard let range else { throw fail(s, sf, "missing 'layer_range'") }
                                list.append(InputSliceDefinition(model: ref, layerRange: range, parameters: params))
                            }
                            sources = list
                        case "base_model": out.baseModel = try modelReference(v, field + ".base_model")
                        case "parameters": out.parameters = try parameters(v, field + ".parameters")
                        case "residual_weight": break
                        default: ignored(v, field + "." + k, "unknown key (a slice has 'sources', 'base_model' and 'parameters')")
                        }
                    }
                    guard let sources, !sources.isEmpty else { throw fail(item, field, "missing or empty 'sources'") }
                    out.sources = sources
                    slices.append(out)
                }
                config.slices = slices
            case "parameters":
                config.parameters = try parameters(value, key)
            case "dtype":
                config.dtype = try dtype(value, key)
            case "out_dtype":
                config.outDtype = try dtype(value, key)
            case "tokenizer_source":
                config.tokenizerSource = try tokenizerSource(value, key)
            case "tokenizer":
                if scalarValue(value) == .null { break }
                for (k, _, v) in try mapping(value, key) {
                    switch k {
                    case "source": config.tokenizerSource = try tokenizerSource(v, "tokenizer.source")
                    default: throw fail(v, "tokenizer." + k, "not supported (only 'tokenizer.source' is)")
                    }
                }
            case "chat_template":
                config.chatTemplate = scalarValue(value) == .null ? nil : try string(value, key)
            case "name", "modules":
                if key == "modules" {
                    throw fail(value, key, "the multi-module 'modules' syntax is not supported; use 'models' or 'slices'")
                }
            default:
                ignored(keyNode, key, "unknown top-level key (known: merge_method, base_model, models, slices, parameters, dtype, out_dtype, tokenizer_source, tokenizer, chat_template)")
            }
        }
        guard methodSeen, !config.mergeMethod.isEmpty else { throw fail(root, "merge_method", "missing (the merge method to use, e.g. ties)") }
        let present = [config.models != nil, config.slices != nil].filter { $0 }.count
        guard present == 1 else {
            throw fail(root, "models/slices", present == 0 ? "give either 'models' or 'slices'" : "give either 'models' or 'slices', not both")
        }
        if let m = config.models, m.isEmpty { throw fail(root, "models", "empty list") }
        if let s = config.slices, s.isEmpty { throw fail(root, "slices", "empty list") }
        config.warnings = warnings.list
        return config
    }

    func tokenizerSource(_ node: Node, _ field: String) throws -> TokenizerSource? {
        if scalarValue(node) == .null { return nil }
        if case .scalar = node {
            let text = try string(node, field)
            switch text {
            case "base": return .base
            case "union": return .union
            default: return .model(ModelReference(path: text))
            }
        }
        return .model(try modelReference(node, field))
    }
}
