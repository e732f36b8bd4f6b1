import Foundation

/// What one MoE layer decided for one token.
public struct RoutingEvent: Sendable {
    public let layer: Int
    /// Absolute position of the token in the sequence.
    public let position: Int
    /// Raw router scores, one per expert.
    public let routerLogits: [Float]
    /// Router probabilities over all experts (softmax of the logits).
    public let probabilities: [Float]
    /// Chosen experts, highest probability first.
    public let experts: [Int]
    /// The weight each chosen expert's output is multiplied by.
    public let weights: [Float]
}

/// Receives every routing decision of a forward pass, layer by layer, token by token.
public protocol RoutingObserver: AnyObject {
    func record(_ event: RoutingEvent)
}

/// Keeps every event (for tests, tracing, export).
public final class RoutingTrace: RoutingObserver {
    public private(set) var events: [RoutingEvent] = []
    public init() {}
    public func record(_ event: RoutingEvent) { events.append(event) }
}

/// Counts, per MoE layer, how many tokens each expert received.
public final class RoutingStatistics: RoutingObserver {
    public let expertCount: Int
    /// `counts[layer][expert]`; only MoE layers have entries.
    public private(set) var counts: [Int: [Int]] = [:]
    public private(set) var tokens: [Int: Int] = [:]

    public init(expertCount: Int) { self.expertCount = expertCount }

    public func record(_ event: RoutingEvent) {
        var row = counts[event.layer] ?? [Int](repeating: 0, count: expertCount)
        for e in event.experts { row[e] += 1 }
        counts[event.layer] = row
        tokens[event.layer, default: 0] += 1
    }

    /// Fraction of routed slots that went to each expert, per layer.
    public func load(layer: Int) -> [Double] {
        guard let row = counts[layer] else { return [] }
        let total = max(1, row.reduce(0, +))
        return row.map { Double($0) / Double(total) }
    }

    /// A human-readable table: per layer, tokens routed, the busiest experts, and the load imbalance
    /// (max load ÷ mean load; 1.0 is perfectly even).
    public func summary(top: Int = 4) -> String {
        var lines = ["routing: expert load per MoE layer (share of routed slots)"]
        for layer in counts.keys.sorted() {
            let load = self.load(layer: layer)
            let busiest = load.enumerated().sorted { $0.element > $1.element }.prefix(top)
                .map { "e\($0.offset) \(String(format: "%.1f%%", $0.element * 100))" }.joined(separator: ", ")
            let mean = 1.0 / Double(max(1, expertCount))
            let imbalance = (load.max() ?? 0) / mean
            let used = (counts[layer] ?? []).filter { $0 > 0 }.count
            lines.append(String(format: "  layer %2d: %d tokens, %d/%d experts used, imbalance %.2f; busiest: %@",
                                layer, tokens[layer] ?? 0, used, expertCount, imbalance, busiest))
        }
        return lines.joined(separator: "\n")
    }

    /// JSON-friendly form: layer → per-expert counts.
    public var jsonObject: [String: [Int]] {
        Dictionary(uniqueKeysWithValues: counts.map { (String($0.key), $0.value) })
    }
}
