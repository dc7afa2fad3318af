import Foundation
import OspreyCore
import OspreyDaemon
import OspreyKafka
import OspreySimulator

#if canImport(Glibc)
    import Glibc
#endif

/// `osprey bench pipeline`: the daemon end to end (consume, decode, features, scoring,
/// alerts) through the embedded broker, beside kcat's plain consume rate in the same run.
struct BenchPipelineCommand: Command {
    static let spec = CommandSpec(
        name: "bench pipeline",
        abstract: "Measures the daemon's end-to-end rate and alert latency beside kcat.",
        discussion: """
            Starts the embedded broker as a process of its own, trains a model on simulated
            history (osprey simulate and osprey train, as a user would), and fills the events
            topic with simulated traffic and the labels topic with its labels. kcat (at
            /usr/bin/kcat, or the path in OSPREY_KCAT) then reads the events once, as the
            baseline. Then osprey serve, as a process of its own with that model, works
            through the same events; its sustained rate is read from its /metrics. Last, with
            the daemon caught up, events are sent at 10%, 50% and 90% of that rate, and the
            latency from each event's send to its alert's write is taken from the alerts
            topic: the median and the 99th percentile at each load. The embedded broker keeps
            at most 5 MiB per partition in memory, so the events are spread over many
            partitions. With --training on, the daemon fine-tunes in the background meanwhile
            (training.interval 2s, or every 2000 joined labels); compare its figures with a run
            with --training off, the default.
            """,
        options: [
            OptionSpec(
                "events", value: "N",
                help: "Fills the events topic with N events. The default is 1000000."),
            OptionSpec(
                "partitions", value: "N",
                help: "Spreads them over N partitions. The default is 100."),
            OptionSpec(
                "phase", value: "DURATION",
                help: "Sends at each load for this long. The default is 5s."),
            OptionSpec("skip-kcat", help: "Measures Osprey only, without the kcat baseline."),
            OptionSpec(
                "training", value: "on|off",
                help: "Whether the daemon fine-tunes while it is measured. The default is off."),
        ])

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let events = try arguments.int("events", default: 1_000_000)
        let partitions = try arguments.int("partitions", default: 100)
        let phase = try arguments.duration("phase", default: .seconds(5))
        let training: Bool
        switch arguments.value("training") ?? "off" {
        case "on": training = true
        case "off": training = false
        case let other: throw UsageError("'--training' takes on or off, not '\(other)'")
        }
        guard events >= 1000, partitions >= 1 else {
            throw UsageError("'--events' must be at least 1000 and '--partitions' at least 1")
        }
        // A simulated event is about 330 bytes with its key and framing.
        let perPartition = Double(events) * 360 / Double(partitions)
        if perPartition > 5 * 1024 * 1024 {
            throw UsageError(
                "about \(Int(perPartition / 1_048_576)) MiB per partition is more than the "
                    + "embedded broker keeps (5 MiB); use more '--partitions'")
        }
        let logger = Logger(label: "bench")
        let work = try PipelineBenchDirectory()
        defer { work.remove() }

        logger.info("training a model on simulated history", [.path: .string(work.path)])
        let model = try PipelineBenchModel.train(in: work)
        let broker = try BrokerProcess(
            topics: ["events", "labels", "alerts", "events.dlq"], partitions: partitions)
        defer { broker.stop() }
        var traffic = PipelineBenchTraffic(startMs: PipelineBenchModel.historyEndMs)
        logger.info("filling the events topic", [.count: .of(events)])
        let preloaded = try traffic.preload(events: events, servers: broker.bootstrapServers)

        var baseline: BenchFigures?
        if !arguments.flag("skip-kcat") {
            let kcat = Kcat(
                path: ProcessInfo.processInfo.environment["OSPREY_KCAT"] ?? "/usr/bin/kcat",
                servers: broker.bootstrapServers)
            let workload = BenchWorkload(events: events, size: 1, partitions: partitions)
            logger.info("measuring", [.client: .string("kcat")])
            let before = childrenCPUSeconds()
            let figures = try kcat.consume(workload, topic: "events")
            baseline = BenchFigures(
                events: events, bytes: preloaded.bytes, seconds: figures.seconds,
                cpuSeconds: childrenCPUSeconds() - before)
        }

        let daemon = try PipelineBenchDaemon(
            servers: broker.bootstrapServers, model: model, work: work, training: training)
        defer { daemon.stop() }
        logger.info("measuring", [.client: .string("osprey serve")])
        let sustained = try daemon.measureBacklog(events: events)
        var latencies: [PipelineBenchLatency] = []
        for share in [0.1, 0.5, 0.9] {
            let rate = share * sustained.eventsPerSecond
            logger.info("measuring latency", [.rate: .double(rate.rounded())])
            latencies.append(
                try traffic.measureLatency(
                    share: share, rate: rate, duration: phase, servers: broker.bootstrapServers,
                    daemon: daemon, broker: broker))
        }
        print(
            PipelineBenchReport(
                events: events, partitions: partitions, baseline: baseline,
                sustained: sustained, latencies: latencies, training: daemon.trainingFigures(),
                checkpoints: daemon.checkpointFigures()
            ).render())
        return ExitCode.success
    }
}

/// CPU seconds used by the child processes that have ended and been waited for.
func childrenCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_CHILDREN.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
}
