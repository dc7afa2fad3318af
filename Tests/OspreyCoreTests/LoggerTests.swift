import OspreyCore
import Synchronization
import Testing

@Suite struct LoggerTests {
    final class Capture: Sendable {
        let lines = Mutex<[String]>([])
    }

    @Test func writesLogfmtWithQuotedValues() {
        let capture = Capture()
        let sink = LogSink(minimumLevel: .info) { line in capture.lines.withLock { $0.append(line) }
        }
        let logger = Logger(label: "test", sink: sink).with(.topic, "events")
        logger.info("checkpoint written", [.partition: 3, .path: "/tmp/a b", .bytes: 1024])
        logger.debug("not written")
        let lines = capture.lines.withLock { $0 }
        #expect(lines.count == 1)
        let line = lines[0]
        #expect(line.hasPrefix("ts="))
        #expect(line.contains(" level=info logger=test msg=\"checkpoint written\" topic=events"))
        #expect(line.hasSuffix(" partition=3 path=\"/tmp/a b\" bytes=1024\n"))
    }

    @Test func escapesQuotesAndControlCharacters() {
        #expect(LogValue.string("a\"b\nc").description == "\"a\\\"b\\nc\"")
        #expect(LogValue.string("").description == "\"\"")
        #expect(LogValue.string("plain").description == "plain")
        #expect(LogValue.double(0.25).description == "0.25")
        #expect(LogValue.double(3).description == "3")
    }

    @Test func mapsSyslogLevels() {
        #expect(LogLevel(syslogLevel: 0) == .critical)
        #expect(LogLevel(syslogLevel: 3) == .error)
        #expect(LogLevel(syslogLevel: 4) == .warning)
        #expect(LogLevel(syslogLevel: 5) == .notice)
        #expect(LogLevel(syslogLevel: 6) == .info)
        #expect(LogLevel(syslogLevel: 7) == .debug)
    }
}
