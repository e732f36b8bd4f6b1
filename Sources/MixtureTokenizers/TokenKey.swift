/// A vocabulary key compared by its UTF-8 bytes. Swift `String` equality is canonical
/// equivalence (`"e\u{301}" == "é"`), but tokenizer vocabularies distinguish the two, as Rust does.
struct TokenKey: Hashable {
    let string: String

    init(_ string: String) {
        var string = string
        string.makeContiguousUTF8()
        self.string = string
    }

    init(_ scalars: ArraySlice<Unicode.Scalar>) {
        self.init(scalars.string)
    }

    static func == (a: TokenKey, b: TokenKey) -> Bool {
        a.string.utf8.count == b.string.utf8.count && a.string.utf8.elementsEqual(b.string.utf8)
    }

    func hash(into hasher: inout Hasher) {
        let hashed: Void? = string.utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        if hashed == nil {
            for byte in string.utf8 { hasher.combine(byte) }
        }
    }
}

extension Dictionary where Key == TokenKey {
    subscript(token token: String) -> Value? {
        self[TokenKey(token)]
    }
}
