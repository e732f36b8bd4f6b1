import ArgumentParser
import Foundation
import MixtureCore

/// Options of the commands that write a model or adapter folder (merge, extract-lora, apply-lora).
struct FolderWriterOptions: ParsableArguments {
    @Flag(name: .long, help: "Replace the output folder if it exists and is not empty.")
    var force = false

    @Option(name: .long, help: "Worker threads (default: all cores).")
    var threads: Int?

    @Flag(name: .long, help: "No progress bar.")
    var quiet = false

    func validate() throws {
        if let t = threads, t < 1 { throw ValidationError("--threads must be at least 1") }
    }

    /// Sets the kernel thread count and returns the progress bar (silent with --quiet or off a terminal).
    func start(label: String, unit: String) -> ProgressBar {
        if let t = threads { Parallel.threadCount = t }
        return ProgressBar(label: label, unit: unit, enabled: !quiet)
    }
}

/// A one-line progress bar on a terminal's stderr (nothing when stderr is not a terminal).
final class ProgressBar {
    let label: String
    let unit: String
    let enabled: Bool
    let start = Date()
    var lastDraw = Date.distantPast
    var drawn = false

    init(label: String, unit: String = "", enabled: Bool = true) {
        self.unit = unit.isEmpty ? "" : " " + unit
        self.label = label
        self.enabled = enabled && isatty(2) != 0
    }

    func update(_ done: Int, of total: Int) {
        guard enabled else { return }
        let now = Date()
        guard done == total || now.timeIntervalSince(lastDraw) > 0.1 else { return }
        lastDraw = now
        let width = 30
        let filled = total > 0 ? width * done / total : width
        let elapsed = now.timeIntervalSince(start)
        let eta = done > 0 ? elapsed * Double(total - done) / Double(done) : 0
        let line = "\r\(label) [\(String(repeating: "#", count: filled))\(String(repeating: " ", count: width - filled))] \(done)/\(total)\(unit)  \(String(format: "%.0f", elapsed)) s elapsed, ~\(String(format: "%.0f", eta)) s left "
        FileHandle.standardError.write(Data(line.utf8))
        drawn = true
    }

    func finish() {
        if drawn { FileHandle.standardError.write(Data("\n".utf8)); drawn = false }
    }
}
