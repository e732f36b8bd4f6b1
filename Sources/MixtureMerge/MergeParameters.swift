import Foundation
import MixtureCore

/// The type a merge method expects a parameter to have.
public enum ParameterType: Sendable {
    case bool, int, float
    /// A float that may be absent (`null`), e.g. passthrough's `scale`.
    case optionalFloat
}

/// Along which inputs a parameter takes its values (mergekit's ParameterScope).
public enum ParameterScope: Sendable {
    /// One value for the whole tensor.
    case shared
    /// One value per input model, the base included.
    case input
    /// One value per input model other than the base.
    case nonBase
}

/// A resolved parameter value.
public enum ParameterValue: Equatable, Sendable, CustomStringConvertible {
    case bool(Bool)
    case int(Int)
    case float(Double)
    case none

    public var double: Double? {
        switch self {
        case .float(let d): return d
        case .int(let i): return Double(i)
        case .bool(let b): return b ? 1 : 0
        case .none: return nil
        }
    }

    public var description: String {
        switch self {
        case .bool(let b): return String(b)
        case .int(let i): return String(i)
        case .float(let d): return String(d)
        case .none: return "null"
        }
    }
}

public struct ParameterSpec: Sendable {
    public var name: String
    public var type: ParameterType
    public var scope: ParameterScope
    /// `nil`: the parameter is required.
    public var defaultValue: ParameterValue?

    public init(_ name: String, _ type: ParameterType, _ scope: ParameterScope = .shared, default defaultValue: ParameterValue? = nil) {
        self.name = name
        self.type = type
        self.scope = scope
        self.defaultValue = defaultValue
    }

    public var required: Bool { defaultValue == nil }

    /// Converts a scalar from the config to this parameter's type, as pydantic's lax mode does.
    func validate(_ value: ScalarValue) -> ParameterValue? {
        switch type {
        case .bool:
            switch value {
            case .bool(let b): return .bool(b)
            case .int(let i) where i == 0 || i == 1: return .bool(i == 1)
            case .double(let d) where d == 0 || d == 1: return .bool(d == 1)
            case .string(let s):
                switch s.lowercased() {
                case "true", "yes", "on", "1", "t", "y": return .bool(true)
                case "false", "no", "off", "0", "f", "n": return .bool(false)
                default: return nil
                }
            default: return nil
            }
        case .int:
            switch value {
            case .int(let i): return .int(i)
            case .double(let d) where d == d.rounded() && abs(d) < 1e15: return .int(Int(d))
            case .string(let s): return Int(s.trimmingCharacters(in: .whitespaces)).map { .int($0) }
            case .bool(let b): return .int(b ? 1 : 0)
            default: return nil
            }
        case .float, .optionalFloat:
            switch value {
            case .int(let i): return .float(Double(i))
            case .double(let d): return .float(d)
            case .bool(let b): return .float(b ? 1 : 0)
            case .string(let s): return Double(s.trimmingCharacters(in: .whitespaces)).map { .float($0) }
            case .null: return type == .optionalFloat ? ParameterValue.none : nil
            }
        }
    }

    var isNumeric: Bool { type == .int || type == .float || type == .optionalFloat }
}

/// Thrown for a value that cannot be read as the parameter's type.
struct ParameterTypeError: Error {
    var parameter: String
    var value: ScalarValue
    var expected: ParameterType
}

/// Resolves one setting for a tensor, as mergekit's `evaluate_setting`: filters are substrings of
/// the tensor name tried in order, gradients interpolate linearly at `t` (0 at a slice's first
/// layer, 1 at its last). `nil` when no filter matches.
func evaluate(_ setting: ParameterSetting, tensorName: String, t: Double, spec: ParameterSpec) throws -> ParameterValue? {
    func check(_ v: ScalarValue) throws -> ParameterValue {
        guard let out = spec.validate(v) else { throw ParameterTypeError(parameter: spec.name, value: v, expected: spec.type) }
        return out
    }
    switch setting {
    case .scalar(let v):
        return try check(v)
    case .gradient(let values):
        if values.isEmpty { return nil }
        let validated = try values.map(check)
        let numeric = validated.allSatisfy { if case .bool = $0 { return false }; if case .none = $0 { return false }; return true }
        if !numeric || !spec.isNumeric {
            return validated[Int(t * Double(validated.count - 1))]
        }
        let scaled = t * Double(values.count - 1)
        let i0 = Int(scaled)
        let i1 = min(values.count - 1, i0 + 1)
        let frac = scaled - Double(i0)
        let result = (1 - frac) * validated[i0].double! + frac * validated[i1].double!
        if spec.type == .int {
            // pydantic refuses a non-integral float for an int; mergekit would fail the same way.
            guard result == result.rounded() else {
                throw ParameterTypeError(parameter: spec.name, value: .double(result), expected: .int)
            }
            return .int(Int(result))
        }
        return .float(result)
    case .conditional(let entries):
        for entry in entries {
            if entry.filter == nil || entry.filter == "*" || (!tensorName.isEmpty && tensorName.contains(entry.filter!)) {
                return try evaluate(entry.value, tensorName: tensorName, t: t, spec: spec)
            }
        }
        return nil
    }
}

/// Resolves `spec` from settings listed from highest to lowest precedence.
func resolveParameter(_ spec: ParameterSpec, from scopes: [ParameterSettings?], tensorName: String, t: Double,
             model: ModelReference?, configPath: String) throws -> ParameterValue {
    for scope in scopes {
        guard let scope, let setting = scope[spec.name] else { continue }
        do {
            if let value = try evaluate(setting, tensorName: tensorName, t: t, spec: spec) { return value }
        } catch let e as ParameterTypeError {
            throw MixtureError.invalidConfig(path: configPath, field: "parameters.\(e.parameter)",
                                             reason: "\(e.value) is not a valid \(e.expected == .bool ? "boolean" : e.expected == .int ? "integer" : "number")")
        }
    }
    if let d = spec.defaultValue { return d }
    let location = model.map { "\($0.path): \(tensorName)" } ?? tensorName
    throw MixtureError.invalidConfig(path: configPath, field: "parameters.\(spec.name)",
                                     reason: "required parameter missing for \(location)")
}
