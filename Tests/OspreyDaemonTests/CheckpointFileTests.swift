import Foundation
import OspreyCore
import OspreyDaemon
import OspreyTestSupport
import Testing

@Suite struct CheckpointFileTests {
    @Test func roundTripsAndKeepsThePrevious() throws {
        let directory = try TestEnvironment.temporaryDirectory()
        let file = CheckpointFile(directory: directory.path)
        #expect(try file.read() == nil)

        try file.write(Array("first".utf8))
        try file.write(Array("second".utf8))
        let loaded = try #require(try file.read())
        #expect(loaded.payload == Array("second".utf8))
        #expect(loaded.refusedCurrent == nil)
        #expect(try file.load(file.previousPath) == Array("first".utf8))
    }

    @Test(arguments: ["truncate", "flip", "garbage", "extend"])
    func refusesADamagedCurrentAndFallsBack(damage: String) throws {
        let directory = try TestEnvironment.temporaryDirectory()
        let file = CheckpointFile(directory: directory.path)
        try file.write(Array(repeating: 7, count: 1000))
        try file.write(Array(repeating: 9, count: 1000))

        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: file.currentPath)))
        switch damage {
        case "truncate": bytes.removeLast(10)
        case "flip": bytes[500] ^= 0x40
        case "garbage": bytes = Array("not a checkpoint at all, just some text".utf8)
        default: bytes += [1, 2, 3]
        }
        try Data(bytes).write(to: URL(fileURLWithPath: file.currentPath))

        #expect(throws: CheckpointError.self) { try file.load(file.currentPath) }
        let loaded = try #require(try file.read())
        #expect(loaded.payload == Array(repeating: 7, count: 1000))
        #expect(loaded.path == file.previousPath)
        #expect(loaded.refusedCurrent != nil)
    }

    @Test func refusesWhenNoValidCheckpointRemains() throws {
        let directory = try TestEnvironment.temporaryDirectory()
        let file = CheckpointFile(directory: directory.path)
        try file.write(Array("only".utf8))
        try Data("short".utf8).write(to: URL(fileURLWithPath: file.currentPath))
        #expect(throws: CheckpointError.truncated(path: file.currentPath)) { try file.read() }
    }
}

@Suite struct AlertEncodingTests {
    @Test func jsonWriterOutputParsesBack() throws {
        var writer = JSONWriter()
        writer.beginObject()
        writer.field("text", "quote \" backslash \\ newline \n tab \t bell \u{07} é")
        writer.field("number", 0.1)
        writer.field("whole", 3.0)
        writer.field("nan", Double.nan)
        writer.key("list")
        writer.beginArray()
        writer.int(1)
        writer.bool(true)
        writer.null()
        writer.beginObject()
        writer.endObject()
        writer.endArray()
        writer.endObject()

        let parsed = try JSONSerialization.jsonObject(with: Data(writer.bytes)) as? [String: Any]
        let object = try #require(parsed)
        #expect(
            object["text"] as? String == "quote \" backslash \\ newline \n tab \t bell \u{07} é")
        #expect(object["number"] as? Double == 0.1)
        #expect(object["whole"] as? Int == 3)
        #expect(object["nan"] is NSNull)
        #expect((object["list"] as? [Any])?.count == 4)
    }

    @Test func alertIDIsDeterministicAndDistinguishesFields() {
        let id = AlertID.make(topic: "events", eventType: "order", eventID: "42")
        #expect(id == AlertID.make(topic: "events", eventType: "order", eventID: "42"))
        #expect(id.count == 32)
        #expect(id != AlertID.make(topic: "events", eventType: "order", eventID: "43"))
        #expect(id != AlertID.make(topic: "events", eventType: "click", eventID: "42"))
        #expect(
            AlertID.make(topic: "a", eventType: "bc", eventID: "1")
                != AlertID.make(topic: "ab", eventType: "c", eventID: "1"))
    }
}
