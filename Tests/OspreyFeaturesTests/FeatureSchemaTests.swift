import OspreyFeatures
import Testing

@Suite struct FeatureSchemaTests {
    @Test func hashIsStableAndSensitiveToNamesOrderAndRevision() {
        let schema = FeatureSchema(names: ["a", "b", "c"])
        #expect(schema.hash == FeatureSchema(names: ["a", "b", "c"]).hash)
        #expect(schema.hash.count == 16)
        #expect(schema.hash != FeatureSchema(names: ["b", "a", "c"]).hash)
        #expect(schema.hash != FeatureSchema(names: ["a", "b"]).hash)
        #expect(schema.hash != FeatureSchema(names: ["a", "b", "c"], revision: 2).hash)
        // Joining names must not be ambiguous: ["ab", "c"] is not ["a", "bc"].
        #expect(FeatureSchema(names: ["ab", "c"]).hash != FeatureSchema(names: ["a", "bc"]).hash)
        #expect(schema.index(of: "c") == 2)
        #expect(schema.index(of: "z") == nil)
    }
}
