import Foundation
@testable import MixtureCore
import XCTest

final class VectorActivationTests: XCTestCase {
    func testVectorGELUMatchesTheErfForm() {
        var xs: [Float] = []
        var x: Float = -12
        while x <= 12 { xs.append(x); x += 0.00731 }
        xs += [0, -0, 1e-6, -1e-6, 80, -80, 200, -200]
        var ys = xs
        ys.withUnsafeMutableBufferPointer { Activations.gelu($0.baseAddress!, count: $0.count) }
        var worst: Float = 0
        for (x, y) in zip(xs, ys) {
            let reference = Float(0.5 * Double(x) * (1 + Foundation.erf(Double(x) * 0.7071067811865476)))
            let error = abs(y - reference)
            XCTAssertLessThanOrEqual(error, 3e-7 * max(1, abs(x)), "gelu(\(x)) = \(y), erf form gives \(reference)")
            worst = max(worst, error)
        }
        XCTAssertTrue(ys.allSatisfy(\.isFinite))
    }

    func testVectorExp() {
        for x in stride(from: Float(-80), through: 80, by: 0.37) {
            let y = Activations.exp8(SIMD8<Float>(repeating: x))[3]
            let reference = Float(Foundation.exp(Double(x)))
            XCTAssertEqual(y, reference, accuracy: 4e-7 * reference, "exp(\(x))")
        }
    }
}
