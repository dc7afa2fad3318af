import OspreyCore
import OspreyDaemon
import OspreyKafka
import OspreyModel

#if canImport(Glibc)
    import Glibc
#endif

/// `osprey serve`: the daemon.
enum ServeCommand: Command {
    static let spec = CommandSpec(
        name: "serve",
        abstract: "Runs the daemon: consume events, score them, write alerts.",
        discussion: """
            Reads the configuration file (every key is documented in config/osprey.conf),
            applies OSPREY_* environment overrides, and runs until SIGTERM or SIGINT, which
            stop it cleanly within shutdown.timeout; a second signal exits at once. SIGHUP
            re-reads the alert thresholds and the log level. Logs go to standard error as
            logfmt lines; metrics are served on metrics.listen.
            """,
        options: [
            OptionSpec(
                "config", value: "FILE",
                help: "The configuration file. Default /etc/osprey/osprey.conf.")
        ])

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        // Handlers that forward to a pipe: a library thread may take the signal, and the
        // daemon's signal thread still sees it.
        SignalPipe.install(SignalSet.lifecycle.signals)
        let path = arguments.value("config") ?? "/etc/osprey/osprey.conf"
        let settings = try loadSettings(path: path)
        return try Daemon(settings: settings).run()
    }

    /// Reads, overrides and validates the configuration at `path`, librdkafka's keys included.
    ///
    /// - Throws: ``ConfigurationError``, ``ModelError`` or ``KafkaError`` naming the key.
    static func loadSettings(path: String) throws -> DaemonSettings {
        var file = try ConfigurationFile.load(path: path)
        let unknown = file.applyEnvironment(
            ConfigurationFile.processEnvironment, knownKeys: DaemonSettings.keys.map(\.key))
        var settings = try DaemonSettings(file, hostName: hostName())
        // OSPREY_* variables also serve the tools (OSPREY_DATA_DIR, OSPREY_BINARY): one that
        // names no key is reported, not refused.
        settings.ignoredEnvironment = unknown
        settings.configurationPath = path
        // The daemon's own training.* keys are not the offline trainer's.
        let daemonKeys = Set(DaemonSettings.keys.map(\.key))
        _ = try ModelConfiguration(
            file: ConfigurationFile(entries: file.entries.filter { !daemonKeys.contains($0.key) }))
        let kafka = settings.kafka.filter {
            $0.value != "embedded" || $0.key != "bootstrap.servers"
        }
        do {
            try KafkaConfiguration(pairs: kafka).validate()
        } catch {
            // Point at the line, as for every other key.
            let key = error.configurationKey.map { "kafka." + $0 }
            throw ConfigurationError(
                key: key, origin: key.flatMap { file.entry($0)?.origin },
                reason: "librdkafka refuses it: \(error.message)")
        }
        return settings
    }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "osprey" }
        let name = String(
            decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "osprey" : name
    }
}

/// `osprey check-config`: validates a configuration without starting anything.
enum CheckConfigCommand: Command {
    static let spec = CommandSpec(
        name: "check-config",
        abstract: "Validates a configuration file and prints it with secrets redacted.",
        discussion: """
            Checks every key: the daemon's own against their documented values, kafka.* with
            librdkafka, model.* and training.* with the model's rules, after OSPREY_*
            environment overrides. Exits 0 when the configuration is valid and 78 otherwise.
            """,
        options: [
            OptionSpec(
                "config", value: "FILE",
                help: "The configuration file. Default /etc/osprey/osprey.conf.")
        ])

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let path = arguments.value("config") ?? "/etc/osprey/osprey.conf"
        do {
            let settings = try ServeCommand.loadSettings(path: path)
            print("# \(path): valid")
            for name in settings.ignoredEnvironment {
                print("# ignored: environment variable \(name) names no configuration key")
            }
            print(settings.file.redactedText, terminator: "")
            return ExitCode.success
        } catch {
            printError("\(error)")
            return ExitCode.config
        }
    }
}
