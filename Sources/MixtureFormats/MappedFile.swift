import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MixtureCore

/// A whole file mapped read-only into memory. Pages load on first touch; nothing is copied.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let size: Int
    public let bytes: UnsafeRawPointer

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw MixtureError.missingFile(path: path, reason: "cannot open (\(String(cString: strerror(errno))))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw MixtureError.invalidFile(path: path, reason: "cannot stat (\(String(cString: strerror(errno))))")
        }
        size = Int(info.st_size)
        if size == 0 {
            // mmap refuses empty files; an empty file still has a valid (empty) view.
            bytes = UnsafeRawPointer(UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 16))
            return
        }
        guard let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), address != MAP_FAILED else {
            throw MixtureError.invalidFile(path: path, reason: "cannot map into memory (\(String(cString: strerror(errno))))")
        }
        bytes = UnsafeRawPointer(address)
    }

    deinit {
        if size > 0 {
            munmap(UnsafeMutableRawPointer(mutating: bytes), size)
        } else {
            UnsafeMutableRawPointer(mutating: bytes).deallocate()
        }
    }
}
