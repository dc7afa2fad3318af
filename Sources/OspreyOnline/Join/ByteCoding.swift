/// Little-endian writing of the fields of saved state.
struct ByteWriter {
    var data: [UInt8] = []

    mutating func bytes(_ values: [UInt8]) { data.append(contentsOf: values) }
    mutating func uint64(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) }
    }
    mutating func int64(_ value: Int64) { uint64(UInt64(bitPattern: value)) }
    mutating func int(_ value: Int) { int64(Int64(value)) }
    mutating func float(_ value: Float) {
        withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) }
    }
    /// Each value's four little-endian bytes, in one copy where the machine is little-endian.
    mutating func floats(_ values: [Float]) {
        #if _endian(little)
            values.withUnsafeBytes { data.append(contentsOf: $0) }
        #else
            for value in values { float(value) }
        #endif
    }
    /// A length (all ones for nil) and the UTF-8 bytes.
    mutating func optionalString(_ value: String?) {
        guard let value else {
            uint64(.max)
            return
        }
        let utf8 = Array(value.utf8)
        uint64(UInt64(utf8.count))
        bytes(utf8)
    }
}

/// Reads what ``ByteWriter`` wrote; every read checks the remaining length.
struct ByteReader {
    private let data: [UInt8]
    private var offset = 0

    init(_ data: [UInt8]) { self.data = data }

    var isAtEnd: Bool { offset == data.count }

    mutating func bytes(_ count: Int) throws(OnlineError) -> [UInt8] {
        guard count >= 0, data.count - offset >= count else {
            throw .corruptState("truncated at byte \(offset)")
        }
        defer { offset += count }
        return Array(data[offset..<(offset + count)])
    }
    mutating func uint64() throws(OnlineError) -> UInt64 {
        let raw = try bytes(8)
        var value: UInt64 = 0
        for (shift, byte) in raw.enumerated() { value |= UInt64(byte) << (8 * UInt64(shift)) }
        return value
    }
    mutating func int64() throws(OnlineError) -> Int64 { Int64(bitPattern: try uint64()) }
    mutating func int() throws(OnlineError) -> Int { Int(try int64()) }
    mutating func float() throws(OnlineError) -> Float {
        let raw = try bytes(4)
        var bits: UInt32 = 0
        for (shift, byte) in raw.enumerated() { bits |= UInt32(byte) << (8 * UInt32(shift)) }
        return Float(bitPattern: bits)
    }
    /// `count` values written by ``ByteWriter/floats(_:)``.
    mutating func floats(_ count: Int) throws(OnlineError) -> [Float] {
        guard count >= 0, (data.count - offset) / 4 >= count else {
            throw .corruptState("truncated at byte \(offset)")
        }
        defer { offset += 4 * count }
        return data.withUnsafeBytes { raw in
            (0..<count).map { index in
                Float(
                    bitPattern: UInt32(
                        littleEndian: raw.loadUnaligned(
                            fromByteOffset: offset + 4 * index, as: UInt32.self)))
            }
        }
    }
    mutating func optionalString() throws(OnlineError) -> String? {
        let length = try uint64()
        if length == .max { return nil }
        guard length <= UInt64(data.count - offset) else {
            throw .corruptState("truncated string at byte \(offset)")
        }
        return String(decoding: try bytes(Int(length)), as: UTF8.self)
    }
}
