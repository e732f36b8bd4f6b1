import XCTest
import MixtureCore
@testable import MixtureFormats

/// Reading and writing safetensors, and one clear error for every kind of damaged file.
final class SafeTensorsTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("mixture-st-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func writeSample(_ name: String = "a.safetensors") throws -> URL {
        let url = directory.appendingPathComponent(name)
        try SafeTensorsWriter.write([
            .init(name: "w", floats: [1, 2, 3, 4, 5, 6], shape: [2, 3]),
            .init(name: "b", floats: [0.5, -0.25], shape: [2], dtype: .bfloat16),
        ], metadata: ["format": "pt"], to: url)
        return url
    }

    func expectError(_ url: URL, containing fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SafeTensorsFile(path: url.path), file: file, line: line) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains(fragment), "message '\(message)' should mention '\(fragment)'", file: file, line: line)
            XCTAssertTrue(message.contains(url.path), "message '\(message)' should name the file", file: file, line: line)
            XCTAssertFalse(message.contains("\n"), "one line", file: file, line: line)
        }
    }

    func testWrittenFileReadsBackWithShapesDtypesAndValues() throws {
        let file = try SafeTensorsFile(path: try writeSample().path)
        XCTAssertEqual(file.metadata, ["format": "pt"])
        XCTAssertEqual(file.tensors["w"]?.shape, [2, 3])
        XCTAssertEqual(file.tensors["b"]?.dtype, .BF16)
        XCTAssertEqual(try file.tensor("w")!.floats(), [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(try file.tensor("b")!.floats(), [0.5, -0.25])
        let m = try file.tensor("w")!.matrix()
        XCTAssertEqual(m[1, 2], 6)
    }

    func testHeaderIsPaddedToEightBytes() throws {
        let data = try Data(contentsOf: try writeSample())
        let length = data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        XCTAssertEqual(length % 8, 0)
    }

    func testTruncatedFileIsRejected() throws {
        let url = try writeSample()
        let data = try Data(contentsOf: url)
        try data.prefix(data.count - 3).write(to: url)
        expectError(url, containing: "truncated")
    }

    func testTruncatedHeaderIsRejected() throws {
        let url = try writeSample()
        try Data(try Data(contentsOf: url).prefix(20)).write(to: url)
        expectError(url, containing: "truncated")
    }

    func testTinyFileIsRejected() throws {
        let url = directory.appendingPathComponent("tiny.safetensors")
        try Data([1, 2, 3]).write(to: url)
        expectError(url, containing: "too short")
    }

    func testCorruptHeaderJSONIsRejected() throws {
        let url = try writeSample()
        var data = try Data(contentsOf: url)
        data[9] = UInt8(ascii: "#")
        try data.write(to: url)
        expectError(url, containing: "not valid JSON")
    }

    func testImplausibleHeaderLengthIsRejected() throws {
        let url = directory.appendingPathComponent("huge.safetensors")
        var data = Data(repeating: 0xFF, count: 8)
        data.append(Data("{}".utf8))
        try data.write(to: url)
        expectError(url, containing: "header length")
    }

    func testOffsetsThatDisagreeWithTheShapeAreRejected() throws {
        let url = directory.appendingPathComponent("bad.safetensors")
        try rawFile(header: #"{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}}"#, dataBytes: 20, url: url)
        expectError(url, containing: "needs 24")
    }

    func testOverlappingTensorsAreRejected() throws {
        let url = directory.appendingPathComponent("overlap.safetensors")
        try rawFile(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                    dataBytes: 12, url: url)
        expectError(url, containing: "overlapping")
    }

    func testUnknownDTypeIsRejected() throws {
        let url = directory.appendingPathComponent("dtype.safetensors")
        try rawFile(header: #"{"a":{"dtype":"F12","shape":[2],"data_offsets":[0,8]}}"#, dataBytes: 8, url: url)
        expectError(url, containing: "unknown dtype 'F12'")
    }

    func testNegativeShapeIsRejected() throws {
        let url = directory.appendingPathComponent("shape.safetensors")
        try rawFile(header: #"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, dataBytes: 8, url: url)
        expectError(url, containing: "invalid shape")
    }

    func testNonFloatTensorCannotBeUsedAsWeights() throws {
        let url = directory.appendingPathComponent("ints.safetensors")
        try rawFile(header: #"{"a":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}}"#, dataBytes: 8, url: url)
        let file = try SafeTensorsFile(path: url.path)
        XCTAssertThrowsError(try file.tensor("a")!.matrix()) { XCTAssertTrue("\($0)".contains("F32, F16 or BF16")) }
    }

    func rawFile(header: String, dataBytes: Int, url: URL) throws {
        var length = UInt64(header.utf8.count).littleEndian
        var data = Data(bytes: &length, count: 8)
        data.append(Data(header.utf8))
        data.append(Data(repeating: 0, count: dataBytes))
        try data.write(to: url)
    }
}
