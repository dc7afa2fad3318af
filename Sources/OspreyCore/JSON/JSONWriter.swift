/// Builds compact JSON text into a byte buffer, for alerts, score records and dead letters.
///
/// It writes what it is told in order and adds commas itself; the caller keeps objects and
/// arrays balanced (a programmer error otherwise). Strings are escaped per RFC 8259; numbers
/// that are not finite, which JSON cannot hold, are written as `null`.
///
/// Thread: a writer is a value owned by one thread at a time.
public struct JSONWriter: Sendable {
    public private(set) var bytes: [UInt8] = []
    private var needsComma = false

    public init(capacity: Int = 512) { bytes.reserveCapacity(capacity) }

    public mutating func beginObject() { separate(); bytes.append(UInt8(ascii: "{")) }
    public mutating func endObject() { bytes.append(UInt8(ascii: "}")); needsComma = true }
    public mutating func beginArray() { separate(); bytes.append(UInt8(ascii: "[")) }
    public mutating func endArray() { bytes.append(UInt8(ascii: "]")); needsComma = true }

    /// Writes an object key; the next value written is its value.
    public mutating func key(_ name: String) {
        separate()
        appendQuoted(name)
        bytes.append(UInt8(ascii: ":"))
    }

    public mutating func string(_ value: String) {
        separate(); appendQuoted(value); needsComma = true
    }

    public mutating func int<T: BinaryInteger>(_ value: T) {
        separate()
        bytes += String(value).utf8
        needsComma = true
    }

    /// Writes a number with the shortest text that reads back as the same `Double`.
    public mutating func double(_ value: Double) {
        separate()
        if value.isFinite {
            if value == value.rounded(), abs(value) < 1e15 {
                bytes += String(Int64(value)).utf8
            } else {
                bytes += value.description.utf8
            }
        } else {
            bytes += "null".utf8
        }
        needsComma = true
    }

    public mutating func bool(_ value: Bool) {
        separate()
        bytes += (value ? "true" : "false").utf8
        needsComma = true
    }

    public mutating func null() { separate(); bytes += "null".utf8; needsComma = true }

    /// A `key: value` pair with a string value.
    public mutating func field(_ name: String, _ value: String) { key(name); string(value) }
    /// A `key: value` pair with a numeric value.
    public mutating func field(_ name: String, _ value: Double) { key(name); double(value) }
    /// A `key: value` pair with an integer value.
    public mutating func field(_ name: String, int value: Int64) { key(name); int(value) }

    private mutating func separate() {
        if needsComma, let last = bytes.last, last != UInt8(ascii: ":") {
            bytes.append(UInt8(ascii: ","))
        }
        needsComma = false
    }

    private mutating func appendQuoted(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x0A: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0D: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes += Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
