import CSimdjsonBridge

/// Decodes events in the contract's JSON (DESIGN.md, "Events (input)") with simdjson.
///
/// Required: `type` (`click`, `order` or `label`), `event_id` (orders may use `order_id`),
/// `user_id` (1 to 128 bytes), `ts` (RFC 3339 or epoch milliseconds); orders also `amount`;
/// labels also `label` (`fraud` or `legit` for an order, `bot` or `human` for a click).
/// Optional fields, when present and not null, must
/// have their documented type. Unknown fields are ignored but must be valid JSON.
///
/// After a successful ``decode(_:)``, ``text(of:)`` gives the message's string fields until
/// the next call.
///
/// Thread: one thread at a time; each poll loop or reader owns its decoder.
public final class EventDecoder {
    /// The keys read, in the order of `Key`.
    private static let keyNames = [
        "type", "event_id", "order_id", "user_id", "ts", "session_id", "device_id", "ip",
        "country", "user_agent", "item_id", "category", "price", "amount", "currency",
        "merchant_id", "payment_method", "card_id", "shipping_country", "label", "fraud_type",
    ]

    /// A field of the contract, as an index into the parsed table.
    public enum Key: Int, Sendable {
        case type, eventID, orderID, userID, ts, sessionID, deviceID, ip, country, userAgent
        case itemID, category, price, amount, currency, merchantID, paymentMethod, cardID
        case shippingCountry, label, fraudType
    }

    private let fields: JSONFields

    /// - Parameter maxBytes: the largest message accepted (64 KiB by default).
    public init(maxBytes: Int = 65_536) {
        fields = JSONFields(keys: EventDecoder.keyNames, maxBytes: maxBytes)
    }

    /// Decodes one message.
    ///
    /// - Throws: ``DecodeError`` with the reason and the field; nothing else.
    public func decode(_ bytes: UnsafeRawBufferPointer) throws(DecodeError) -> DecodedEvent {
        if let error = fields.error(for: fields.parse(bytes)) { throw error }
        let kind = try eventKind()
        let eventBytes: UnsafeRawBufferPointer
        if let bytes = try fields.idBytes(Key.eventID.rawValue, name: "event_id") {
            eventBytes = bytes
        } else if kind == .order,
            let bytes = try fields.idBytes(Key.orderID.rawValue, name: "order_id")
        {
            eventBytes = bytes
        } else {
            throw DecodeError(.missingField, field: "event_id", "the field is required")
        }
        let user = try fields.requiredID(Key.userID.rawValue, name: "user_id")
        var event = DecodedEvent(
            kind: kind, timestampMs: try fields.timestamp(Key.ts.rawValue, name: "ts"),
            eventHash: IDHash.hash(eventBytes, seed: DecodedEvent.eventSeed),
            user: EntityKey(bytes: user))
        try checkOptionalStrings()

        switch kind {
        case .label:
            (event.labelFraud, event.judgesBehaviour) = try labelValue()
        case .order:
            guard let amount = try fields.number(Key.amount.rawValue, name: "amount") else {
                throw DecodeError(.missingField, field: "amount", "orders need an amount")
            }
            event.amountCents = try fields.cents(amount, name: "amount")
            event.merchant = try fields.entity(Key.merchantID.rawValue, name: "merchant_id")
            fallthrough
        case .click:
            if let price = try fields.number(Key.price.rawValue, name: "price"), kind == .click {
                _ = try fields.cents(price, name: "price")
            }
            event.device = try fields.entity(Key.deviceID.rawValue, name: "device_id")
            event.ip = try fields.entity(Key.ip.rawValue, name: "ip")
            event.countryHash = try fields.valueHash(Key.country.rawValue, name: "country")
            event.categoryHash = try fields.valueHash(Key.category.rawValue, name: "category")
        }
        return event
    }

    /// The text of a string or integer field of the last decoded message, or nil when absent.
    public func text(of key: Key) -> String? {
        fields.isMissing(key.rawValue) ? nil : fields.string(key.rawValue)
    }

    private func eventKind() throws(DecodeError) -> DecodedKind {
        guard let type = try fields.optionalString(Key.type.rawValue, name: "type") else {
            throw DecodeError(.missingField, field: "type", "the field is required")
        }
        if equals(type, "click") { return .click }
        if equals(type, "order") { return .order }
        if equals(type, "label") { return .label }
        throw DecodeError(.unknownType, field: "type", "expected click, order or label")
    }

    /// The label's verdict and whether it judges behaviour (`bot`, `human`) rather than an
    /// order (`fraud`, `legit`).
    private func labelValue() throws(DecodeError) -> (positive: Bool, behaviour: Bool) {
        guard let label = try fields.optionalString(Key.label.rawValue, name: "label") else {
            throw DecodeError(.missingField, field: "label", "labels need fraud or legit")
        }
        if equals(label, "fraud") { return (true, false) }
        if equals(label, "legit") { return (false, false) }
        if equals(label, "bot") { return (true, true) }
        if equals(label, "human") { return (false, true) }
        throw DecodeError(.outOfRange, field: "label", "expected fraud, legit, bot or human")
    }

    /// Optional fields that the features do not use must still have their documented types.
    private func checkOptionalStrings() throws(DecodeError) {
        _ = try fields.idBytes(Key.sessionID.rawValue, name: "session_id")
        _ = try fields.idBytes(Key.itemID.rawValue, name: "item_id")
        _ = try fields.idBytes(Key.cardID.rawValue, name: "card_id")
        _ = try fields.optionalString(Key.userAgent.rawValue, name: "user_agent")
        _ = try fields.optionalString(Key.currency.rawValue, name: "currency")
        _ = try fields.optionalString(Key.paymentMethod.rawValue, name: "payment_method")
        _ = try fields.optionalString(Key.shippingCountry.rawValue, name: "shipping_country")
        _ = try fields.optionalString(Key.fraudType.rawValue, name: "fraud_type")
    }
}

/// Whether `bytes` spell `literal` exactly.
@inline(__always)
func equals(_ bytes: UnsafeRawBufferPointer, _ literal: StaticString) -> Bool {
    guard bytes.count == literal.utf8CodeUnitCount else { return false }
    let pointer = literal.utf8Start
    for index in 0..<bytes.count where bytes[index] != pointer[index] { return false }
    return true
}
