import Foundation

/// Reads and writes the safetensors format, so that other tools (Python's `safetensors`,
/// PyTorch, Netron) can read Osprey's weights.
///
/// Layout: an 8-byte little-endian header length `N`; `N` bytes of UTF-8 JSON, an object
/// whose keys are tensor names with `{"dtype": "F32", "shape": [...], "data_offsets":
/// [begin, end]}` and an optional `"__metadata__"` object of string to string; then the
/// tensors' raw little-endian bytes, offsets relative to the end of the header. Osprey pads
/// the header with spaces to a multiple of 8 bytes, as the format allows, and writes only
/// `F32` tensors.
///
/// Decoding checks everything a truncated or damaged file can get wrong: the header length
/// against the file size, the JSON, every tensor's dtype, shape and offsets, and that the
/// tensors cover the data region exactly, without holes or overlaps.
public enum SafeTensors {
    /// One named tensor.
    public struct Tensor: Sendable, Equatable {
        public let name: String
        public let shape: [Int]
        public let values: [Float]

        public init(name: String, shape: [Int], values: [Float]) {
            self.name = name
            self.shape = shape
            self.values = values
        }
    }

    /// The largest header Osprey accepts (the format's own reference limit is 100 MB).
    public static let maximumHeaderBytes = 100_000_000

    /// Encodes `tensors` (in this order) with `metadata` into a file's bytes.
    public static func encode(tensors: [Tensor], metadata: [String: String]) -> [UInt8] {
        var entries: [(String, String)] = []
        var offset = 0
        for tensor in tensors {
            let size = tensor.values.count * 4
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            entries.append(
                (
                    tensor.name,
                    "{\"dtype\":\"F32\",\"shape\":[\(shape)],"
                        + "\"data_offsets\":[\(offset),\(offset + size)]}"
                ))
            offset += size
        }
        var header = "{"
        if !metadata.isEmpty {
            header += "\"__metadata__\":{"
            header += metadata.keys.sorted().map {
                JSONText.quoted($0) + ":" + JSONText.quoted(metadata[$0]!)
            }
            .joined(separator: ",")
            header += "}"
            if !entries.isEmpty { header += "," }
        }
        header += entries.map { JSONText.quoted($0.0) + ":" + $0.1 }.joined(separator: ",")
        header += "}"
        var headerBytes = Array(header.utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(UInt8(ascii: " ")) }

        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 + headerBytes.count + offset)
        var length = UInt64(headerBytes.count).littleEndian
        withUnsafeBytes(of: &length) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: headerBytes)
        for tensor in tensors {
            for value in tensor.values {
                var bits = value.bitPattern.littleEndian
                withUnsafeBytes(of: &bits) { bytes.append(contentsOf: $0) }
            }
        }
        return bytes
    }

    /// Decodes a file's bytes into its tensors (in data order) and metadata.
    ///
    /// - Throws: ``ModelError/corruptFile(path:reason:)`` saying what is wrong.
    public static func decode(_ bytes: [UInt8], path: String) throws(ModelError)
        -> (tensors: [Tensor], metadata: [String: String], dataRange: Range<Int>)
    {
        func corrupt(_ reason: String) -> ModelError { .corruptFile(path: path, reason: reason) }
        guard bytes.count >= 8 else {
            throw corrupt("the file has \(bytes.count) bytes, fewer than the 8-byte header length")
        }
        var rawLength: UInt64 = 0
        for index in 0..<8 { rawLength |= UInt64(bytes[index]) << (8 * UInt64(index)) }
        guard rawLength <= UInt64(maximumHeaderBytes) else {
            throw corrupt("the header length \(rawLength) is beyond the 100 MB limit")
        }
        let headerLength = Int(rawLength)
        guard headerLength <= bytes.count - 8 else {
            throw corrupt(
                "the header claims \(headerLength) bytes but the file has only "
                    + "\(bytes.count - 8) after the length (truncated?)"
            )
        }
        let headerBytes = bytes[8..<(8 + headerLength)]
        guard headerBytes.first == UInt8(ascii: "{"),
            let object = try? JSONSerialization.jsonObject(with: Data(headerBytes)),
            let header = object as? [String: Any]
        else { throw corrupt("the header is not a JSON object") }

        var metadata: [String: String] = [:]
        if let raw = header["__metadata__"] {
            guard let values = raw as? [String: Any] else {
                throw corrupt("__metadata__ is not an object")
            }
            for (key, value) in values {
                guard let text = value as? String else {
                    throw corrupt("metadata value '\(key)' is not a string")
                }
                metadata[key] = text
            }
        }

        let dataStart = 8 + headerLength
        let dataSize = bytes.count - dataStart
        var spans: [(name: String, shape: [Int], begin: Int, end: Int)] = []
        for (name, raw) in header where name != "__metadata__" {
            guard let entry = raw as? [String: Any] else {
                throw corrupt("tensor '\(name)' is not an object")
            }
            guard let dtype = entry["dtype"] as? String else {
                throw corrupt("tensor '\(name)' has no dtype")
            }
            guard dtype == "F32" else {
                throw corrupt("tensor '\(name)' has dtype \(dtype); Osprey reads only F32")
            }
            guard
                let shape = (entry["shape"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                shape.count == (entry["shape"] as? [Any])?.count, shape.allSatisfy({ $0 >= 0 })
            else { throw corrupt("tensor '\(name)' has no valid shape") }
            guard
                let offsets = (entry["data_offsets"] as? [Any])?.compactMap({
                    ($0 as? NSNumber)?.intValue
                }),
                offsets.count == 2, offsets[0] >= 0, offsets[0] <= offsets[1]
            else { throw corrupt("tensor '\(name)' has no valid data_offsets") }
            guard offsets[1] <= dataSize else {
                throw corrupt(
                    "tensor '\(name)' ends at byte \(offsets[1]) of a \(dataSize)-byte data "
                        + "region (truncated?)"
                )
            }
            let elements = shape.reduce(1) { $0.multipliedReportingOverflow(by: $1).partialValue }
            guard elements * 4 == offsets[1] - offsets[0] else {
                throw corrupt(
                    "tensor '\(name)' has shape \(shape) but \(offsets[1] - offsets[0]) bytes")
            }
            spans.append((name, shape, offsets[0], offsets[1]))
        }
        spans.sort { $0.begin < $1.begin || ($0.begin == $1.begin && $0.end < $1.end) }
        var position = 0
        for span in spans {
            guard span.begin == position else {
                throw corrupt("tensor '\(span.name)' leaves a hole or overlaps another tensor")
            }
            position = span.end
        }
        guard position == dataSize else {
            throw corrupt("the data region has \(dataSize) bytes but the tensors cover \(position)")
        }

        var tensors: [Tensor] = []
        bytes.withUnsafeBytes { raw in
            for span in spans {
                var values = [Float](repeating: 0, count: (span.end - span.begin) / 4)
                for index in values.indices {
                    let at = dataStart + span.begin + index * 4
                    let bits = raw.loadUnaligned(fromByteOffset: at, as: UInt32.self)
                    values[index] = Float(bitPattern: UInt32(littleEndian: bits))
                }
                tensors.append(Tensor(name: span.name, shape: span.shape, values: values))
            }
        }
        return (tensors, metadata, dataStart..<bytes.count)
    }
}

/// JSON text for metadata values, written by hand so that numbers keep every bit: Swift's
/// `description` of a `Double` or `Float` is the shortest text that reads back exactly.
enum JSONText {
    static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case let s where s.value < 0x20:
                let hex = String(s.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

    static func number(_ value: Double) -> String { value.isFinite ? "\(value)" : "null" }

    static func array(_ values: [String]) -> String { "[" + values.joined(separator: ",") + "]" }

    static func object(_ pairs: [(String, String)]) -> String {
        "{" + pairs.map { quoted($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
    }

    /// Parses JSON text with Foundation (model files only; not a hot path).
    static func parse(_ text: String) -> Any? {
        try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
    }
}

/// FNV-1a (64-bit) over bytes, as 16 hex digits: the model file's data checksum.
func fnv1a(_ bytes: ArraySlice<UInt8>) -> String {
    var state: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes {
        state ^= UInt64(byte)
        state &*= 0x0000_0100_0000_01b3
    }
    let digits = String(state, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
}
