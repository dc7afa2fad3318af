import CSimdjsonBridge

/// Owns one simdjson parser and reads the top-level fields of JSON objects into a reusable
/// table, without creating a Swift `String` for any of them.
///
/// The keys are fixed at creation; after ``parse(_:)`` returns `.ok`, ``field(_:)`` gives each
/// key's value. Strings and number tokens point into the parser's buffers and stay valid until
/// the next parse.
///
/// Thread: one thread at a time (the partition's poll loop, or the file reader).
final class JSONFields {
    enum Status {
        case ok, syntax, notObject, tooLarge, badUTF8, tooDeep, noMemory
    }

    private let parser: OpaquePointer
    private let keyStorage: UnsafeMutableBufferPointer<CChar>
    private let keys: UnsafeMutableBufferPointer<osprey_json_key>
    let fields: UnsafeMutableBufferPointer<osprey_json_field>
    let maxBytes: Int

    /// - Parameters:
    ///   - keys: the top-level keys to read, in the order that ``field(_:)`` indexes them.
    ///   - maxBytes: the largest message accepted; longer ones give `.tooLarge`.
    init(keys names: [String], maxBytes: Int) {
        guard let parser = osprey_json_parser_create(maxBytes) else {
            fatalError("out of memory creating a JSON parser")
        }
        self.parser = parser
        self.maxBytes = maxBytes
        let total = names.reduce(0) { $0 + $1.utf8.count }
        keyStorage = .allocate(capacity: max(total, 1))
        keys = .allocate(capacity: names.count)
        fields = .allocate(capacity: names.count)
        var offset = 0
        for (index, name) in names.enumerated() {
            let start = keyStorage.baseAddress! + offset
            for byte in name.utf8 {
                keyStorage[offset] = CChar(bitPattern: byte)
                offset += 1
            }
            keys[index] = osprey_json_key(name: start, length: UInt32(name.utf8.count))
        }
        fields.initialize(repeating: osprey_json_field())
    }

    deinit {
        osprey_json_parser_destroy(parser)
        keyStorage.deallocate()
        keys.deallocate()
        fields.deallocate()
    }

    /// Parses one message.
    func parse(_ bytes: UnsafeRawBufferPointer) -> Status {
        let status = osprey_json_parse_fields(
            parser, bytes.baseAddress, bytes.count, keys.baseAddress, keys.count,
            fields.baseAddress)
        switch Int32(status) {
        case Int32(OSPREY_JSON_OK.rawValue): return .ok
        case Int32(OSPREY_JSON_NOT_OBJECT.rawValue): return .notObject
        case Int32(OSPREY_JSON_TOO_LARGE.rawValue): return .tooLarge
        case Int32(OSPREY_JSON_BAD_UTF8.rawValue): return .badUTF8
        case Int32(OSPREY_JSON_TOO_DEEP.rawValue): return .tooDeep
        case Int32(OSPREY_JSON_NO_MEMORY.rawValue): return .noMemory
        default: return .syntax
        }
    }

    @inline(__always)
    func kind(_ index: Int) -> osprey_json_kind { osprey_json_kind(UInt32(fields[index].kind)) }

    /// The string contents or number token of field `index`.
    @inline(__always)
    func text(_ index: Int) -> UnsafeRawBufferPointer {
        let field = fields[index]
        guard let pointer = field.text else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: pointer, count: Int(field.length))
    }

    /// The text of field `index` as a Swift string (for rows handed to tools, not the hot path).
    func string(_ index: Int) -> String {
        String(decoding: text(index), as: UTF8.self)
    }

    /// Whether a number token follows JSON's grammar (so that a `BAD_NUMBER` is out of range
    /// rather than malformed).
    static func isWellFormedNumber(_ token: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        let count = token.count
        func digits() -> Int {
            let start = index
            while index < count, token[index] >= 48, token[index] <= 57 { index += 1 }
            return index - start
        }
        if index < count, token[index] == 45 { index += 1 }
        guard index < count else { return false }
        if token[index] == 48 {
            index += 1
        } else if digits() == 0 {
            return false
        }
        if index < count, token[index] == 46 {
            index += 1
            guard digits() > 0 else { return false }
        }
        if index < count, token[index] == 101 || token[index] == 69 {
            index += 1
            if index < count, token[index] == 43 || token[index] == 45 { index += 1 }
            guard digits() > 0 else { return false }
        }
        return index == count
    }
}
