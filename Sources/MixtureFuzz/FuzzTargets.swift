import Foundation
import MixtureCore
import MixtureEmbeddings
import MixtureFormats
import MixtureMerge
import MixtureModels
import MixtureTokenizers

/// The parsers that read files from strangers, each as a function of raw bytes. A target returns
/// normally for any input: errors are the expected answer to bad input. It traps only on what the
/// robustness rules forbid: a crash, or an error message longer than one line. `mixture-fuzz` runs
/// them under libFuzzer (`Scripts/fuzz.sh`); the tests replay the seeds and every past finding.
public enum FuzzTargets {
    public static let all: [String: @Sendable (UnsafeRawBufferPointer) -> Void] = [
        "safetensors": { safetensorsHeader($0) },
        "config": { modelConfig($0) },
        "tokenizer": { tokenizer($0) },
        "merge-yaml": { mergeConfig($0) },
        "adapter-config": { adapterConfig($0) },
        "jsonl": { jsonLine($0) },
        "gguf": { gguf($0) },
    ]

    public static var names: [String] { all.keys.sorted() }

    /// Errors are the expected outcome; one that spans lines breaks the one-line rule.
    static func expectingErrors(_ body: () throws -> Void) {
        do {
            try body()
        } catch {
            let message = "\(error)"
            if message.contains("\n") { fatalError("an error message spans several lines: \(message.debugDescription)") }
        }
    }

    /// A whole `.safetensors` file: length, JSON header, entries, offsets against the data section.
    public static func safetensorsHeader(_ bytes: UnsafeRawBufferPointer) {
        expectingErrors {
            let header = try SafeTensorsFile.parseHeader(bytes, path: "fuzz.safetensors")
            // Every accepted entry must lie inside the data it was checked against.
            for info in header.tensors.values {
                precondition(info.dataRange.lowerBound >= 0 && header.dataStart + info.dataRange.upperBound <= bytes.count)
            }
        }
    }

    /// `config.json` → the decoder's architecture description, and the encoder's.
    public static func modelConfig(_ bytes: UnsafeRawBufferPointer) {
        let data = Data(bytes)
        expectingErrors {
            let config = try JSONConfig(data: data, path: "config.json")
            expectingErrors { _ = try ArchitectureDescription(config: config) }
            expectingErrors { _ = try EncoderDescription(config: config) }
        }
    }

    static let sampleTexts = ["Hello, world! It's 2026.", "  leading spaces\tand\ttabs\n", "ünïcödé 你好 🤖 مرحبا",
                              "<s>[CLS] special <|endoftext|></s>", "", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]

    /// `tokenizer.json`: load, then encode sample texts and decode what comes out.
    public static func tokenizer(_ bytes: UnsafeRawBufferPointer) {
        let data = Data(bytes)
        expectingErrors {
            let tokenizer = try Tokenizer(tokenizerJSON: data)
            for text in sampleTexts {
                expectingErrors {
                    let ids = try tokenizer.encode(text)
                    _ = tokenizer.decode(ids, skipSpecialTokens: false)
                }
            }
            _ = tokenizer.decode(Array(0..<64))
        }
    }

    /// A mergekit YAML config.
    public static func mergeConfig(_ bytes: UnsafeRawBufferPointer) {
        let text = String(decoding: bytes, as: UTF8.self)
        expectingErrors { _ = try MergeConfigParser.parse(text, path: "config.yml") }
    }

    /// A PEFT `adapter_config.json`.
    public static func adapterConfig(_ bytes: UnsafeRawBufferPointer) {
        let data = Data(bytes)
        expectingErrors { _ = try LoRA.AdapterConfig(data: data, url: URL(fileURLWithPath: "adapter_config.json")) }
    }

    /// A whole GGUF file: header, metadata, tensor infos; then every accepted tensor is dequantized and
    /// the tokenizer in the metadata (if any) is built and run.
    public static func gguf(_ bytes: UnsafeRawBufferPointer) {
        expectingErrors {
            let header = try GGUFFile.parse(bytes, path: "fuzz.gguf")
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 1 << 16)
            defer { scratch.deallocate() }
            for tensor in header.tensors {
                precondition(tensor.offset >= header.dataStart && tensor.offset + tensor.byteCount <= bytes.count)
                let (perBlock, blockBytes) = tensor.type.blockGeometry
                // Dequantize at most the first 64k elements: enough to touch every block layout.
                let blocks = min(tensor.byteCount / blockBytes, (1 << 16) / perBlock)
                tensor.type.dequantize(bytes.baseAddress! + tensor.offset, count: blocks * perBlock, into: scratch)
            }
            // The tokenizer in the metadata, when there is one: built, then run both ways.
            if header.metadata["tokenizer.ggml.model"] != nil {
                let tokenizer = try GGUFTokenizer.load(metadata: header.metadata, path: "fuzz.gguf")
                let ids = try tokenizer.encode("Hello wörld 123 <s>\n\t🦙!")
                _ = tokenizer.decode(ids + [0, 1, 2, 3])
            }
        }
    }

    /// One JSON Lines record, as the commands reading standard input parse it.
    public static func jsonLine(_ bytes: UnsafeRawBufferPointer) {
        let line = [UInt8](bytes)
        expectingErrors { _ = try JSONLinesReader.parse(line: line, number: 1) }
    }
}
