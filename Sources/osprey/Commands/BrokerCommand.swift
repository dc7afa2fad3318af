import OspreyCore
import OspreyKafka

#if canImport(Glibc)
    import Glibc
#endif

/// `osprey broker`: runs the embedded development broker until SIGINT or SIGTERM.
struct BrokerCommand: Command {
    static let spec = CommandSpec(
        name: "broker",
        abstract: "Runs the embedded development broker and prints its bootstrap servers.",
        discussion: """
            The broker is librdkafka's mock cluster: it speaks the Kafka protocol on
            127.0.0.1, so any Kafka client can use it, but it keeps data in memory only, at
            most 5 MiB per partition, and loses everything when it stops. It is for
            development and tests, never production. The bootstrap servers are printed as
            one line on standard output; logs go to standard error. SIGINT or SIGTERM stops
            it.
            """,
        options: [
            OptionSpec("brokers", value: "N", help: "Starts N brokers. The default is 1."),
            OptionSpec(
                "topic", value: "NAME:PARTITIONS", repeatable: true,
                help: "Creates a topic with this many partitions before the servers are printed."),
        ])

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        // Forwarded to a pipe, whichever thread the kernel hands them to.
        SignalPipe.install([SIGINT, SIGTERM])

        let brokers = try arguments.int("brokers", default: 1)
        guard brokers >= 1 else { throw UsageError("option '--brokers' must be at least 1") }
        let topics = try arguments.all("topic").map(parseTopic)

        let logger = Logger(label: "broker")
        let broker = try EmbeddedBroker(brokers: brokers, logger: logger)
        for (name, partitions) in topics {
            try broker.createTopic(
                name, partitions: partitions, replicationFactor: min(brokers, 3))
        }
        logger.notice(
            "in-memory development broker started; at most 5 MiB per partition",
            [
                .bootstrapServers: .string(broker.bootstrapServers), .brokers: .of(brokers),
                .count: .of(topics.count),
            ])
        print(broker.bootstrapServers)
        fflush(nil)  // nil: every output stream, stdout among them.

        let signal = SignalPipe.wait()
        logger.info(
            "stopping the development broker", [.signal: .string(SignalSet.name(of: signal))])
        return ExitCode.success
    }

    /// `NAME:PARTITIONS` as a topic name and a partition count of at least 1.
    static func parseTopic(_ text: String) throws(UsageError) -> (String, Int) {
        guard let colon = text.lastIndex(of: ":"),
            let count = Int(text[text.index(after: colon)...]),
            count >= 1, colon != text.startIndex
        else {
            throw UsageError(
                "option '--topic' expects NAME:PARTITIONS with at least 1 partition, not '\(text)'")
        }
        return (String(text[..<colon]), count)
    }
}
