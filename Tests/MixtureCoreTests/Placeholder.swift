import XCTest
final class PlaceholderMixtureCoreTests: XCTestCase { func testNothing() {} }
