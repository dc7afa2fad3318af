import OspreyCore
import OspreyDaemon

#if canImport(Glibc)
    import Glibc
#endif

/// `osprey stats`: the operator's view of a running daemon, from its `/metrics`.
enum StatsCommand: Command {
    static let spec = CommandSpec(
        name: "stats",
        abstract: "Shows a running daemon's rates, lag, alerts, quality and model version.",
        discussion: """
            Reads the daemon's Prometheus metrics. With --watch the view is redrawn every
            --interval (in place on a terminal, as successive blocks otherwise) until Ctrl-C;
            rates need two scrapes, so the first view shows totals only.
            """,
        options: [
            OptionSpec(
                "url", value: "URL",
                help: "The metrics endpoint. Default http://127.0.0.1:9464/metrics."),
            OptionSpec("watch", help: "Redraws the view until interrupted."),
            OptionSpec("interval", value: "DURATION", help: "Time between redraws. Default 2s."),
        ])

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let url = arguments.value("url") ?? "http://127.0.0.1:9464/metrics"
        let interval = try arguments.duration("interval", default: .seconds(2))
        guard interval > .zero else { throw UsageError("option '--interval' must be positive") }
        guard arguments.flag("watch") else {
            print(StatsView.render(try scrape(url), previous: nil), terminator: "")
            return ExitCode.success
        }
        SignalPipe.install([SIGINT, SIGTERM])
        let terminal = isatty(1) == 1
        var previous: MetricsScrape?
        while true {
            let view: String
            do {
                let current = try scrape(url)
                view = StatsView.render(current, previous: previous)
                previous = current
            } catch {
                view = "osprey stats: \(error)\n"
            }
            print(terminal ? "\u{1B}[H\u{1B}[2J" + view : view, terminator: "")
            fflush(nil)
            if SignalPipe.wait(timeout: interval) != nil { return ExitCode.success }
        }
    }

    private static func scrape(_ url: String) throws(ScrapeError) -> MetricsScrape {
        MetricsScrape(text: try httpGet(url))
    }
}
