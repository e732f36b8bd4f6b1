import ArgumentParser
import Foundation
import MixtureModels

struct Logits: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the logits of every input position as JSON: {\"logits\": [[...], ...]}.")

    @OptionGroup var options: ModelOptions

    @Option(name: .long, help: "Comma-separated token ids, e.g. 1,2,3.")
    var ids: String

    func run() throws {
        try options.applyThreads()
        let tokens = try parseIDs(ids)
        let model = try TransformerModel.load(from: options.url, residency: options.residency)
        let rows = try model.forward(tokens, cache: model.makeCache(capacity: tokens.count), logits: .all)
        var out = "{\"logits\": ["
        for (i, row) in rows.enumerated() {
            if i > 0 { out += ", " }
            out += "[" + row.map(jsonNumber).joined(separator: ", ") + "]"
        }
        out += "]}\n"
        FileHandle.standardOutput.write(Data(out.utf8))
    }
}
