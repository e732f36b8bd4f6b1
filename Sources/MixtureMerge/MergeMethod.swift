import Foundation
import MixtureCore
import MixtureFormats

/// One input's copy of the tensor being merged, widened to Float.
public struct MergeEntry: Sendable {
    /// Index of the model in the merge's model list (stable across tensors).
    public var model: Int
    public var isBase: Bool
    public var values: [Float]

    public init(model: Int, isBase: Bool, values: [Float]) {
        self.model = model
        self.isBase = isBase
        self.values = values
    }
}

/// The inputs that make one output tensor.
public struct TensorGroup: Sendable {
    public var name: String
    public var shape: [Int]
    public var entries: [MergeEntry]

    public init(name: String, shape: [Int], entries: [MergeEntry]) {
        self.name = name
        self.shape = shape
        self.entries = entries
    }

    public var base: MergeEntry? { entries.first(where: \.isBase) }
    public var nonBase: [MergeEntry] { entries.filter { !$0.isBase } }
    public var count: Int { shape.reduce(1, *) }
}

/// The precision mergekit computes in (the config's `dtype`, else the inputs' promoted dtype).
/// Values are Float here; `round` gives what storing one in the working dtype would give, so the
/// methods torch runs op by op in BF16/F16 can round where it does.
public enum WorkingPrecision: Sendable {
    case float32, bfloat16, float16

    @inline(__always)
    public func round(_ x: Float) -> Float {
        switch self {
        case .float32: return x
        case .bfloat16: return ScalarConversion.float(fromBFloat16: ScalarConversion.bfloat16Bits(from: x))
        case .float16: return Float(Float16(x))
        }
    }

    public var isReduced: Bool { self != .float32 }

    /// `round` over a buffer, eight lanes at a time.
    public func round(_ p: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .float32: return
        case .bfloat16:
            var i = 0
            while i + 8 <= count {
                let x = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(p + i).storeBytes(of: WorkingPrecision.roundBF16(x), as: SIMD8<Float>.self)
                i += 8
            }
            while i < count { p[i] = round(p[i]); i += 1 }
        case .float16:
            for i in 0..<count { p[i] = Float(Float16(p[i])) }
        }
    }

    /// Round to nearest even at 16 bits, NaN kept NaN.
    @inline(__always)
    static func roundBF16(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let bits = unsafeBitCast(x, to: SIMD8<UInt32>.self)
        let rounded = (bits &+ (((bits &>> 16) & 1) &+ 0x7FFF)) & 0xFFFF_0000
        return unsafeBitCast(rounded, to: SIMD8<Float>.self).replacing(with: x, where: x .!= x)
    }

    /// Rounds a whole array, split over the worker threads.
    public func round(_ values: inout [Float]) {
        guard isReduced else { return }
        values.withUnsafeMutableBufferPointer { b in
            let p = b.baseAddress!
            Parallel.forRanges(b.count, alignment: 16, minimumPerThread: 1 << 16) { r in self.round(p + r.lowerBound, count: r.count) }
        }
    }

    init(_ dtype: SafeTensorsDType) {
        switch dtype {
        case .BF16: self = .bfloat16
        case .F16: self = .float16
        default: self = .float32
        }
    }
}

/// Resolved parameters for one tensor.
public struct MethodArguments: Sendable {
    public var shared: [String: ParameterValue]
    /// Per-input values, keyed by `MergeEntry.model`.
    public var perInput: [Int: [String: ParameterValue]]
    /// Seed for the random masks of this tensor (derived from `--seed` and the tensor name).
    public var seed: UInt64
    public var precision: WorkingPrecision

    public init(shared: [String: ParameterValue] = [:], perInput: [Int: [String: ParameterValue]] = [:], seed: UInt64 = 0,
                precision: WorkingPrecision = .float32) {
        self.shared = shared
        self.perInput = perInput
        self.seed = seed
        self.precision = precision
    }

    public func double(_ name: String) -> Double { shared[name]?.double ?? .nan }
    public func bool(_ name: String) -> Bool { if case .bool(let b)? = shared[name] { return b }; return false }
    public func int(_ name: String) -> Int { if case .int(let i)? = shared[name] { return i }; return Int(double(name)) }
    public func double(_ name: String, for model: Int) -> Double { perInput[model]?[name]?.double ?? .nan }
    public func value(_ name: String, for model: Int) -> ParameterValue { perInput[model]?[name] ?? ParameterValue.none }
}

/// How a method treats the base model (mergekit's BasePolicy).
public enum BasePolicy: Sendable { case required, optional, ignored }

/// What happens when an optional tensor (a tied `lm_head`) is missing from some inputs.
public enum OptionalTensorPolicy: Sendable { case error, passthroughSingleton, passthroughBaseSingleton, baseOrSkip }

/// A merge method: its parameters, what inputs it accepts, and one pure function per tensor.
public struct MergeMethod: Sendable {
    public typealias Kernel = @Sendable (TensorGroup, MethodArguments) throws -> [Float]

    public var name: String
    public var parameters: [ParameterSpec]
    public var base: BasePolicy = .ignored
    public var minInputs = 1
    public var maxInputs: Int?
    public var minNonBase: Int?
    public var maxNonBase: Int?
    public var optionalTensors: OptionalTensorPolicy = .error
    /// Uses random numbers (`--seed` makes it reproducible).
    public var stochastic = false
    /// torch promotes the result to float32 (a float32 mask or factor meets the working-dtype
    /// tensors), so with a BF16/F16 working dtype the output is float32 unless out_dtype says
    /// otherwise.
    public var float32Result = false
    public var kernel: Kernel

    /// Checks the input counts and base, as mergekit's InputContract.
    func validateInputs(count: Int, hasBase: Bool, baseNamed: Bool, context: String) throws {
        let hasBase = base == .ignored ? false : hasBase
        if base == .required && !hasBase {
            throw MixtureError.invalidArgument("\(context): merge method '\(name)' needs a base_model" + (baseNamed ? " among its inputs" : ""))
        }
        let nonBase = count - (hasBase ? 1 : 0)
        func check(_ what: String, _ n: Int, _ lo: Int, _ hi: Int?) throws {
            if n < lo { throw MixtureError.invalidArgument("\(context): merge method '\(name)' needs at least \(lo) \(what); got \(n)") }
            if let hi, n > hi {
                throw MixtureError.invalidArgument("\(context): merge method '\(name)' takes \(lo == hi ? "exactly \(lo)" : "at most \(hi)") \(what); got \(n)")
            }
        }
        try check("input models", count, minInputs, maxInputs)
        if minNonBase != nil || maxNonBase != nil {
            try check("non-base models", nonBase, minNonBase ?? 0, maxNonBase)
        }
    }
}

/// The methods `mixture merge` knows, by name.
public enum MergeMethods {
    public static let all: [MergeMethod] = [
        linearMethod,
        gta("task_arithmetic", sparsification: nil, consensus: false, normalize: false, rescale: false),
        gta("ties", sparsification: .magnitude, consensus: true, normalize: true, rescale: false),
        gta("dare_ties", sparsification: .random, consensus: true, normalize: false, rescale: true),
        gta("dare_linear", sparsification: .random, consensus: false, normalize: false, rescale: true),
        gta("breadcrumbs", sparsification: .magnitudeOutliers, consensus: false, normalize: false, rescale: false),
        gta("breadcrumbs_ties", sparsification: .magnitudeOutliers, consensus: true, normalize: false, rescale: false),
        gta("della", sparsification: .dellaMagprune, consensus: true, normalize: true, rescale: true),
        gta("della_linear", sparsification: .dellaMagprune, consensus: false, normalize: false, rescale: true),
        slerpMethod, nuslerpMethod, multislerpMethod, karcherMethod,
        modelStockMethod, nearswapMethod, sceMethod, passthroughMethod,
        arceeFusionMethod, ramMethod, ramplusMethod,
    ]

    public static func named(_ name: String) -> MergeMethod? { all.first { $0.name == name } }

    public static var names: [String] { all.map(\.name) }

    /// Every parameter name any method reads (to tell a typo from a parameter of another method).
    public static var allParameterNames: Set<String> { Set(all.flatMap { $0.parameters.map(\.name) }) }
}
