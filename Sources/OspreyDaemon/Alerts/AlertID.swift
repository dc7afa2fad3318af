/// The deterministic identifier of an alert: the same input event always gives the same id, so
/// that downstream consumers can drop the duplicates that at-least-once delivery may bring.
///
/// The id is 128 bits of two independent 64-bit FNV-1a hashes over the source topic, the event
/// type and the event id, written as 32 lowercase hex digits. It identifies; it does not
/// authenticate (anyone can compute it).
public enum AlertID {
    public static func make(topic: String, eventType: String, eventID: String) -> String {
        var low: UInt64 = 0xcbf2_9ce4_8422_2325
        var high: UInt64 = 0x6c62_272e_07bb_0142
        func mix(_ text: String) {
            for byte in text.utf8 {
                low = (low ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
                high = (high ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 &+ 0x9e37_79b9_7f4a_7c15
            }
            // A separator that cannot occur inside the UTF-8 of a string keeps fields apart.
            low = (low ^ 0xff) &* 0x0000_0100_0000_01b3
            high = (high ^ 0xff) &* 0x0000_0100_0000_01b3 &+ 0x9e37_79b9_7f4a_7c15
        }
        mix(topic)
        mix(eventType)
        mix(eventID)
        return hex(high) + hex(low)
    }

    private static func hex(_ value: UInt64) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: 16 - text.count) + text
    }
}
