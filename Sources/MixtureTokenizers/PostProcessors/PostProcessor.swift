/// The `post_processor` of tokenizer.json: adds the model's special tokens around a sequence.
protocol PostProcessor {
    /// Ids of a single encoded sequence with the special tokens added.
    func process(_ ids: [Int]) -> [Int]
    /// How many ids `process` adds to a single sequence (used by truncation).
    var addedTokenCount: Int { get }
}

enum PostProcessors {
    static let supported = ["BertProcessing", "ByteLevel", "RobertaProcessing", "Sequence", "TemplateProcessing"]

    static func parse(_ json: JSONObject) throws -> PostProcessor {
        let type = try json.type()
        switch type {
        case "TemplateProcessing":
            return try TemplateProcessing(json: json)
        case "BertProcessing", "RobertaProcessing":
            return ClsSepProcessing(cls: try tokenPair(json, "cls"), sep: try tokenPair(json, "sep"))
        case "ByteLevel":
            // Only adjusts offsets; ids are unchanged.
            return SequencePostProcessor(processors: [])
        case "Sequence":
            return SequencePostProcessor(processors: try json.objects("processors").map(parse))
        default:
            throw TokenizerError.unsupportedType(json.file, "post_processor", type, supported: supported)
        }
    }

    /// `["[CLS]", 101]`.
    private static func tokenPair(_ json: JSONObject, _ key: String) throws -> Int {
        guard let pair = json.raw(key) as? [Any], pair.count == 2, pair[0] is String, let id = JSONObject.integer(pair[1]) else {
            throw json.error(key, "expected [token, id]")
        }
        return id
    }
}

struct SequencePostProcessor: PostProcessor {
    let processors: [PostProcessor]

    func process(_ ids: [Int]) -> [Int] {
        processors.reduce(ids) { $1.process($0) }
    }

    var addedTokenCount: Int { processors.reduce(0) { $0 + $1.addedTokenCount } }
}

/// BertProcessing / RobertaProcessing for a single sequence: `cls … sep`.
struct ClsSepProcessing: PostProcessor {
    let cls: Int
    let sep: Int

    func process(_ ids: [Int]) -> [Int] { [cls] + ids + [sep] }
    var addedTokenCount: Int { 2 }
}

/// `single` template: a list of `{"SpecialToken": {"id": …}}` and `{"Sequence": {"id": "A"}}`.
struct TemplateProcessing: PostProcessor {
    enum Item {
        case sequence
        case special([Int])
    }

    let single: [Item]

    init(json: JSONObject) throws {
        var specialIDs = [String: [Int]]()
        if let specials = try json.object("special_tokens") {
            for (name, value) in specials.storage {
                guard let entry = value as? [String: Any], let ids = entry["ids"] as? [Any] else {
                    throw specials.error(name, "expected {\"id\": …, \"ids\": […], \"tokens\": […]}")
                }
                specialIDs[name] = try ids.map { value in
                    guard let id = JSONObject.integer(value) else { throw specials.error(name, "ids must be integers") }
                    return id
                }
            }
        }
        guard let rawSingle = json.raw("single") as? [Any] else {
            throw TokenizerError.missingField(json.file, json.fieldPath("single"))
        }
        single = try rawSingle.enumerated().map { index, element in
            let field = "single[\(index)]"
            guard let item = element as? [String: Any] else { throw json.error(field, "expected an object") }
            if item["Sequence"] != nil { return .sequence }
            if let special = item["SpecialToken"] as? [String: Any], let name = special["id"] as? String {
                guard let ids = specialIDs[name] else {
                    throw json.error(field, "special token \(name.debugDescription) is missing from special_tokens")
                }
                return .special(ids)
            }
            throw json.error(field, "expected {\"Sequence\": …} or {\"SpecialToken\": …}")
        }
    }

    func process(_ ids: [Int]) -> [Int] {
        var result: [Int] = []
        result.reserveCapacity(ids.count + addedTokenCount)
        for item in single {
            switch item {
            case .sequence: result.append(contentsOf: ids)
            case .special(let specialIDs): result.append(contentsOf: specialIDs)
            }
        }
        return result
    }

    var addedTokenCount: Int {
        single.reduce(0) { count, item in
            if case .special(let ids) = item { return count + ids.count }
            return count
        }
    }
}
