import Foundation
import XCTest
import MixtureCore
import MixtureFormats

/// The GGUF reader against gguf-py (Tests/Fixtures/gguf, made by Scripts/gen_gguf_fixtures.py), and
/// hostile files built byte by byte.
final class GGUFTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/gguf")

    func reference() throws -> [String: Any] {
        try JSONParser.parse(Data(contentsOf: Self.fixtures.appendingPathComponent("metadata.json"))) as! [String: Any]
    }

    func testMetadataOfEveryValueTypeReadsAsGGUFPyReadsIt() throws {
        let file = try GGUFFile(path: Self.fixtures.appendingPathComponent("blocks.gguf").path)
        XCTAssertEqual(file.header.version, 3)
        let expected = try reference()["metadata"] as! [String: [String: Any]]
        XCTAssertEqual(Set(file.metadata.keys), Set(expected.keys))
        XCTAssertEqual(file.header.keys.first, "general.architecture")
        func check(_ value: GGUFValue, _ types: ArraySlice<String>, _ json: Any, _ key: String) {
            switch (types.first!, value) {
            case ("UINT8", .uint8(let v)): XCTAssertEqual(Int(v), json as? Int, key)
            case ("INT8", .int8(let v)): XCTAssertEqual(Int(v), json as? Int, key)
            case ("UINT16", .uint16(let v)): XCTAssertEqual(Int(v), json as? Int, key)
            case ("INT16", .int16(let v)): XCTAssertEqual(Int(v), json as? Int, key)
            case ("UINT32", .uint32(let v)): XCTAssertEqual(Int(v), json as? Int, key)
            case ("INT32", .int32(let v)): XCTAssertEqual(Int(v), json as? Int, key)
            case ("UINT64", .uint64(let v)): XCTAssertEqual(v, 9_223_372_036_854_775_813, key)
            case ("INT64", .int64(let v)): XCTAssertEqual(Int(v), json as? Int, key)
            case ("FLOAT32", .float32(let v)): XCTAssertEqual(v, Float(json as! Double), key)
            case ("FLOAT64", .float64(let v)): XCTAssertEqual(v, json as? Double, key)
            case ("BOOL", .bool(let v)): XCTAssertEqual(v, json as? Bool, key)
            case ("STRING", .string(let v)): XCTAssertEqual(v, json as? String, key)
            case ("ARRAY", .array(var items)):
                guard let list = json as? [Any] else { return XCTFail("\(key): gguf-py read \(json)") }
                if types.dropFirst().first == "ARRAY" {
                    // gguf-py's contents() flattens an array of arrays.
                    XCTAssertEqual(items.map { $0.array?.count ?? -1 }, [2, 1, 3], key)
                    items = items.flatMap { $0.array ?? [] }
                }
                XCTAssertEqual(items.count, list.count, key)
                let itemTypes = types.drop { $0 == "ARRAY" }
                for (item, element) in zip(items, list) { check(item, itemTypes, element, key) }
            default: XCTFail("\(key): \(value) is not of type \(types)")
            }
        }
        for (key, entry) in expected {
            check(file.metadata[key]!, ArraySlice(entry["types"] as! [String]), entry["value"]!, key)
        }
        XCTAssertEqual(file.metadata["test.string"]?.string, "héllo\nwörld 🤖")
    }

    func testTensorInfosMatchGGUFPy() throws {
        let file = try GGUFFile(path: Self.fixtures.appendingPathComponent("blocks.gguf").path)
        let expected = try reference()["tensors"] as! [[String: Any]]
        XCTAssertEqual(file.tensors.count, expected.count)
        for (tensor, reference) in zip(file.tensors, expected) {
            XCTAssertEqual(tensor.name, reference["name"] as? String)
            XCTAssertEqual(tensor.type.description, reference["type"] as? String)
            XCTAssertEqual(tensor.dimensions, reference["dimensions"] as? [Int], tensor.name)
            XCTAssertEqual(tensor.offset, reference["offset"] as? Int, tensor.name)
            XCTAssertEqual(tensor.byteCount, reference["bytes"] as? Int, tensor.name)
            XCTAssertEqual(tensor.shape, [2, 512])
        }
    }

    func testEveryWeightTypeDequantizesBitForBitAsGGUFPy() throws {
        let file = try GGUFFile(path: Self.fixtures.appendingPathComponent("blocks.gguf").path)
        let expected = try SafeTensorsFile(path: Self.fixtures.appendingPathComponent("dequantized.safetensors").path)
        var types = Set<GGMLType>()
        for tensor in file.tensors {
            let ours = try file.floats(tensor)
            let reference = try expected.tensor(tensor.name)!.floats()
            XCTAssertEqual(ours.count, reference.count, tensor.name)
            let mismatches = zip(ours, reference).filter { $0.bitPattern != $1.bitPattern }.count
            XCTAssertEqual(mismatches, 0, "\(tensor.type): \(mismatches) of \(ours.count) values differ from gguf-py")
            types.insert(tensor.type)
        }
        XCTAssertEqual(types, Set(GGMLType.dequantizable), "every type the reader converts has a golden")
    }

    // MARK: - Hostile files

    /// Writes a GGUF file field by field, so each test can make one field lie.
    struct Builder {
        var bytes: [UInt8] = []
        mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        mutating func string(_ s: String, length: UInt64? = nil) { u64(length ?? UInt64(s.utf8.count)); bytes += Array(s.utf8) }
        mutating func header(version: UInt32 = 3, tensors: UInt64, keys: UInt64) {
            bytes += Array("GGUF".utf8)
            u32(version); u64(tensors); u64(keys)
        }
        mutating func tensor(_ name: String, dimensions: [UInt64], type: UInt32 = 0, offset: UInt64) {
            string(name); u32(UInt32(dimensions.count))
            for d in dimensions { u64(d) }
            u32(type); u64(offset)
        }
        mutating func align(_ alignment: Int = 32) { while bytes.count % alignment != 0 { bytes.append(0) } }
        mutating func data(_ count: Int) { bytes += [UInt8](repeating: 0, count: count) }
    }

    func parse(_ bytes: [UInt8]) throws -> GGUFFile.Header {
        try bytes.withUnsafeBytes { try GGUFFile.parse($0, path: "hostile.gguf") }
    }

    func assertRefused(_ bytes: [UInt8], _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try parse(bytes), file: file, line: line) { error in
            let message = "\(error)"
            XCTAssertTrue(message.hasPrefix("hostile.gguf: "), message, file: file, line: line)
            XCTAssertTrue(message.contains(fragment), "'\(message)' should mention '\(fragment)'", file: file, line: line)
            XCTAssertFalse(message.contains("\n"), file: file, line: line)
        }
    }

    func validFile() -> Builder {
        var b = Builder()
        b.header(tensors: 2, keys: 1)
        b.string("general.architecture"); b.u32(8); b.string("llama")
        b.tensor("a", dimensions: [4, 2], offset: 0)
        b.tensor("b", dimensions: [32], type: 8, offset: 32)
        b.align(); b.data(32); b.data(34)
        return b
    }

    func testAHandBuiltFileParses() throws {
        let header = try parse(validFile().bytes)
        XCTAssertEqual(header.tensors.map(\.name), ["a", "b"])
        XCTAssertEqual(header.tensors[1].type, .q8_0)
        XCTAssertEqual(header.tensors[1].byteCount, 34)
        var v2 = validFile()
        v2.bytes[4] = 2
        XCTAssertEqual(try parse(v2.bytes).version, 2)
    }

    func testEveryTruncationIsAnError() {
        let bytes = validFile().bytes
        for length in 0..<bytes.count {
            XCTAssertThrowsError(try parse(Array(bytes[..<length])), "truncated to \(length) bytes")
        }
        let real = (try? Data(contentsOf: Self.fixtures.appendingPathComponent("blocks.gguf"))).map { [UInt8]($0) } ?? []
        for length in stride(from: 0, to: real.count - 1, by: 7) {
            XCTAssertThrowsError(try parse(Array(real[..<length])), "blocks.gguf truncated to \(length) bytes")
        }
    }

    func testLyingHeadersAreOneLineErrors() {
        var b = Builder(); b.bytes = Array("GGML".utf8) + [0, 0, 0, 0]
        assertRefused(b.bytes, "not a GGUF file")
        b = Builder(); b.header(version: 1, tensors: 0, keys: 0)
        assertRefused(b.bytes, "version 1 is not supported")
        b = Builder(); b.header(version: 0x0300_0000, tensors: 0, keys: 0)
        assertRefused(b.bytes, "big-endian")
        b = Builder(); b.header(version: 4, tensors: 0, keys: 0)
        assertRefused(b.bytes, "version 4 is not supported")
        b = Builder(); b.header(tensors: 1 << 60, keys: 0)
        assertRefused(b.bytes, "claims 1152921504606846976 tensors")
        b = Builder(); b.header(tensors: 0, keys: UInt64.max)
        assertRefused(b.bytes, "metadata keys")
    }

    func testLyingMetadataIsAnError() {
        var b = Builder(); b.header(tensors: 0, keys: 1); b.string("k", length: 1 << 40)
        assertRefused(b.bytes, "runs past the end")
        b = Builder(); b.header(tensors: 0, keys: 1); b.string("k"); b.u32(99)
        assertRefused(b.bytes, "unknown value type 99")
        b = Builder(); b.header(tensors: 0, keys: 1); b.string("k"); b.u32(9); b.u32(4); b.u64(1 << 61)
        assertRefused(b.bytes, "an array of 2305843009213693952 items cannot fit")
        b = Builder(); b.header(tensors: 0, keys: 1); b.string("k"); b.u32(9); b.u32(42); b.u64(1)
        assertRefused(b.bytes, "unknown array item type 42")
        b = Builder(); b.header(tensors: 0, keys: 1); b.string("k")
        b.u32(9)
        for _ in 0..<20 { b.u32(9); b.u64(1) }
        b.data(64)
        assertRefused(b.bytes, "nested deeper than 8 levels")
        b = Builder(); b.header(tensors: 0, keys: 2)
        for _ in 0..<2 { b.string("k"); b.u32(4); b.u32(7) }
        assertRefused(b.bytes, "'k' appears twice")
        b = Builder(); b.header(tensors: 0, keys: 1); b.string("general.alignment"); b.u32(4); b.u32(24)
        assertRefused(b.bytes, "power of two")
    }

    func testLyingTensorInfosAreOneLineErrors() {
        func file(_ tensors: (inout Builder) -> Void, count: UInt64 = 1, data: Int = 64) -> [UInt8] {
            var b = Builder(); b.header(tensors: count, keys: 0); tensors(&b); b.align(); b.data(data)
            return b.bytes
        }
        assertRefused(file { $0.tensor("t", dimensions: [1 << 31, 1 << 31, 1 << 31], offset: 0) }, "impossibly large shape")
        assertRefused(file { $0.tensor("t", dimensions: [1 << 60], offset: 0) }, "needs 4611686018427387904 bytes")
        assertRefused(file { $0.tensor("t", dimensions: [1 << 62], offset: 0) }, "impossibly large shape")
        assertRefused(file { $0.tensor("t", dimensions: [1, 1, 1, 1, 1], offset: 0) }, "5 dimensions")
        assertRefused(file { $0.tensor("t", dimensions: [], offset: 0) }, "0 dimensions")
        assertRefused(file { $0.tensor("t", dimensions: [4], type: 77, offset: 0) }, "unknown ggml type 77")
        assertRefused(file { $0.tensor("t", dimensions: [48], type: 12, offset: 0) }, "not a multiple of Q4_K's block of 256")
        assertRefused(file { $0.tensor("t", dimensions: [64], offset: 0) }, "file is truncated: tensor 't' needs 256 bytes")
        assertRefused(file({ $0.tensor("t", dimensions: [4], offset: 0); $0.tensor("t", dimensions: [4], offset: 32) }, count: 2), "'t' appears twice")
        assertRefused(file({ $0.tensor("a", dimensions: [4], offset: 0); $0.tensor("b", dimensions: [4], offset: 16) }, count: 2),
                      "data offset 16, expected 32")
        assertRefused(file { $0.tensor("t", dimensions: [4], offset: 1 << 62) }, "data offset 4611686018427387904, expected 0")
    }
}

/// The kernels that read quantized rows in place, on the same gguf-py goldens: their vector
/// dequantizers give gguf-py's floats bit for bit, and their row · x products equal the products of
/// those floats (computed in Double) up to float summation order.
final class QuantizedKernelTests: XCTestCase {
    func testInPlaceRowsDequantizeAndMultiplyAsTheirFloats() throws {
        let fixtures = GGUFTests.fixtures
        let file = try GGUFFile(path: fixtures.appendingPathComponent("blocks.gguf").path)
        let expected = try SafeTensorsFile(path: fixtures.appendingPathComponent("dequantized.safetensors").path)
        var generator = SeededGenerator(seed: 7)
        var covered = Set<GGMLType>()
        for tensor in file.tensors where tensor.type.blockGeometry.elements > 1 {
            let columns = tensor.dimensions[0], rows = tensor.elementCount / columns
            let m = WeightMatrix(rows: rows, columns: columns, blocks: tensor.type, base: file.data(of: tensor))
            let reference = try expected.tensor(tensor.name)!.floats()
            let ours = m.toFloats()
            XCTAssertEqual(zip(ours, reference).filter { $0.bitPattern != $1.bitPattern }.count, 0, "\(tensor.type) dequantization")
            let x = (0..<columns).map { _ in Float.random(in: -1...1, using: &generator) }
            // (The fixture holds some non-finite values on purpose, e.g. MXFP4's NaN scale: their rows are skipped.)
            for r in 0..<rows where reference[(r * columns)..<((r + 1) * columns)].allSatisfy(\.isFinite) {
                var exact: Double = 0, magnitude: Double = 0
                for k in 0..<columns {
                    exact += Double(reference[r * columns + k]) * Double(x[k])
                    magnitude += abs(Double(reference[r * columns + k]) * Double(x[k]))
                }
                let dot = x.withUnsafeBufferPointer { m.dot(row: r, $0.baseAddress!) }
                XCTAssertEqual(Double(dot), exact, accuracy: 1e-5 * magnitude + 1e-6, "\(tensor.type) row \(r)")
                XCTAssertEqual(m[r, columns - 1], reference[r * columns + columns - 1], "\(tensor.type) element")
            }
            covered.insert(tensor.type)
        }
        XCTAssertTrue(QuantizedKernels.fused.isSubset(of: covered), "every fused kernel is checked")
    }

    /// Quantized weights without integer kernels through `Linear.run` for 1 token (matrix-vector), a
    /// few tokens (dot tiles) and many (outer-product panels), against the scalar reference on the
    /// dequantized floats (the integer kernels have their own test below).
    func testLinearOnQuantizedRowsMatchesTheReference() throws {
        let file = try GGUFFile(path: GGUFTests.fixtures.appendingPathComponent("blocks.gguf").path)
        var generator = SeededGenerator(seed: 11)
        var covered = 0
        for tensor in file.tensors where tensor.type.blockGeometry.elements > 1 && !QuantizedKernels.integer.contains(tensor.type) {
            guard try file.floats(tensor).allSatisfy(\.isFinite) else { continue }
            covered += 1
            let columns = tensor.dimensions[0], rows = tensor.elementCount / columns
            let m = WeightMatrix(rows: rows, columns: columns, blocks: tensor.type, base: file.data(of: tensor))
            for tokens in [1, 3, 30] {
                let x = (0..<tokens * columns).map { _ in Float.random(in: -1...1, using: &generator) }
                var y = [Float](repeating: 0, count: tokens * rows), expected = y
                x.withUnsafeBufferPointer { xp in
                    y.withUnsafeMutableBufferPointer { Linear.run(LinearJob(weight: m, input: xp.baseAddress!, output: $0.baseAddress!, tokens: tokens)) }
                    expected.withUnsafeMutableBufferPointer { Linear.reference(LinearJob(weight: m, input: xp.baseAddress!, output: $0.baseAddress!, tokens: tokens)) }
                }
                for (a, b) in zip(y, expected) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(b)), "\(tensor.type), \(tokens) tokens") }
            }
        }
        XCTAssertGreaterThan(covered, 5)
    }
}

/// The integer kernels (activations rounded to 8 bits per block of 32 or 256, as llama.cpp does) against
/// the exact products of gguf-py's dequantized weights: the difference must stay within the bound
/// the rounding allows, Σ |w_i| · d_b / 2 (each activation moves by at most half its block's step,
/// F16 rounding of Q8_0's scale included in the 0.1% slack); a wrong unpacking or scale is off by far
/// more. Bit-level agreement with llama.cpp is GGUFQuantizedParityTests' job.
final class IntegerKernelTests: XCTestCase {
    func testIntegerProductsStayWithinTheActivationRounding() throws {
        let fixtures = GGUFTests.fixtures
        let file = try GGUFFile(path: fixtures.appendingPathComponent("blocks.gguf").path)
        let expected = try SafeTensorsFile(path: fixtures.appendingPathComponent("dequantized.safetensors").path)
        var generator = SeededGenerator(seed: 5)
        var covered = Set<GGMLType>()
        for tensor in file.tensors where QuantizedKernels.integer.contains(tensor.type) {
            let columns = tensor.dimensions[0], rows = tensor.elementCount / columns
            let reference = try expected.tensor(tensor.name)!.floats()
            // Whole rows, and (32-weight types) a row cut to 9 blocks, which takes the kernels' tail path.
            var shapes = [(columns, rows)]
            if tensor.type.blockGeometry.elements == 32 { shapes.append((32 * 9, 1)) }
            for (width, count) in shapes {
                let m = WeightMatrix(rows: count, columns: width, blocks: tensor.type, base: file.data(of: tensor))
                for tokens in [1, 2, 3, 4, 7] {
                    let x = (0..<tokens * width).map { _ in Float.random(in: -2...2, using: &generator) * (Bool.random(using: &generator) ? 1 : 0.01) }
                    var y = [Float](repeating: 0, count: tokens * count)
                    x.withUnsafeBufferPointer { xp in
                        y.withUnsafeMutableBufferPointer { Linear.run(LinearJob(weight: m, input: xp.baseAddress!, output: $0.baseAddress!, tokens: tokens)) }
                    }
                    for t in 0..<tokens {
                        let xt = Array(x[(t * width)..<((t + 1) * width)])
                        for r in 0..<count {
                            let w = Array(reference[(r * columns)..<(r * columns + width)])
                            guard w.allSatisfy(\.isFinite) else { continue }
                            var exact: Double = 0, bound: Double = 0
                            // Activations are rounded per 32 for Q8_0/Q4_0 and per 256 for the K-quants.
                            let block = Q8Activations.block(for: tensor.type)
                            for b in 0..<(width / block) {
                                let step = Double(xt[(block * b)..<(block * b + block)].map { abs($0) }.max()!) / 127
                                for i in (block * b)..<(block * b + block) {
                                    exact += Double(w[i]) * Double(xt[i])
                                    bound += abs(Double(w[i])) * step / 2
                                }
                            }
                            XCTAssertEqual(Double(y[t * count + r]), exact, accuracy: bound * 1.001 + 1e-4,
                                           "\(tensor.type) \(width) columns, token \(t) of \(tokens), row \(r)")
                        }
                    }
                }
            }
            covered.insert(tensor.type)
        }
        XCTAssertEqual(covered, QuantizedKernels.integer, "every integer kernel is checked")
        print("integer kernels built for \(QuantizedKernels.integerInstructionSet)")
    }

    /// Several tokens through the multi-token kernels give each token exactly what it gets alone
    /// (the same integer sums, the same float steps).
    func testEveryTokenOfAGroupGetsItsOwnProductBitForBit() throws {
        let file = try GGUFFile(path: GGUFTests.fixtures.appendingPathComponent("blocks.gguf").path)
        var generator = SeededGenerator(seed: 9)
        for tensor in file.tensors where QuantizedKernels.integer.contains(tensor.type) {
            let columns = tensor.dimensions[0], rows = tensor.elementCount / columns
            let m = WeightMatrix(rows: rows, columns: columns, blocks: tensor.type, base: file.data(of: tensor))
            let tokens = 11
            let x = (0..<tokens * columns).map { _ in Float.random(in: -1...1, using: &generator) }
            var together = [Float](repeating: 0, count: tokens * rows)
            x.withUnsafeBufferPointer { xp in
                together.withUnsafeMutableBufferPointer { Linear.run(LinearJob(weight: m, input: xp.baseAddress!, output: $0.baseAddress!, tokens: tokens)) }
                for t in 0..<tokens {
                    var alone = [Float](repeating: 0, count: rows)
                    alone.withUnsafeMutableBufferPointer { Linear.run(LinearJob(weight: m, input: xp.baseAddress! + t * columns, output: $0.baseAddress!, tokens: 1)) }
                    XCTAssertEqual(alone.map(\.bitPattern), together[(t * rows)..<((t + 1) * rows)].map(\.bitPattern), "\(tensor.type) token \(t)")
                }
            }
        }
    }
}
