import OspreyFeatures

/// What a label says about an event, whichever source it comes from.
public enum Verdict: Sendable, Equatable {
    /// The order was fraud, of this type when known (`labels` topic).
    case fraud(type: String?)
    /// The order was genuine (`labels` topic).
    case legit
    /// The click's session was automated, or human (`labels` topic).
    case bot, human
    /// Whether the user ordered within the purchase horizon after the click (self-label).
    case purchased(Bool)
    /// The category of the user's next click (self-label).
    case nextCategory(String)
}

/// A label for one event, known at `timeMs` (event time of the truth, after the event).
public struct DelayedLabel: Sendable, Equatable {
    /// The judged event's id, hashed as the decoder hashes `event_id` (``eventKey(_:)``).
    public var eventKey: UInt64
    public var timeMs: Int64
    public var verdict: Verdict

    public init(eventKey: UInt64, timeMs: Int64, verdict: Verdict) {
        self.eventKey = eventKey
        self.timeMs = timeMs
        self.verdict = verdict
    }

    /// The key of an event id: the same 64-bit hash the event decoder gives `event_id`, so a
    /// decoded label's `eventHash` can be used directly.
    public static func eventKey(_ eventID: String) -> UInt64 {
        var id = eventID
        return id.withUTF8 { IDHash.hash(UnsafeRawBufferPointer($0), seed: DecodedEvent.eventSeed) }
    }

    /// The key of a user id (another seed, so user and event keys never mix).
    public static func userKey(_ userID: String) -> UInt64 {
        var id = userID
        return id.withUTF8 { IDHash.hash(UnsafeRawBufferPointer($0), seed: 0x75_7365_7273) }
    }
}
