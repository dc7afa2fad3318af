import Foundation
import OspreyFeatures
import Testing

/// The simdjson decoder: every refusal reason is reachable and names its field, arbitrary
/// bytes never crash it, and on valid events it agrees with Foundation's JSONSerialization.
@Suite(.timeLimit(.minutes(2))) struct EventDecoderTests {
    let decoder = EventDecoder(maxBytes: 1024)

    func decode(_ text: String) -> Result<DecodedEvent, DecodeError> {
        var copy = text
        return copy.withUTF8 { bytes in
            Result { () throws(DecodeError) in try decoder.decode(UnsafeRawBufferPointer(bytes)) }
        }
    }

    func reason(_ text: String) -> (DecodeReason, String?)? {
        guard case .failure(let error) = decode(text) else { return nil }
        return (error.reason, error.field)
    }

    static let order =
        #"{"type":"order","event_id":"o-1","user_id":"u-1","ts":"2026-12-03T17:52:16.123Z","#
        + #""amount":12.5,"merchant_id":"m-9","device_id":"d-1","ip":"10.0.0.1","country":"DE"}"#

    @Test func decodesTheContract() throws {
        let event = try decode(Self.order).get()
        #expect(event.kind == .order)
        #expect(event.timestampMs == 1_796_320_336_123)
        #expect(event.amountCents == 1250)
        #expect(event.user == EntityKey("u-1"))
        #expect(event.merchant == EntityKey("m-9"))
        #expect(event.device == EntityKey("d-1"))
        #expect(event.ip == EntityKey("10.0.0.1"))
        #expect(event.countryHash != 0)
        #expect(decoder.text(of: .eventID) == "o-1")
        let click = try decode(
            #"{"type":"click","event_id":7,"user_id":42,"ts":1796320336123,"category":"shoes"}"#
        ).get()
        #expect(click.kind == .click)
        #expect(click.user == EntityKey("42"))
        #expect(click.timestampMs == 1_796_320_336_123)
        let label = try decode(
            #"{"type":"label","event_id":"o-1","user_id":"u-1","ts":"2026-12-10T00:00:00+01:00","#
                + #""label":"fraud","fraud_type":"stolen_card"}"#
        ).get()
        #expect(label.kind == .label && label.labelFraud && !label.judgesBehaviour)
        #expect(label.timestampMs == 1_796_857_200_000)
        for (verdict, isBot) in [("bot", true), ("human", false)] {
            let behaviour = try decode(
                #"{"type":"label","event_id":"c-1","user_id":"u-1","ts":1796320336123,"#
                    + #""label":"\#(verdict)"}"#
            ).get()
            #expect(behaviour.judgesBehaviour && behaviour.labelFraud == isBot)
        }
        let byOrderID = try decode(
            #"{"type":"order","order_id":"x","user_id":"u","ts":1796320336123,"amount":3}"#
        ).get()
        #expect(byOrderID.eventHash == IDHash.hash("x", seed: DecodedEvent.eventSeed))
    }

    @Test func everyReasonIsReachableAndNamesItsField() throws {
        let cases: [(String, DecodeReason, String?)] = [
            (#"{"type":"click""#, .invalidJSON, nil),
            (#"{"type":"click","user_id":"bad \q escape"}"#, .invalidJSON, nil),
            (#"{"type":"click","extra":[1,2,}],"user_id":"u"}"#, .invalidJSON, nil),
            (#"{"type":"click","user_id":"u"} trailing"#, .invalidJSON, nil),
            (#"[1,2]"#, .notAnObject, nil),
            (#"null"#, .notAnObject, nil),
            (#"not json"#, .invalidJSON, nil),
            (#"[1,}"#, .invalidJSON, nil),
            (#"{"type":"click","user_id":"u","ts":1796320336123}"#, .missingField, "event_id"),
            (#"{"type":"click","event_id":"e","ts":1796320336123}"#, .missingField, "user_id"),
            (#"{"event_id":"e","user_id":"u","ts":1796320336123}"#, .missingField, "type"),
            (
                #"{"type":"order","event_id":"e","user_id":"u","ts":1796320336123}"#,
                .missingField, "amount"
            ),
            (#"{"type":"click","event_id":"e","user_id":"u"}"#, .missingField, "ts"),
            (
                #"{"type":"click","event_id":"e","user_id":true,"ts":1796320336123}"#,
                .wrongType, "user_id"
            ),
            (
                #"{"type":"order","event_id":"e","user_id":"u","ts":1796320336123,"amount":"9"}"#,
                .wrongType, "amount"
            ),
            (
                #"{"type":"click","event_id":"e","user_id":"u","ts":1796320336123,"ip":[1]}"#,
                .wrongType, "ip"
            ),
            (
                #"{"type":"order","event_id":"e","user_id":"u","ts":1796320336123,"amount":1e999}"#,
                .nonFinite, "amount"
            ),
            (
                #"{"type":"click","event_id":"e","user_id":"u","ts":"2026-02-30T00:00:00Z"}"#,
                .badTimestamp, "ts"
            ),
            (
                #"{"type":"click","event_id":"e","user_id":"u","ts":1796320336}"#,
                .badTimestamp, "ts"
            ),
            (
                #"{"type":"order","event_id":"e","user_id":"u","ts":1796320336123,"amount":1e9}"#,
                .outOfRange, "amount"
            ),
            (
                #"{"type":"click","event_id":"e","ts":1796320336123,"user_id":""#
                    + String(repeating: "u", count: 129) + #""}"#,
                .outOfRange, "user_id"
            ),
            (
                #"{"type":"label","event_id":"e","user_id":"u","ts":1796320336123,"#
                    + #""label":"maybe"}"#,
                .outOfRange, "label"
            ),
            (
                #"{"type":"view","event_id":"e","user_id":"u","ts":1796320336123}"#,
                .unknownType, "type"
            ),
            (
                "{\"type\":\"click\",\"pad\":\"" + String(repeating: "x", count: 2000) + "\"}",
                .tooLarge, nil
            ),
        ]
        var seen = Set<DecodeReason>()
        for (text, expected, field) in cases {
            let found = reason(text)
            #expect(found?.0 == expected, "\(text.prefix(80)) gave \(String(describing: found))")
            #expect(found?.1 == field, "\(text.prefix(80)) named \(String(describing: found?.1))")
            seen.insert(expected)
        }
        // Invalid UTF-8 needs raw bytes that a Swift string cannot hold.
        let raw: [UInt8] =
            Array(#"{"type":"click","user_id":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        let utf8 = raw.withUnsafeBytes { bytes in
            Result { () throws(DecodeError) in try decoder.decode(bytes) }
        }
        guard case .failure(let error) = utf8 else {
            Issue.record("invalid UTF-8 was accepted")
            return
        }
        #expect(error.reason == .invalidUTF8)
        seen.insert(.invalidUTF8)

        // The one reason the store gives: a time far ahead of the stream.
        let store = try FeatureStore()
        var vector = [Double](repeating: 0, count: store.schema.count)
        let now = try decode(Self.order).get()
        var future = now
        // Ahead of both the stream and the wall clock by more than the day's tolerance.
        future.timestampMs = Int64(Date().timeIntervalSince1970 * 1000) + 3 * 86_400_000
        try vector.withUnsafeMutableBufferPointer { try store.process(now, into: $0) }
        #expect(throws: DecodeError.self) {
            try vector.withUnsafeMutableBufferPointer { try store.process(future, into: $0) }
        }
        #expect(store.statistics.futureEvents == 1)
        seen.insert(.futureTimestamp)
        #expect(seen == Set(DecodeReason.allCases))
    }

    @Test func randomBytesAndMutatedEventsNeverCrash() {
        var random = SeededGenerator(seed: 2026)
        let valid = Array(Self.order.utf8)
        let alphabet = Array(#"{}[]":,.-+eE0123456789 truefalsnl\"#.utf8)
        var accepted = 0
        var refused = 0
        for round in 0..<30_000 {
            var bytes: [UInt8]
            switch round % 3 {
            case 0:
                bytes = (0..<Int.random(in: 0..<300, using: &random)).map { _ in
                    UInt8.random(in: 0...255, using: &random)
                }
            case 1:
                bytes = (0..<Int.random(in: 0..<120, using: &random)).map { _ in
                    alphabet[Int.random(in: 0..<alphabet.count, using: &random)]
                }
            default:
                bytes = valid
                for _ in 0..<Int.random(in: 1...4, using: &random) {
                    let position = Int.random(in: 0..<bytes.count, using: &random)
                    switch Int.random(in: 0..<3, using: &random) {
                    case 0: bytes[position] = UInt8.random(in: 0...255, using: &random)
                    case 1: bytes.remove(at: position)
                    default:
                        bytes.insert(
                            alphabet[Int.random(in: 0..<alphabet.count, using: &random)],
                            at: position)
                    }
                }
            }
            let result = bytes.withUnsafeBytes { raw in
                Result { () throws(DecodeError) in try decoder.decode(raw) }
            }
            switch result {
            case .success: accepted += 1
            case .failure: refused += 1
            }
        }
        #expect(accepted + refused == 30_000)
        #expect(accepted > 0)
        #expect(refused > 20_000)
    }

    @Test func agreesWithJSONSerializationOnValidEvents() throws {
        var random = SeededGenerator(seed: 77)
        for round in 0..<3000 {
            let text = randomValidEvent(&random, round: round)
            let ours = try decode(text).get()
            let reference = try ReferenceDecoder.decode(text)
            #expect(ours.kind == reference.kind, "\(text)")
            #expect(ours.timestampMs == reference.timestampMs, "\(text)")
            #expect(ours.amountCents == reference.amountCents, "\(text)")
            #expect(ours.eventHash == reference.eventHash, "\(text)")
            #expect(ours.user == reference.user, "\(text)")
            #expect(ours.merchant == reference.merchant, "\(text)")
            #expect(ours.device == reference.device, "\(text)")
            #expect(ours.countryHash == reference.countryHash, "\(text)")
            #expect(ours.categoryHash == reference.categoryHash, "\(text)")
            #expect(ours.labelFraud == reference.labelFraud, "\(text)")
        }
    }

    /// A valid event with random field order, spacing, escapes, optional and unknown fields.
    private func randomValidEvent(_ random: inout SeededGenerator, round: Int) -> String {
        let kinds = ["click", "order", "label"]
        let kind = kinds[round % 3]
        func id(_ prefix: String) -> String {
            if Bool.random(using: &random) {
                return String(Int.random(in: 0...99_999, using: &random))
            }
            let pieces = [
                "\\u00e9", "\\\"", "\\\\", "\\n", "/", "\\/", "ab", "Z", "😀", "\\ud83d\\ude00",
            ]
            var text = prefix
            for _ in 0..<Int.random(in: 0...4, using: &random) {
                text += pieces[Int.random(in: 0..<pieces.count, using: &random)]
            }
            return "\"" + text + "\""
        }
        let millis = Int64.random(in: 1_500_000_000_000...1_900_000_000_000, using: &random)
        let ts: String
        if Bool.random(using: &random) {
            ts = String(millis)
        } else {
            let date = Date(timeIntervalSince1970: Double(millis) / 1000)
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            ts = "\"" + formatter.string(from: date) + "\""
        }
        var fields = [
            "\"type\":\"\(kind)\"", "\"event_id\":\(id("e"))", "\"user_id\":\(id("u"))",
            "\"ts\":\(ts)",
        ]
        if kind == "order" {
            let cents = Int.random(in: -100_000...10_000_000, using: &random)
            fields.append("\"amount\":\(Double(cents) / 100)")
            if Bool.random(using: &random) { fields.append("\"merchant_id\":\(id("m"))") }
        }
        if kind == "label" {
            fields.append("\"label\":\"\(Bool.random(using: &random) ? "fraud" : "legit")\"")
        }
        if kind != "label" {
            if Bool.random(using: &random) { fields.append("\"device_id\":\(id("d"))") }
            if Bool.random(using: &random) { fields.append("\"country\":\(id("c"))") }
            if Bool.random(using: &random) { fields.append("\"category\":null") }
            if Bool.random(using: &random) { fields.append("\"category\":\(id("k"))") }
        }
        if Bool.random(using: &random) {
            fields.append("\"extra\":{\"nested\":[1,2.5e3,{\"x\":null}],\"flag\":true}")
        }
        if Bool.random(using: &random) { fields.append("\"user_agent\":\"Mozilla/5.0\"") }
        fields.shuffle(using: &random)
        let spacing = [" ", "", "\n", "\t"]
        return "{" + fields.joined(separator: "," + spacing.randomElement(using: &random)!) + "}"
    }
}

/// The reference: Foundation's JSONSerialization, then the contract's rules by hand.
enum ReferenceDecoder {
    struct Failure: Error {}

    static func idText(_ value: Any?) -> String? {
        if let string = value as? String { return string }
        if let number = value as? NSNumber { return number.stringValue }
        return nil
    }

    static func decode(_ text: String) throws -> DecodedEvent {
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
        let kind: DecodedKind =
            switch object["type"] as! String {
            case "click": .click
            case "order": .order
            default: .label
            }
        let timestamp: Int64
        if let string = object["ts"] as? String {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            let date = try formatter.date(from: string) ?? { throw Failure() }()
            timestamp = Int64((date.timeIntervalSince1970 * 1000).rounded())
        } else {
            timestamp = (object["ts"] as! NSNumber).int64Value
        }
        var event = DecodedEvent(
            kind: kind, timestampMs: timestamp,
            eventHash: IDHash.hash(idText(object["event_id"])!, seed: DecodedEvent.eventSeed),
            user: EntityKey(idText(object["user_id"])!))
        if kind == .order {
            event.amountCents = Int32(((object["amount"] as! NSNumber).doubleValue * 100).rounded())
            event.merchant = idText(object["merchant_id"]).map(EntityKey.init)
        }
        if kind == .label { event.labelFraud = object["label"] as? String == "fraud" }
        if kind != .label {
            event.device = idText(object["device_id"]).map(EntityKey.init)
            event.countryHash =
                idText(object["country"]).map {
                    IDHash.hash($0, seed: DecodedEvent.valueSeed)
                } ?? 0
            event.categoryHash =
                idText(object["category"]).map {
                    IDHash.hash($0, seed: DecodedEvent.valueSeed)
                } ?? 0
        }
        return event
    }
}
