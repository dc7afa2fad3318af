import OspreyFeatures
import Testing

/// Idle entities are forgotten after the configured time, and come back as new.
@Suite struct EvictionTests {
    @Test func idleEntitiesAreEvictedAndReturnAsNew() throws {
        var configuration = shortConfiguration
        configuration.idleEviction = .seconds(400)
        configuration.labelHorizon = .seconds(400)
        let store = try FeatureStore(configuration: configuration)
        let schema = store.schema
        var vector = [Double](repeating: 0, count: schema.count)
        let start: Int64 = 1_700_000_000_000
        func click(_ user: String, at offset: Int64) throws {
            let event = DecodedEvent(
                kind: .click, timestampMs: start + offset, eventHash: 0, user: EntityKey(user),
                device: EntityKey("device-" + user))
            try vector.withUnsafeMutableBufferPointer { try store.process(event, into: $0) }
        }
        try click("idle", at: 0)
        try click("idle", at: 1_000)
        #expect(vector[schema.index(of: "user_seconds_since_previous")!] == 1)
        // Another user keeps the stream going for two hours, past the hourly sweeps.
        for minute in 1...120 { try click("busy", at: Int64(minute) * 60_000) }
        #expect(store.statistics.evictedEntities == 2)
        #expect(store.trackedEntities == 2)
        try click("idle", at: 121 * 60_000)
        #expect(vector[schema.index(of: "user_seconds_since_previous")!] == -1)
        #expect(vector[schema.index(of: "user_first_seen_age_seconds")!] == 0)
        #expect(vector[schema.index(of: "user_new_device")!] == 1)
        #expect(store.trackedEntities == 4)
    }
}
