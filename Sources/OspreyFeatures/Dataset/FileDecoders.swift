import CSimdjsonBridge

/// What the file says about one input line, beyond the event the store consumes.
struct LineFacts {
    var eventID: String
    var userID: String
    var category: String?
    var sessionID: String?
    var truth = EventTruth()
}

/// Decodes the handbook's transactions (data README, "Format") as orders: `tx_id` is the
/// event, `customer_id` the user, `terminal_id` the merchant; `fraud` and `scenario` are the
/// truth.
final class HandbookDecoder {
    private static let keys = [
        "tx_id", "ts", "customer_id", "terminal_id", "amount", "fraud", "scenario",
    ]
    private let fields: JSONFields

    init(maxBytes: Int) { fields = JSONFields(keys: HandbookDecoder.keys, maxBytes: maxBytes) }

    /// Decodes one line; fills `facts` with strings only when `wantsText`.
    func decode(_ bytes: UnsafeRawBufferPointer, facts: inout LineFacts, wantsText: Bool)
        throws(DecodeError) -> DecodedEvent
    {
        if let error = fields.error(for: fields.parse(bytes)) { throw error }
        let transaction = try fields.requiredID(0, name: "tx_id")
        let customer = try fields.requiredID(2, name: "customer_id")
        let terminal = try fields.requiredID(3, name: "terminal_id")
        guard let amount = try fields.number(4, name: "amount") else {
            throw DecodeError(.missingField, field: "amount", "the field is required")
        }
        var event = DecodedEvent(
            kind: .order, timestampMs: try fields.timestamp(1, name: "ts"),
            amountCents: try fields.cents(amount, name: "amount"),
            eventHash: IDHash.hash(transaction, seed: DecodedEvent.eventSeed),
            user: EntityKey(bytes: customer), merchant: EntityKey(bytes: terminal))
        let fraud = try fields.integer(5, name: "fraud")
        let scenario = try fields.integer(6, name: "scenario")
        guard fraud == 0 || fraud == 1 else {
            throw DecodeError(.outOfRange, field: "fraud", "expected 0 or 1")
        }
        guard (0...3).contains(scenario) else {
            throw DecodeError(.outOfRange, field: "scenario", "expected 0 to 3")
        }
        event.labelFraud = fraud == 1
        guard wantsText else { return event }
        facts.eventID = fields.string(0)
        facts.userID = fields.string(2)
        facts.truth = EventTruth(
            fraud: fraud == 1,
            fraudType: fraud == 1 ? EventTruth.handbookFraudTypes[Int(scenario)] : nil, bot: nil)
        return event
    }
}

/// Decodes the YooChoose clickstream (data README, "Format"): views are clicks, purchases are
/// orders with amount = price × quantity, and the user is the session.
final class YoochooseDecoder {
    private static let keys = [
        "ts", "user_id", "session_id", "item_id", "category", "event", "price", "quantity",
    ]
    private let fields: JSONFields

    init(maxBytes: Int) { fields = JSONFields(keys: YoochooseDecoder.keys, maxBytes: maxBytes) }

    func decode(
        _ bytes: UnsafeRawBufferPointer, line: Int, facts: inout LineFacts, wantsText: Bool
    ) throws(DecodeError) -> DecodedEvent {
        if let error = fields.error(for: fields.parse(bytes)) { throw error }
        guard let kindText = try fields.optionalString(5, name: "event") else {
            throw DecodeError(.missingField, field: "event", "the field is required")
        }
        let kind: DecodedKind
        if equals(kindText, "view") {
            kind = .click
        } else if equals(kindText, "purchase") {
            kind = .order
        } else {
            throw DecodeError(.unknownType, field: "event", "expected view or purchase")
        }
        let user = try fields.requiredID(1, name: "user_id")
        let session = try fields.idBytes(2, name: "session_id")
        _ = try fields.requiredID(3, name: "item_id")
        var cents: Int32 = 0
        if kind == .order {
            let price = try fields.number(6, name: "price") ?? 0
            let quantity = try fields.number(7, name: "quantity") ?? 0
            cents = try fields.cents(price * quantity, name: "price")
        }
        let event = DecodedEvent(
            kind: kind, timestampMs: try fields.timestamp(0, name: "ts"), amountCents: cents,
            eventHash: 0, user: EntityKey(bytes: user),
            categoryHash: try fields.valueHash(4, name: "category"))
        guard wantsText else { return event }
        facts.userID = fields.string(1)
        facts.sessionID = session.map { String(decoding: $0, as: UTF8.self) }
        facts.category = fields.isMissing(4) ? nil : fields.string(4)
        // YooChoose has no event ids: the session and the line number make one.
        facts.eventID = (facts.sessionID ?? facts.userID) + ":" + String(line)
        return event
    }
}
