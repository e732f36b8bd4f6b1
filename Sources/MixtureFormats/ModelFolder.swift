import Foundation
import MixtureCore

/// A Hugging Face model folder: `config.json` plus `model.safetensors`, or shards listed in
/// `model.safetensors.index.json`. All shards are memory-mapped and validated on open.
public final class ModelFolder: @unchecked Sendable {
    public let url: URL
    public let configURL: URL
    /// `config.json` as raw JSON.
    public let configData: Data
    public let files: [SafeTensorsFile]
    private let location: [String: Int]

    public init(url: URL, residency: Residency = .mapped) throws {
        self.url = url
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw MixtureError.missingFile(path: url.path, reason: "model folder does not exist")
        }
        guard isDirectory.boolValue else {
            throw MixtureError.invalidFile(path: url.path, reason: "expected a model folder (config.json + *.safetensors), found a file")
        }
        configURL = url.appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: configURL.path) else {
            throw MixtureError.missingFile(path: configURL.path, reason: "missing (every model folder needs a config.json)")
        }
        configData = data

        let indexURL = url.appendingPathComponent("model.safetensors.index.json")
        let singleURL = url.appendingPathComponent("model.safetensors")
        var shardNames: [String] = []
        var expectedLocation: [String: String] = [:]
        if FileManager.default.fileExists(atPath: indexURL.path) {
            guard let indexData = FileManager.default.contents(atPath: indexURL.path),
                  let index = try? JSONSerialization.jsonObject(with: indexData) as? [String: Any] else {
                throw MixtureError.invalidFile(path: indexURL.path, reason: "not a valid JSON object")
            }
            guard let weightMap = index["weight_map"] as? [String: Any] else {
                throw MixtureError.invalidFile(path: indexURL.path, reason: "missing object 'weight_map'")
            }
            for (name, value) in weightMap {
                guard let file = value as? String, !file.hasPrefix("/"), !file.split(separator: "/").contains("..") else {
                    throw MixtureError.invalidFile(path: indexURL.path, reason: "weight_map entry '\(name)' is not a file name")
                }
                expectedLocation[name] = file
            }
            shardNames = Array(Set(expectedLocation.values)).sorted()
            for shard in shardNames where !FileManager.default.fileExists(atPath: url.appendingPathComponent(shard).path) {
                throw MixtureError.missingFile(path: url.appendingPathComponent(shard).path,
                                               reason: "shard listed in model.safetensors.index.json is missing")
            }
        } else if FileManager.default.fileExists(atPath: singleURL.path) {
            shardNames = ["model.safetensors"]
        } else {
            throw MixtureError.missingFile(path: url.path, reason: "no model.safetensors or model.safetensors.index.json in the folder")
        }

        var files: [SafeTensorsFile] = []
        var location: [String: Int] = [:]
        for (i, shard) in shardNames.enumerated() {
            let file = try SafeTensorsFile(path: url.appendingPathComponent(shard).path, residency: residency)
            for name in file.tensors.keys {
                if let previous = location[name] {
                    throw MixtureError.invalidFile(path: file.path, reason: "tensor '\(name)' also appears in \(files[previous].path)")
                }
                location[name] = i
            }
            files.append(file)
        }
        for (name, shard) in expectedLocation {
            guard let i = location[name], shardNames[i] == shard else {
                throw MixtureError.invalidFile(path: indexURL.path, reason: "weight_map places '\(name)' in \(shard), but that shard does not hold it")
            }
        }
        self.files = files
        self.location = location
    }

    public var tensorNames: [String] { Array(location.keys) }

    public func tensor(_ name: String) -> TensorView? {
        guard let i = location[name] else { return nil }
        return files[i].tensor(name)
    }

    /// Drops a tensor's mapped pages from the resident set once it has been read.
    public func release(_ name: String) {
        guard let i = location[name], let info = files[i].tensors[name] else { return }
        files[i].release(info)
    }

    /// Total bytes of all mapped shards.
    public var mappedBytes: Int { files.reduce(0) { $0 + $1.mappedBytes } }
}
