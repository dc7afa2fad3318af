import Foundation
import OspreyCore
import OspreyDaemon
import OspreyKafka
import OspreySimulator

#if canImport(Glibc)
    import Glibc
#endif

/// A temporary directory for one benchmark run, removed at the end.
struct PipelineBenchDirectory {
    let path: String

    init() throws {
        var template = Array(
            (NSTemporaryDirectory() + "/osprey-bench-pipeline.XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) })
        else { throw BenchFailure(message: "cannot make a temporary directory") }
        path = String(cString: made)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// The model the daemon serves: trained by `osprey train` on simulated history.
enum PipelineBenchModel {
    static let historyStartMs: Int64 = 1_767_571_200_000
    static let history: Duration = .seconds(600)
    static var historyEndMs: Int64 { historyStartMs + history.totalMilliseconds }

    /// Simulates ten minutes of traffic (labels a minute later) and trains on it; returns the
    /// model file's path.
    static func train(in work: PipelineBenchDirectory) throws -> String {
        var settings = SimulationSettings()
        settings.seed = 1
        settings.users = 3000
        settings.rate = 300
        settings.duration = history
        settings.labelDelay = .seconds(60)
        settings.startMs = historyStartMs
        var text: [UInt8] = []
        for record in TrafficSimulator(settings: settings) {
            text += record.json
            text.append(UInt8(ascii: "\n"))
        }
        let input = work.path + "/history.jsonl"
        let output = work.path + "/model.safetensors"
        try Data(text).write(to: URL(fileURLWithPath: input))
        let day = TimestampText.rfc3339(milliseconds: historyStartMs).prefix(10)
        try runOsprey([
            "train", "--input", input, "--format", "events", "--from", String(day), "--to",
            String(day), "--out", output, "--quiet",
        ])
        return output
    }

    /// Runs this executable with `arguments` to its end.
    ///
    /// - Throws: ``BenchFailure`` when it cannot start or exits with another status than 0.
    static func runOsprey(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try executable())
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw BenchFailure(
                message: "osprey \(arguments[0]) exited with status \(process.terminationStatus)")
        }
    }

    static func executable() throws -> String {
        guard let path = Bundle.main.executablePath else {
            throw BenchFailure(message: "cannot find the osprey executable")
        }
        return path
    }
}

/// `osprey serve` as a process of its own, with a configuration for the benchmark.
///
/// Its log goes to a file in the work directory, where the metrics address is read from.
final class PipelineBenchDaemon {
    private let process = Process()
    let metricsURL: String

    /// The daemon's fine-tuning during the run: off, or on with what it did.
    struct Training {
        let enabled: Bool
        var runs = 0.0
        var promotions = 0.0
        var rejections = 0.0
    }

    let training: Bool

    /// - Parameter training: whether the daemon fine-tunes in the background (every 2 s, or
    ///   every 2000 joined labels).
    init(servers: String, model: String, work: PipelineBenchDirectory, training: Bool) throws {
        self.training = training
        let config = work.path + "/osprey.conf"
        try """
        kafka.bootstrap.servers = \(servers)
        kafka.group.id = osprey-bench
        state.dir = \(work.path)/state
        model.path = \(model)
        metrics.listen = 127.0.0.1:0
        log.summary.interval = 5s
        instance.name = bench
        training.enabled = \(training)
        training.interval = 2s
        training.min_labels = 2000

        """.write(toFile: config, atomically: true, encoding: .utf8)
        let log = work.path + "/serve.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        process.executableURL = URL(fileURLWithPath: try PipelineBenchModel.executable())
        process.arguments = ["serve", "--config", config]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        try process.run()
        let deadline = ContinuousClock.now + .seconds(60)
        var address: String?
        while address == nil {
            guard process.isRunning, ContinuousClock.now < deadline else {
                throw BenchFailure(message: "osprey serve did not start; its log is in \(log)")
            }
            usleep(20_000)
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            address = text.split(separator: "\n").first { $0.contains("msg=\"metrics listening\"") }
                .flatMap { line in line.split(separator: " ").first { $0.hasPrefix("listen=") } }
                .map { String($0.dropFirst("listen=".count)) }
        }
        metricsURL = "http://\(address!)/metrics"
    }

    /// Events the daemon has consumed so far, from its metrics; nil when it does not answer.
    func consumed() -> Double? {
        guard let text = try? httpGet(metricsURL) else { return nil }
        return MetricsScrape(text: text).total("osprey_events_consumed_total")
    }

    /// CPU seconds the daemon's threads have used so far.
    func cpuSeconds() -> Double { processCPUSeconds(process.processIdentifier) }

    /// Times the daemon through the `events` already waiting for it: from the first consumed
    /// event to the last, as read from its metrics every 50 ms (each scrape costs the daemon a
    /// little CPU), with the CPU time its threads used meanwhile.
    func measureBacklog(events: Int) throws -> BenchFigures {
        var first: (count: Double, at: ContinuousClock.Instant, cpu: Double)?
        var lastProgress = ContinuousClock.now
        var previous = 0.0
        while true {
            guard process.isRunning else {
                throw BenchFailure(message: "osprey serve exited while measured")
            }
            let now = ContinuousClock.now
            let count = consumed() ?? previous
            if count > 0 && first == nil { first = (count, now, cpuSeconds()) }
            if count >= Double(events), let first {
                return BenchFigures(
                    events: Int(count - first.count), bytes: 0,
                    seconds: max((now - first.at).totalSeconds, 0.001),
                    cpuSeconds: cpuSeconds() - first.cpu)
            }
            if count > previous {
                lastProgress = now
                previous = count
            } else if now - lastProgress > .seconds(30) {
                throw BenchFailure(
                    message: "osprey serve consumed \(Int(count)) of \(events) events and then "
                        + "nothing for 30s")
            }
            usleep(50_000)
        }
    }

    /// What the daemon's trainer did so far, from its metrics.
    func trainingFigures() -> Training {
        var figures = Training(enabled: training)
        guard training, let text = try? httpGet(metricsURL) else { return figures }
        let scrape = MetricsScrape(text: text)
        figures.runs = scrape.total("osprey_training_runs_total") ?? 0
        figures.promotions = scrape.total("osprey_model_promotions_total") ?? 0
        figures.rejections = scrape.total("osprey_model_rejections_total") ?? 0
        return figures
    }

    /// The checkpoints the daemon wrote so far, the seconds they took in all until on disk,
    /// and the seconds of those the pipeline thread handled no event, from its metrics.
    func checkpointFigures() -> (count: Double, seconds: Double, pauseSeconds: Double) {
        guard let text = try? httpGet(metricsURL) else { return (0, 0, 0) }
        let scrape = MetricsScrape(text: text)
        return (
            scrape.total("osprey_checkpoint_duration_seconds_count") ?? 0,
            scrape.total("osprey_checkpoint_duration_seconds_sum") ?? 0,
            scrape.total("osprey_checkpoint_pause_seconds_sum") ?? 0
        )
    }

    /// Waits until the daemon has consumed `events` in all, at most 30 s.
    func waitForConsumed(_ events: Int) {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline, (consumed() ?? 0) < Double(events) {
            usleep(10_000)
        }
    }

    /// Stops the daemon with SIGTERM and waits for it.
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }
}

/// CPU seconds the threads of a running process have used so far, from `/proc/PID/stat`; 0
/// when it cannot be read.
func processCPUSeconds(_ pid: Int32) -> Double {
    guard
        let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = text.lastIndex(of: ")")
    else { return 0 }
    // After the command name: state is field 3, utime field 14 and stime field 15.
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12])
    else { return 0 }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// CPU seconds this process has used so far.
func ownCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
}
