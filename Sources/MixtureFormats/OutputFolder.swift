import CMixtureSupport
import Foundation
import MixtureCore

/// An output folder written under a temporary name beside it and renamed into place at the end, so
/// a kill at any moment leaves either the previous output or the complete new one at `url`, never
/// a partial one. A kill leaves at most a hidden `.NAME.partial-PID` beside it, which the next write
/// to the same output removes.
public struct OutputFolder {
    public let url: URL
    let temporary: URL
    let force: Bool

    /// Refuses an output that is an input, or that exists and is not empty (unless `force`).
    public static func check(_ url: URL, force: Bool, inputs: [URL]) throws {
        let target = url.standardizedFileURL.resolvingSymlinksInPath().path
        for input in inputs {
            let path = input.standardizedFileURL.resolvingSymlinksInPath().path
            if target == path || path.hasPrefix(target + "/") {
                throw MixtureError.invalidArgument("\(url.path): the output folder must not be (or contain) the input \(input.path)")
            }
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else { return }
        if force { return }
        if !isDirectory.boolValue {
            throw MixtureError.invalidArgument("\(url.path): exists and is a file (use --force to replace it)")
        }
        let contents = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        if !contents.isEmpty {
            throw MixtureError.invalidArgument("\(url.path): output folder exists and is not empty (use --force to replace it)")
        }
    }

    public init(_ url: URL, force: Bool) throws {
        self.url = url
        self.force = force
        let parent = url.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        } catch {
            throw MixtureError.invalidArgument("\(url.path): cannot create the output folder (\(error.localizedDescription))")
        }
        temporary = parent.appendingPathComponent(".\(url.lastPathComponent).partial-\(ProcessInfo.processInfo.processIdentifier)")
        Self.removeLeftovers(of: url)
    }

    /// Partial and set-aside folders of earlier writes whose process is gone (killed, or a power cut).
    /// An output missing its folder while a set-aside copy survives (a kill between the two renames
    /// where the filesystem cannot swap in one step) gets that copy back.
    static func removeLeftovers(of url: URL) {
        let fm = FileManager.default
        let parent = url.deletingLastPathComponent()
        guard let names = try? fm.contentsOfDirectory(atPath: parent.path) else { return }
        for name in names {
            for kind in ["partial", "old"] {
                let prefix = ".\(url.lastPathComponent).\(kind)-"
                guard name.hasPrefix(prefix), let pid = Int32(name.dropFirst(prefix.count)),
                      pid != ProcessInfo.processInfo.processIdentifier, kill(pid, 0) != 0, errno == ESRCH else { continue }
                let leftover = parent.appendingPathComponent(name)
                if kind == "old" && !fm.fileExists(atPath: url.path) {
                    try? fm.moveItem(at: leftover, to: url)
                } else {
                    try? fm.removeItem(at: leftover)
                }
            }
        }
    }

    /// Runs `body` with the temporary folder, then moves it into place; removes it on failure.
    public func write(_ body: (URL) throws -> Void) throws {
        let fm = FileManager.default
        do {
            if fm.fileExists(atPath: temporary.path) { try fm.removeItem(at: temporary) }
            try fm.createDirectory(at: temporary, withIntermediateDirectories: false)
            try body(temporary)
            // Checked again: something may have appeared meanwhile.
            try Self.check(url, force: force, inputs: [])
            try replace(with: temporary)
        } catch {
            try? fm.removeItem(at: temporary)
            if let e = error as? MixtureError { throw e }
            throw MixtureError.invalidFile(path: url.path, reason: "cannot write: \(error.localizedDescription)")
        }
    }

    /// Moves `temporary` to the output; an existing output is set aside first and deleted only
    /// once the new one is in place.
    private func replace(with temporary: URL) throws {
        let fm = FileManager.default
        guard fm.fileExists(atPath: url.path) else {
            try fm.moveItem(at: temporary, to: url)
            return
        }
        // One atomic swap where the filesystem can; the old output then sits at the temporary path.
        if mixture_exchange_paths(temporary.path, url.path) == 0 {
            try? fm.removeItem(at: temporary)
            return
        }
        let old = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).old-\(ProcessInfo.processInfo.processIdentifier)")
        try? fm.removeItem(at: old)
        try fm.moveItem(at: url, to: old)
        do { try fm.moveItem(at: temporary, to: url) } catch {
            try? fm.moveItem(at: old, to: url)
            throw error
        }
        try? fm.removeItem(at: old)
    }
}

/// JSON as the model-folder files are written: pretty, sorted keys, slashes unescaped.
public func prettyJSON(_ object: Any) throws -> Data {
    try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
}
