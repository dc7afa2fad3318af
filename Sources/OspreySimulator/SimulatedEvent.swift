import OspreyCore

/// One click or order of the simulation, with the truth about it.
struct SimulatedEvent: Sendable {
    enum Kind: Sendable { case click, order }

    var kind: Kind
    var timeMs: Int64
    var userID: String
    var sessionID: String
    var deviceID: String
    var ip: String
    var country: String
    var userAgent: String
    // Clicks.
    var itemID: String = ""
    var category: String = ""
    var price: Double = 0
    // Orders.
    var amount: Double = 0
    var merchantID: String = ""
    var paymentMethod: String = "card"
    var cardID: String = ""
    var shippingCountry: String = ""
    var items: Int = 1
    /// The pattern the session follows: the truth behind the labels.
    var pattern: SessionPattern

    init(
        _ kind: Kind, at timeMs: Int64, user: String, session: String, device: String, ip: String,
        country: String, userAgent: String, pattern: SessionPattern
    ) {
        self.kind = kind
        self.timeMs = timeMs
        self.userID = user
        self.sessionID = session
        self.deviceID = device
        self.ip = ip
        self.country = country
        self.userAgent = userAgent
        self.pattern = pattern
    }

    /// The event as one line of the input contract in DESIGN.md.
    func json(eventID: String) -> [UInt8] {
        var writer = JSONWriter(capacity: 384)
        writer.beginObject()
        writer.field("type", kind == .click ? "click" : "order")
        writer.field("event_id", eventID)
        writer.field("user_id", userID)
        writer.field("ts", TimestampText.rfc3339(milliseconds: timeMs))
        writer.field("session_id", sessionID)
        writer.field("device_id", deviceID)
        writer.field("ip", ip)
        writer.field("country", country)
        writer.field("user_agent", userAgent)
        switch kind {
        case .click:
            writer.field("item_id", itemID)
            writer.field("category", category)
            writer.field("price", price)
        case .order:
            writer.field("amount", amount)
            writer.field("currency", "EUR")
            writer.field("merchant_id", merchantID)
            writer.field("payment_method", paymentMethod)
            writer.field("card_id", cardID)
            writer.field("shipping_country", shippingCountry)
            writer.field("items", int: Int64(items))
        }
        writer.endObject()
        return writer.bytes
    }
}
