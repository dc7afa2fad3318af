/// Why an input message was refused, as a short stable code for the dead-letter topic and the
/// `osprey_dead_letter_total{reason}` metric.
public enum DecodeReason: String, Sendable, CaseIterable, Hashable {
    /// Not JSON at all: a syntax error, a bad escape, trailing bytes.
    case invalidJSON = "invalid_json"
    /// The bytes are not valid UTF-8.
    case invalidUTF8 = "invalid_utf8"
    /// Valid JSON, but the top level is not an object.
    case notAnObject = "not_an_object"
    /// A required field is absent or null.
    case missingField = "missing_field"
    /// A field holds the wrong JSON type (a number where a string belongs, ...).
    case wrongType = "wrong_type"
    /// A number that no binary64 can hold (`1e999`).
    case nonFinite = "non_finite"
    /// The message is longer than the configured limit (64 KiB by default).
    case tooLarge = "too_large"
    /// The timestamp is malformed or outside the years 2000 to 2099.
    case badTimestamp = "bad_timestamp"
    /// The timestamp lies further ahead of the stream's time than the store tolerates.
    case futureTimestamp = "future_timestamp"
    /// A value is outside its allowed range (an id longer than 128 bytes, an amount beyond
    /// ±21,474,836.47).
    case outOfRange = "out_of_range"
    /// `type` names no event this decoder knows (`click`, `order`, `label`).
    case unknownType = "unknown_type"
}

/// A message that could not become an event: the reason, the field concerned (when there is
/// one) and a sentence for people.
///
/// Thread: any; a value type.
public struct DecodeError: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: DecodeReason
    /// The JSON key concerned, or nil for errors about the whole message.
    public let field: String?
    public let detail: String

    public init(_ reason: DecodeReason, field: String? = nil, _ detail: String) {
        self.reason = reason
        self.field = field
        self.detail = detail
    }

    public var description: String {
        if let field { return "\(reason.rawValue) (field \(field)): \(detail)" }
        return "\(reason.rawValue): \(detail)"
    }
}
