import Foundation
import MixtureFuzz

// Built two ways. With `-D MIXTURE_LIBFUZZER -sanitize=fuzzer,address` (Scripts/fuzz.sh) this is a
// libFuzzer binary for the target named by MIXTURE_FUZZ_TARGET. Otherwise it replays inputs:
// `mixture-fuzz TARGET FILE_OR_FOLDER...`, which is how a finding is reproduced outside the fuzzer,
// and `mixture-fuzz --list-seeds TARGET PACKAGE_ROOT` lists a target's seed files.

#if MIXTURE_LIBFUZZER
import CMixtureSupport

nonisolated(unsafe) var selectedTarget: ((UnsafeRawBufferPointer) -> Void)?

@main
enum Fuzz {
    static func main() {
        let name = ProcessInfo.processInfo.environment["MIXTURE_FUZZ_TARGET"] ?? ""
        guard let target = FuzzTargets.all[name] else {
            FileHandle.standardError.write(Data("set MIXTURE_FUZZ_TARGET to one of: \(FuzzTargets.names.joined(separator: ", "))\n".utf8))
            exit(2)
        }
        selectedTarget = target
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
            selectedTarget?(UnsafeRawBufferPointer(start: data, count: size))
            return 0
        })
    }
}
#else
@main
enum Replay {
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        if arguments.first == "--list-seeds", arguments.count == 3 {
            // Scripts/fuzz.sh builds a target's starting corpus from this list.
            let root = URL(fileURLWithPath: arguments.last!)
            for file in FuzzTargets.seedFiles(for: arguments.dropFirst().first!, packageRoot: root) { print(file.path) }
            return
        }
        guard let name = arguments.first, let target = FuzzTargets.all[name] else {
            FileHandle.standardError.write(Data("usage: mixture-fuzz TARGET FILE_OR_FOLDER... (targets: \(FuzzTargets.names.joined(separator: ", ")))\n".utf8))
            exit(2)
        }
        var count = 0
        for path in arguments.dropFirst() {
            for file in FuzzInputs.files(at: URL(fileURLWithPath: path)) {
                guard let data = FileManager.default.contents(atPath: file.path) else { continue }
                data.withUnsafeBytes { target($0) }
                count += 1
            }
        }
        print("\(name): \(count) input(s) ran without a crash")
    }
}
#endif
