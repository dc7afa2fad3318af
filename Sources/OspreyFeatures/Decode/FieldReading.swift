import CSimdjsonBridge

/// Typed access to the fields of a parsed message, throwing the contract's reasons.
///
/// Shared by the decoders of every input format, so that one rule (what an id may be, what a
/// timestamp may look like) reads the same everywhere.
extension JSONFields {
    /// The status of a whole-message parse as a decode error, or nil for `.ok`.
    func error(for status: Status) -> DecodeError? {
        switch status {
        case .ok: return nil
        case .syntax: return DecodeError(.invalidJSON, "the message is not valid JSON")
        case .notObject: return DecodeError(.notAnObject, "the message is not a JSON object")
        case .tooLarge:
            return DecodeError(.tooLarge, "the message is longer than \(maxBytes) bytes")
        case .badUTF8: return DecodeError(.invalidUTF8, "the message is not valid UTF-8")
        case .tooDeep: return DecodeError(.invalidJSON, "the message nests too deeply")
        case .noMemory: return DecodeError(.tooLarge, "the message could not be buffered")
        }
    }

    /// Whether field `index` is absent or null.
    @inline(__always)
    func isMissing(_ index: Int) -> Bool {
        let kind = self.kind(index)
        return kind == OSPREY_JSON_ABSENT || kind == OSPREY_JSON_NULL
    }

    /// The bytes of an id: a non-empty string of at most `limit` bytes, or an integer (its
    /// digits). Nil when absent or null.
    func idBytes(_ index: Int, name: StaticString, limit: Int = 128) throws(DecodeError)
        -> UnsafeRawBufferPointer?
    {
        switch kind(index) {
        case OSPREY_JSON_ABSENT, OSPREY_JSON_NULL:
            return nil
        case OSPREY_JSON_STRING, OSPREY_JSON_INTEGER:
            let bytes = text(index)
            guard bytes.count >= 1, bytes.count <= limit else {
                throw DecodeError(
                    .outOfRange, field: "\(name)", "an id must be 1 to \(limit) bytes long")
            }
            return bytes
        default:
            throw DecodeError(.wrongType, field: "\(name)", "an id must be a string or an integer")
        }
    }

    /// A required id.
    func requiredID(_ index: Int, name: StaticString) throws(DecodeError) -> UnsafeRawBufferPointer
    {
        guard let bytes = try idBytes(index, name: name) else {
            throw DecodeError(.missingField, field: "\(name)", "the field is required")
        }
        return bytes
    }

    /// An optional string field (nil when absent or null).
    func optionalString(_ index: Int, name: StaticString) throws(DecodeError)
        -> UnsafeRawBufferPointer?
    {
        switch kind(index) {
        case OSPREY_JSON_ABSENT, OSPREY_JSON_NULL: return nil
        case OSPREY_JSON_STRING: return text(index)
        default: throw DecodeError(.wrongType, field: "\(name)", "the field must be a string")
        }
    }

    /// A number; nil when absent or null.
    func number(_ index: Int, name: StaticString) throws(DecodeError) -> Double? {
        switch kind(index) {
        case OSPREY_JSON_ABSENT, OSPREY_JSON_NULL: return nil
        case OSPREY_JSON_INTEGER, OSPREY_JSON_DOUBLE: return fields[index].number
        case OSPREY_JSON_BAD_NUMBER:
            if JSONFields.isWellFormedNumber(text(index)) {
                throw DecodeError(.nonFinite, field: "\(name)", "the number is not finite")
            }
            throw DecodeError(.invalidJSON, field: "\(name)", "the number is malformed")
        default: throw DecodeError(.wrongType, field: "\(name)", "the field must be a number")
        }
    }

    /// A required integer.
    func integer(_ index: Int, name: StaticString) throws(DecodeError) -> Int64 {
        switch kind(index) {
        case OSPREY_JSON_INTEGER: return fields[index].integer
        case OSPREY_JSON_ABSENT, OSPREY_JSON_NULL:
            throw DecodeError(.missingField, field: "\(name)", "the field is required")
        case OSPREY_JSON_BAD_NUMBER:
            _ = try number(index, name: name)
            throw DecodeError(.nonFinite, field: "\(name)", "the number is not finite")
        default: throw DecodeError(.wrongType, field: "\(name)", "the field must be an integer")
        }
    }

    /// An amount in hundredths, checked to be finite and within ``DecodedEvent/amountLimit``.
    func cents(_ value: Double, name: StaticString) throws(DecodeError) -> Int32 {
        guard value.isFinite else {
            throw DecodeError(.nonFinite, field: "\(name)", "the amount is not finite")
        }
        guard abs(value) <= DecodedEvent.amountLimit else {
            throw DecodeError(
                .outOfRange, field: "\(name)", "the amount lies beyond ±21474836.47")
        }
        return Int32((value * 100).rounded())
    }

    /// The event time: RFC 3339 text or integer epoch milliseconds.
    func timestamp(_ index: Int, name: StaticString) throws(DecodeError) -> Int64 {
        switch kind(index) {
        case OSPREY_JSON_ABSENT, OSPREY_JSON_NULL:
            throw DecodeError(.missingField, field: "\(name)", "the field is required")
        case OSPREY_JSON_STRING:
            guard let millis = EventTimestamp.parse(text(index)) else {
                throw DecodeError(
                    .badTimestamp, field: "\(name)",
                    "expected RFC 3339 time such as 2026-12-03T17:52:16.123Z, years 2000 to 2099")
            }
            return millis
        case OSPREY_JSON_INTEGER:
            let millis = fields[index].integer
            guard EventTimestamp.isPlausible(millis) else {
                throw DecodeError(
                    .badTimestamp, field: "\(name)",
                    "epoch milliseconds outside the years 2000 to 2099")
            }
            return millis
        case OSPREY_JSON_BAD_NUMBER:
            _ = try number(index, name: name)
            throw DecodeError(.nonFinite, field: "\(name)", "the number is not finite")
        default:
            throw DecodeError(
                .wrongType, field: "\(name)", "a time must be RFC 3339 text or epoch milliseconds")
        }
    }

    /// The key of an optional entity id.
    @inline(__always)
    func entity(_ index: Int, name: StaticString) throws(DecodeError) -> EntityKey? {
        guard let bytes = try idBytes(index, name: name) else { return nil }
        return EntityKey(bytes: bytes)
    }

    /// The hash of an optional short string value (country, category), 0 when absent.
    @inline(__always)
    func valueHash(_ index: Int, name: StaticString) throws(DecodeError) -> UInt64 {
        guard let bytes = try idBytes(index, name: name, limit: 256) else { return 0 }
        let hash = IDHash.hash(bytes, seed: DecodedEvent.valueSeed)
        return hash == 0 ? 1 : hash
    }
}
