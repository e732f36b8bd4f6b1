import Foundation

public enum FuzzInputs {
    /// A file, or every regular file under a folder (sorted, recursively).
    public static func files(at url: URL) -> [URL] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else { return [] }
        guard isDirectory.boolValue else { return [url] }
        let enumerator = FileManager.default.enumerator(at: url, includingPropertiesForKeys: [.isRegularFileKey])
        var files: [URL] = []
        while let item = enumerator?.nextObject() as? URL {
            if (try? item.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true { files.append(item) }
        }
        return files.sorted { $0.path < $1.path }
    }
}

extension FuzzTargets {
    /// Where each target's seed inputs live, relative to the package root: hand-made seeds under
    /// `Fuzz/seeds/TARGET`, past findings under `Fuzz/regressions/TARGET` (each one a test), and the
    /// test fixtures of that format, so the corpus grows with the fixtures without copies.
    public static func seedFiles(for target: String, packageRoot root: URL) -> [URL] {
        let fixtures = root.appendingPathComponent("Tests/Fixtures")
        func matching(_ folder: String, _ fileName: String) -> [URL] {
            FuzzInputs.files(at: fixtures.appendingPathComponent(folder)).filter { $0.lastPathComponent == fileName }
        }
        var files = FuzzInputs.files(at: root.appendingPathComponent("Fuzz/seeds/\(target)"))
            + FuzzInputs.files(at: root.appendingPathComponent("Fuzz/regressions/\(target)"))
        switch target {
        case "config": files += matching("engine", "config.json") + matching("embeddings", "config.json")
        case "tokenizer": files += matching("tokenizers", "tokenizer.json")
        case "merge-yaml": files += matching("merge/cases", "config.yml")
        case "adapter-config": files += matching("lora", "adapter_config.json")
        case "gguf": files += FuzzInputs.files(at: fixtures.appendingPathComponent("gguf")).filter { $0.pathExtension == "gguf" }
        default: break
        }
        return files
    }
}
