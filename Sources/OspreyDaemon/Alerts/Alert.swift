import OspreyCore

/// One head's score as alerts and score records carry it.
public enum HeadScore: Sendable, Equatable {
    /// A sigmoid head: the probability.
    case probability(Double)
    /// A softmax head: each class with its probability, in the model's class order.
    case distribution([(label: String, probability: Double)])

    public static func == (lhs: HeadScore, rhs: HeadScore) -> Bool {
        switch (lhs, rhs) {
        case (.probability(let a), .probability(let b)): return a == b
        case (.distribution(let a), .distribution(let b)):
            return a.map(\.label) == b.map(\.label) && a.map(\.probability) == b.map(\.probability)
        default: return false
        }
    }
}

/// A head that fired: its score passed its threshold.
public struct FiredHead: Sendable, Equatable {
    public let head: String
    public let score: Double
    public let threshold: Double

    public init(head: String, score: Double, threshold: Double) {
        self.head = head
        self.score = score
        self.threshold = threshold
    }
}

/// A feature that pushed the fired heads' scores up, with its value and its contribution.
public struct FeatureContribution: Sendable, Equatable {
    public let name: String
    public let value: Double
    public let contribution: Double

    public init(name: String, value: Double, contribution: Double) {
        self.name = name
        self.value = value
        self.contribution = contribution
    }
}

/// Where an event was read: its topic, partition and offset.
public struct SourcePosition: Sendable, Equatable {
    public let topic: String
    public let partition: Int32
    public let offset: Int64

    public init(topic: String, partition: Int32, offset: Int64) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }
}

/// An alert as written to the alerts topic; `config/alert.schema.json` is its contract.
public struct Alert: Sendable, Equatable {
    public static let schemaVersion = 1

    public let eventID: String
    /// `click` or `order`.
    public let eventType: String
    public let userID: String
    public let eventTimeMs: Int64
    public let source: SourcePosition
    /// Every head's score, in the model's head order.
    public let scores: [(head: String, score: HeadScore)]
    public let fired: [FiredHead]
    public let topFeatures: [FeatureContribution]
    public let modelVersion: Int
    public let instance: String
    public let emittedAtMs: Int64

    public init(
        eventID: String, eventType: String, userID: String, eventTimeMs: Int64,
        source: SourcePosition, scores: [(head: String, score: HeadScore)], fired: [FiredHead],
        topFeatures: [FeatureContribution], modelVersion: Int, instance: String,
        emittedAtMs: Int64
    ) {
        self.eventID = eventID
        self.eventType = eventType
        self.userID = userID
        self.eventTimeMs = eventTimeMs
        self.source = source
        self.scores = scores
        self.fired = fired
        self.topFeatures = topFeatures
        self.modelVersion = modelVersion
        self.instance = instance
        self.emittedAtMs = emittedAtMs
    }

    /// The deterministic id: the same source topic, event type and event id give the same id.
    public var alertID: String {
        AlertID.make(topic: source.topic, eventType: eventType, eventID: eventID)
    }

    /// The alert as compact JSON, fields in the schema's order.
    public func json() -> [UInt8] {
        var writer = JSONWriter(capacity: 768)
        writer.beginObject()
        writer.field("schema_version", int: Int64(Alert.schemaVersion))
        writer.field("alert_id", alertID)
        writer.key("event")
        writer.beginObject()
        writer.field("id", eventID)
        writer.field("type", eventType)
        writer.field("user_id", userID)
        writer.field("ts", TimestampText.rfc3339(milliseconds: eventTimeMs))
        writer.endObject()
        writer.key("source")
        writer.beginObject()
        writer.field("topic", source.topic)
        writer.field("partition", int: Int64(source.partition))
        writer.field("offset", int: source.offset)
        writer.endObject()
        writer.key("scores")
        Alert.writeScores(scores, into: &writer)
        writer.key("fired")
        writer.beginArray()
        for head in fired {
            writer.beginObject()
            writer.field("head", head.head)
            writer.field("score", head.score)
            writer.field("threshold", head.threshold)
            writer.endObject()
        }
        writer.endArray()
        writer.key("top_features")
        writer.beginArray()
        for feature in topFeatures {
            writer.beginObject()
            writer.field("name", feature.name)
            writer.field("value", feature.value)
            writer.field("contribution", feature.contribution)
            writer.endObject()
        }
        writer.endArray()
        writer.field("model_version", int: Int64(modelVersion))
        writer.field("instance", instance)
        writer.field("emitted_at", TimestampText.rfc3339(milliseconds: emittedAtMs))
        writer.endObject()
        return writer.bytes
    }

    /// The `scores` object: a number per sigmoid head, an object per distribution head.
    static func writeScores(
        _ scores: [(head: String, score: HeadScore)], into writer: inout JSONWriter
    ) {
        writer.beginObject()
        for (head, score) in scores {
            writer.key(head)
            switch score {
            case .probability(let value): writer.double(value)
            case .distribution(let classes):
                writer.beginObject()
                for (label, probability) in classes { writer.field(label, probability) }
                writer.endObject()
            }
        }
        writer.endObject()
    }

    public static func == (lhs: Alert, rhs: Alert) -> Bool {
        lhs.json() == rhs.json()
    }
}

/// The record on the optional scores topic: the event's id, the model version and every
/// head's score, for analytics.
public struct ScoreRecord: Sendable {
    public let eventID: String
    public let modelVersion: Int
    public let scores: [(head: String, score: HeadScore)]

    public init(eventID: String, modelVersion: Int, scores: [(head: String, score: HeadScore)]) {
        self.eventID = eventID
        self.modelVersion = modelVersion
        self.scores = scores
    }

    public func json() -> [UInt8] {
        var writer = JSONWriter(capacity: 256)
        writer.beginObject()
        writer.field("event_id", eventID)
        writer.field("model_version", int: Int64(modelVersion))
        writer.key("scores")
        Alert.writeScores(scores, into: &writer)
        writer.endObject()
        return writer.bytes
    }
}
