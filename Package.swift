// swift-tools-version:6.0
import PackageDescription

// Hot kernels need the host's SIMD units (AVX2/FMA/F16C here): without a target CPU, Float16
// conversions become library calls and vector loops stay SSE-wide.
let kernelFlags: [SwiftSetting] = [
    .unsafeFlags(["-target-cpu", "native"]),
    .swiftLanguageMode(.v5),
]

let package = Package(
    name: "Mixture",
    products: [
        .library(name: "Mixture", targets: ["MixtureCore", "MixtureFormats", "MixtureTokenizers", "MixtureModels", "MixtureEmbeddings", "MixtureMerge"]),
        .executable(name: "mixture", targets: ["mixture"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: [
        .target(name: "CMixtureSupport"),
        // Integer dot products on quantized weights, in C because they need vpdpbusd / vpmaddubsw.
        .target(name: "CMixtureKernels", cSettings: [.unsafeFlags(["-O3", "-march=native"])]),
        // Kernels are optimised even in debug builds: the test suite runs real models through them.
        .target(name: "MixtureCore", dependencies: ["CMixtureSupport", "CMixtureKernels"],
                swiftSettings: kernelFlags + [.unsafeFlags(["-O"], .when(configuration: .debug))]),
        .target(name: "MixtureFormats", dependencies: ["CMixtureSupport", "MixtureCore"], swiftSettings: kernelFlags),
        .target(name: "MixtureTokenizers", dependencies: ["MixtureCore", "MixtureFormats"], swiftSettings: kernelFlags),
        .target(name: "MixtureModels", dependencies: ["MixtureCore", "MixtureFormats"], swiftSettings: kernelFlags),
        .target(name: "MixtureEmbeddings", dependencies: ["MixtureCore", "MixtureFormats", "MixtureTokenizers"],
                swiftSettings: kernelFlags),
        // Merging is element-wise work over every weight: optimised in debug builds too.
        .target(name: "MixtureMerge", dependencies: ["MixtureCore", "MixtureFormats", .product(name: "Yams", package: "Yams")],
                swiftSettings: kernelFlags + [.unsafeFlags(["-O"], .when(configuration: .debug))]),
        // Every parser of untrusted input as a function of bytes, and the libFuzzer / replay binary over them.
        .target(name: "MixtureFuzz", dependencies: ["MixtureCore", "MixtureFormats", "MixtureTokenizers", "MixtureModels",
                                                    "MixtureEmbeddings", "MixtureMerge"], swiftSettings: kernelFlags),
        .executableTarget(name: "mixture-fuzz", dependencies: ["MixtureFuzz", "CMixtureSupport"], swiftSettings: kernelFlags),
        .executableTarget(
            name: "mixture",
            dependencies: [
                "MixtureCore", "MixtureFormats", "MixtureTokenizers", "MixtureModels", "MixtureEmbeddings", "MixtureMerge",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: kernelFlags),
        .testTarget(name: "MixtureCoreTests", dependencies: ["MixtureCore"], swiftSettings: kernelFlags),
        .testTarget(name: "MixtureFormatsTests", dependencies: ["MixtureFormats", "MixtureCore"], swiftSettings: kernelFlags),
        .testTarget(name: "MixtureTokenizersTests", dependencies: ["MixtureTokenizers", "MixtureFormats"], swiftSettings: kernelFlags),
        .testTarget(name: "MixtureEmbeddingsTests", dependencies: ["MixtureEmbeddings", "MixtureTokenizers", "MixtureFormats", "MixtureCore"],
                    swiftSettings: kernelFlags),
        .testTarget(name: "MixtureCLITests", dependencies: ["mixture", "MixtureCore"], swiftSettings: kernelFlags),
        .testTarget(name: "MixtureMergeTests", dependencies: ["MixtureMerge", "MixtureFormats", "MixtureCore"],
                    swiftSettings: kernelFlags),
        .testTarget(name: "MixtureFuzzTests", dependencies: ["MixtureFuzz"], swiftSettings: kernelFlags),
        .testTarget(name: "MixtureModelsTests", dependencies: ["MixtureModels", "MixtureFormats", "MixtureCore"],
                    swiftSettings: kernelFlags),
    ]
)
