import Foundation
import OspreyCore
import OspreyTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `osprey broker` as a separate process, used by an independent client.
@Suite(.timeLimit(.minutes(2)))
struct BrokerCommandTests {
    @Test func printsBootstrapServersServesKcatAndStopsOnSigterm() async throws {
        let topic = TestEnvironment.uniqueName("cli")
        let process = Process()
        process.executableURL = TestEnvironment.ospreyBinary
        process.arguments = ["broker", "--brokers", "2", "--topic", topic + ":3"]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        try process.run()

        // The first line on stdout is the bootstrap servers; nothing else is printed there.
        let firstLine = Shared<String?>(nil)
        let reader = Thread {
            var line: [UInt8] = []
            while true {
                let byte = output.fileHandleForReading.readData(ofLength: 1)
                guard let value = byte.first, value != UInt8(ascii: "\n") else { break }
                line.append(value)
            }
            firstLine.withLock { $0 = String(decoding: line, as: UTF8.self) }
        }
        reader.start()
        #expect(waitUntil(timeout: .seconds(20)) { firstLine.value != nil })
        let servers = try #require(firstLine.value)
        #expect(servers.split(separator: ",").count == 2)
        #expect(servers.split(separator: ",").allSatisfy { $0.hasPrefix("127.0.0.1:") })

        let produced = try runKcat(
            ["-P", "-b", servers, "-t", topic, "-p", "2", "-K", ":"],
            input: Data("a:one\nb:two\n".utf8))
        #expect(produced.status == 0, "\(produced.errors)")
        let consumed = try runKcat([
            "-C", "-b", servers, "-t", topic, "-p", "2", "-o", "beginning", "-e", "-q",
            "-f", "%k=%s\n",
        ])
        #expect(consumed.status == 0, "\(consumed.errors)")
        #expect(String(decoding: consumed.output, as: UTF8.self) == "a=one\nb=two\n")

        kill(process.processIdentifier, SIGTERM)
        let stopped = exited.wait(timeout: .now() + 20) == .success
        if !stopped { process.terminate() }
        #expect(stopped)
        #expect(process.terminationStatus == 0)
        let rest = output.fileHandleForReading.readDataToEndOfFile()
        #expect(rest.isEmpty)
        let log = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(log.contains("in-memory"))
    }

    @Test(arguments: [["--topic", "no-count"], ["--topic", "t:0"], ["--brokers", "0"]])
    func usageErrorsExitWith64(arguments: [String]) throws {
        let process = Process()
        process.executableURL = TestEnvironment.ospreyBinary
        process.arguments = ["broker"] + arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = Pipe()
        try process.run()
        let message = String(
            decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 64)
        #expect(message.contains("osprey broker --help"))
    }

    @Test func helpIsWrittenInFullSentences() throws {
        let process = Process()
        process.executableURL = TestEnvironment.ospreyBinary
        process.arguments = ["broker", "--help"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(
            decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let expected = """
            USAGE: osprey broker [--brokers N] [--topic NAME:PARTITIONS ...]

            Runs the embedded development broker and prints its bootstrap servers.

            The broker is librdkafka's mock cluster: it speaks the Kafka protocol on
            127.0.0.1, so any Kafka client can use it, but it keeps data in memory only, at
            most 5 MiB per partition, and loses everything when it stops. It is for
            development and tests, never production. The bootstrap servers are printed as
            one line on standard output; logs go to standard error. SIGINT or SIGTERM stops
            it.

            OPTIONS:
              --brokers N              Starts N brokers. The default is 1.
              --topic NAME:PARTITIONS  Creates a topic with this many partitions before the \
            servers are printed. Repeatable.
              --help                   Shows this help and exits.
              --version                Shows the version and exits.

            """
        #expect(text == expected)
    }
}
