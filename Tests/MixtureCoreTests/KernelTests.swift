import XCTest
@testable import MixtureCore

/// The vector kernels against their scalar references, for every storage dtype and awkward sizes.
final class KernelTests: XCTestCase {
    func makeMatrix(rows: Int, columns: Int, dtype: DType, seed: UInt64) -> (UnsafeMutableRawPointer, WeightMatrix) {
        var state = seed
        let storage = UnsafeMutableRawPointer.allocate(byteCount: rows * columns * dtype.byteSize, alignment: 64)
        for i in 0..<(rows * columns) {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let value = Float(Int64(bitPattern: state >> 11) % 2000) / 1000 - 1
            switch dtype {
            case .float32: storage.storeBytes(of: value, toByteOffset: i * 4, as: Float.self)
            case .bfloat16: storage.storeBytes(of: ScalarConversion.bfloat16Bits(from: value), toByteOffset: i * 2, as: UInt16.self)
            case .float16: storage.storeBytes(of: ScalarConversion.float16Bits(from: value), toByteOffset: i * 2, as: UInt16.self)
            }
        }
        return (storage, WeightMatrix(rows: rows, columns: columns, dtype: dtype, base: storage))
    }

    func testLinearMatchesScalarReferenceForEveryDTypeAndShape() {
        for dtype in DType.allCases {
            for (rows, columns, tokens) in [(1, 1, 1), (5, 7, 1), (37, 65, 1), (33, 130, 2), (17, 64, 3), (70, 96, 7), (300, 40, 5), (37, 65, 24), (19, 33, 50), (70, 384, 97), (23, 40, 12), (30, 100, 16), (9, 17, 8), (45, 64, 41), (21, 77, 4), (13, 200, 6), (29, 72, 19), (11, 48, 20), (7, 129, 23), (25, 96, 45), (5, 24, 11), (17, 40, 25), (6, 72, 9)] {
                let (storage, w) = makeMatrix(rows: rows, columns: columns, dtype: dtype, seed: UInt64(rows * 31 + columns))
                defer { storage.deallocate() }
                let x = FloatBuffer(count: tokens * columns)
                for i in 0..<x.count { x[i] = Float((i * 7) % 13) / 6.5 - 1 }
                let fast = FloatBuffer(count: tokens * rows), slow = FloatBuffer(count: tokens * rows)
                Linear.run(LinearJob(weight: w, input: x.pointer, output: fast.pointer, tokens: tokens))
                Linear.reference(LinearJob(weight: w, input: x.pointer, output: slow.pointer, tokens: tokens))
                for i in 0..<(tokens * rows) {
                    XCTAssertEqual(fast[i], slow[i], accuracy: 1e-4 * max(1, abs(slow[i])), "\(dtype) \(rows)x\(columns)x\(tokens) at \(i)")
                }
            }
        }
    }

    func testManyJobsInOneRegionEachGetTheirOwnResult() {
        let (s1, w1) = makeMatrix(rows: 200, columns: 128, dtype: .bfloat16, seed: 1)
        let (s2, w2) = makeMatrix(rows: 90, columns: 128, dtype: .float16, seed: 2)
        defer { s1.deallocate(); s2.deallocate() }
        let x = FloatBuffer(count: 4 * 128)
        for i in 0..<x.count { x[i] = Float(i % 11) * 0.1 }
        let y1 = FloatBuffer(count: 4 * 200), y2 = FloatBuffer(count: 90)
        Linear.run([LinearJob(weight: w1, input: x.pointer, output: y1.pointer, tokens: 4),
                    LinearJob(weight: w2, input: x.pointer, output: y2.pointer, tokens: 1)])
        let r1 = FloatBuffer(count: 4 * 200), r2 = FloatBuffer(count: 90)
        Linear.reference(LinearJob(weight: w1, input: x.pointer, output: r1.pointer, tokens: 4))
        Linear.reference(LinearJob(weight: w2, input: x.pointer, output: r2.pointer, tokens: 1))
        for i in 0..<y1.count { XCTAssertEqual(y1[i], r1[i], accuracy: 1e-3) }
        for i in 0..<y2.count { XCTAssertEqual(y2[i], r2[i], accuracy: 1e-3) }
    }

    func testJobsSharingAnInputAcrossDTypesPackEnoughTokens() {
        // 40 tokens: F16 takes one 24-token panel (the 16-token tail runs on the dot tiles), F32 takes
        // both panels. The F16 job comes first, so the shared packing must still hold 40 tokens.
        let (s1, w1) = makeMatrix(rows: 20, columns: 48, dtype: .float16, seed: 3)
        let (s2, w2) = makeMatrix(rows: 12, columns: 48, dtype: .float32, seed: 4)
        defer { s1.deallocate(); s2.deallocate() }
        let x = FloatBuffer(count: 40 * 48)
        for i in 0..<x.count { x[i] = Float(i % 13) * 0.1 - 0.6 }
        let y1 = FloatBuffer(count: 40 * 20), y2 = FloatBuffer(count: 40 * 12)
        Linear.run([LinearJob(weight: w1, input: x.pointer, output: y1.pointer, tokens: 40),
                    LinearJob(weight: w2, input: x.pointer, output: y2.pointer, tokens: 40)])
        let r1 = FloatBuffer(count: 40 * 20), r2 = FloatBuffer(count: 40 * 12)
        Linear.reference(LinearJob(weight: w1, input: x.pointer, output: r1.pointer, tokens: 40))
        Linear.reference(LinearJob(weight: w2, input: x.pointer, output: r2.pointer, tokens: 40))
        for i in 0..<y1.count { XCTAssertEqual(y1[i], r1[i], accuracy: 1e-4 * max(1, abs(r1[i])), "F16 at \(i)") }
        for i in 0..<y2.count { XCTAssertEqual(y2[i], r2[i], accuracy: 1e-4 * max(1, abs(r2[i])), "F32 at \(i)") }
    }

    func testBFloat16RoundsToNearestEvenLikeTorch() {
        // 1 + 2^-8 lies exactly between two bfloat16 values: ties go to the even mantissa (1.0).
        XCTAssertEqual(ScalarConversion.float(fromBFloat16: ScalarConversion.bfloat16Bits(from: 1 + 0x1p-8)), 1)
        // 1 + 3·2^-8 ties to the even neighbour above.
        XCTAssertEqual(ScalarConversion.float(fromBFloat16: ScalarConversion.bfloat16Bits(from: 1 + 3 * 0x1p-8)), 1 + 0x1p-6)
        XCTAssertEqual(ScalarConversion.float(fromBFloat16: ScalarConversion.bfloat16Bits(from: -2.5)), -2.5)
        XCTAssertTrue(ScalarConversion.float(fromBFloat16: ScalarConversion.bfloat16Bits(from: .nan)).isNaN)
    }

    func testTopKBreaksTiesTowardLowerIndex() {
        XCTAssertEqual(TopK.indices([0.1, 0.5, 0.5, 0.2, 0.9], k: 3), [4, 1, 2])
        XCTAssertEqual(TopK.indices([3, 1, 2], k: 3), [0, 2, 1])
    }

    func testSoftmaxSumsToOneAndIsShiftInvariant() {
        let a = Softmax.of([1, 2, 3, 1000])
        XCTAssertEqual(a.reduce(0, +), 1, accuracy: 1e-6)
        XCTAssertEqual(a[3], 1, accuracy: 1e-6)
        let b = Softmax.of([0, 1, 2]), c = Softmax.of([10, 11, 12])
        for (x, y) in zip(b, c) { XCTAssertEqual(x, y, accuracy: 1e-6) }
    }

    func testEvenSharesCoverTheRangeExactlyOnce() {
        for count in [0, 1, 7, 100, 1023] {
            for shares in 1...5 {
                var covered = [Int](repeating: 0, count: count)
                for s in 0..<shares { for i in Parallel.evenShare(s, of: shares, count: count, alignment: 4) { covered[i] += 1 } }
                XCTAssertEqual(covered, [Int](repeating: 1, count: count), "count \(count) shares \(shares)")
            }
        }
    }
}
