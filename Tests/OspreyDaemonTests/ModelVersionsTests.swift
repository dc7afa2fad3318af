import Foundation
import OspreyCore
import OspreyDaemon
import OspreyFeatures
import OspreyModel
import OspreyTestSupport
import Testing

/// The serving choice's file format and the lock that keeps concurrent changes consistent.
@Suite(.timeLimit(.minutes(3))) struct ModelVersionsTests {
    @Test func theChoiceReadsBackAndADamagedOneIsNamed() throws {
        let choice = ServingChoice(
            version: 7, previous: Array(1...40), changedAt: "2026-12-04T06:00:00.000Z")
        #expect(choice.previous == Array(9...40), "at most 32 earlier versions are kept")
        #expect(try ServingChoice.decode(choice.encoded(), path: "s") == choice)
        #expect(
            String(
                decoding: ServingChoice(version: 2, previous: [], changedAt: "t").encoded(),
                as: UTF8.self) == "version 2\nprevious\nchanged_at t\n")
        for text in ["", "previous 1 2\n", "version -1\n", "version 3\nprevious 1 x\n"] {
            #expect(throws: ModelVersionError.self) {
                try ServingChoice.decode(Array(text.utf8), path: "s")
            }
        }
    }

    @Test func aModelPathOutsideTheCatalogBecomesOneOfItsVersions() throws {
        let directory = try TestEnvironment.temporaryDirectory("model-import")
        defer { try? FileManager.default.removeItem(at: directory) }
        let state = directory.appendingPathComponent("state").path
        let outside = directory.appendingPathComponent("trained.safetensors").path
        let schema = FeatureSchema(names: ["a", "b", "c"])
        let trained = ModelCatalog.freshModel(schema: schema, seed: 5)
        trained.version = "1"
        try writeFileAtomically(trained.encoded(), to: outside)
        let catalog = ModelCatalog(stateDirectory: state)

        let (model, origin) = try catalog.startingModel(configuredPath: outside, schema: schema)
        #expect(origin == .configured(path: outside))
        #expect(model.version == "1")
        #expect(catalog.versions() == [1], "fine-tuning needs the parent among the versions")
        let copy = try Model.load(path: catalog.path(of: 1))
        #expect(copy.schema == schema && copy.version == "1")

        // Versions on disk but no choice: the import goes after the newest, never over one.
        try catalog.install(ModelCatalog.freshModel(schema: schema, seed: 6), as: 2)
        let (again, _) = try catalog.startingModel(configuredPath: outside, schema: schema)
        #expect(again.version == "3")
        #expect(catalog.versions() == [1, 2, 3])
        // A model.path naming a catalog file is that version, copied nowhere.
        let (inside, _) = try catalog.startingModel(
            configuredPath: catalog.path(of: 2), schema: schema)
        #expect(inside.version == "2")
        #expect(catalog.versions() == [1, 2, 3])
    }

    @Test func concurrentPromotionsKeepOneChainOfChanges() throws {
        let directory = try TestEnvironment.temporaryDirectory("model-lock")
        defer { try? FileManager.default.removeItem(at: directory) }
        let state = directory.path
        let schema = FeatureSchema(names: ["a", "b", "c"])
        for version in 1...3 {
            try ModelCatalog(stateDirectory: state).install(
                ModelCatalog.freshModel(schema: schema, seed: UInt64(version)), as: version)
        }
        let versions = ModelVersions(stateDirectory: state)
        #expect(try versions.chooseIfUnchosen(3, reason: "start"))
        #expect(try versions.chooseIfUnchosen(1, reason: "start") == false)
        let failures = Locked(0)
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            for step in 0..<10 {
                let target = (worker + step) % 3 + 1
                do {
                    _ = try versions.promote(target, reason: "worker \(worker)", keep: 10)
                } catch {
                    failures.withLock { $0 += 1 }
                }
            }
        }
        #expect(failures.value == 0)
        // Each change starts from the version the one before it ended with: no two writers
        // read the same choice and both replaced it.
        let entries = versions.history.entries()
        #expect(entries.first?.action == "start")
        #expect(entries.count >= 2)
        for (before, after) in zip(entries, entries.dropFirst()) {
            #expect(after.from == before.to, "\(before) then \(after)")
        }
        let choice = try #require(try versions.choice())
        #expect(choice.version == entries.last?.to)
        #expect(choice.previous.last == entries.last?.from)
        #expect(choice.previous.count == min(32, entries.count - 1))
    }
}
