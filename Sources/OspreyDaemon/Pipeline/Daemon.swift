import OspreyCore
import OspreyFeatures
import OspreyKafka
import OspreyModel
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// `osprey serve`: sets up the broker connection, the model, the metrics endpoint and the
/// signal thread, then runs the ``Pipeline`` on the calling thread until it stops.
///
/// Start-up order: metrics endpoint (so `/healthz` answers during a long restore), the
/// embedded broker when asked for, the model, the producer and consumer, then the pipeline,
/// which restores state as partitions are assigned and only then tells systemd READY=1.
///
/// Thread: ``run()`` on the main thread, after ``SignalPipe/install(_:)`` has taken SIGINT,
/// SIGTERM and SIGHUP for the process.
public final class Daemon {
    public let settings: DaemonSettings
    private let logger = Logger(label: "daemon")

    public init(settings: DaemonSettings) {
        self.settings = settings
    }

    /// Runs the daemon; returns the process's exit code.
    ///
    /// - Throws: a configuration, broker, model or state error that stops start-up; the
    ///   caller prints it as one line.
    public func run() throws -> Int32 {
        LogSink.shared.minimumLevel = settings.logLevel
        for name in settings.ignoredEnvironment {
            logger.warning(
                "environment variable names no configuration key; ignored", [.key: .string(name)])
        }
        let metrics = DaemonMetrics()
        let notifier = SystemdNotifier(environment: ConfigurationFile.processEnvironment)
        var kafka = settings.kafka
        var broker: EmbeddedBroker?
        if kafka.first(where: { $0.key == "bootstrap.servers" })?.value == "embedded" {
            let embedded = try EmbeddedBroker(brokers: 1, logger: Logger(label: "broker"))
            for topic in [settings.eventsTopic, settings.labelsTopic] {
                try embedded.createTopic(topic, partitions: 4)
            }
            for topic in [settings.alertsTopic, settings.deadLetterTopic]
                + [settings.scoresTopic]
                .compactMap({ $0 })
            {
                try embedded.createTopic(topic, partitions: 4)
            }
            kafka = kafka.map {
                $0.key == "bootstrap.servers"
                    ? (
                        "bootstrap.servers",
                        embedded
                            .bootstrapServers
                    ) : $0
            }
            logger.warning(
                "using the in-memory development broker: data is lost on exit",
                [.bootstrapServers: .string(embedded.bootstrapServers)])
            broker = embedded
        }
        defer { withExtendedLifetime(broker) {} }

        // Micro-batches are small products: one OpenBLAS thread scores them fastest, and
        // leaves the other core to librdkafka's threads instead of spinning in sched_yield.
        OpenBLAS.setThreadCount(OpenBLAS.defaultThreadCount)
        let (model, featureConfiguration) = try loadModel()
        let pipeline = try makePipeline(
            kafka: kafka, metrics: metrics, notifier: notifier, model: model,
            featureConfiguration: featureConfiguration)
        let control = pipeline.control
        let server = try HTTPServer(listen: settings.metricsListen) { _, path in
            Daemon.respond(path: path, metrics: metrics, control: control)
        }
        defer { server.stop() }
        // The port actually bound, which differs from the configured one when that is 0.
        let listen =
            settings.metricsListen.lastIndex(of: ":").map {
                String(settings.metricsListen[..<$0]) + ":\(server.port)"
            } ?? settings.metricsListen
        logger.info(
            "metrics listening",
            [
                .listen: .string(listen),
                .instance: .string(settings.instanceName),
            ])

        let signalThread = JoinableThread(name: "osprey-signals") {
            Daemon.forwardSignals(to: control)
        }
        defer { _ = signalThread }
        let code = try pipeline.run()
        return code
    }

    /// The serving model and a feature configuration whose schema matches it.
    private func loadModel() throws -> (Model, FeatureConfiguration) {
        let catalog = ModelCatalog(stateDirectory: settings.stateDirectory)
        var configuration = FeatureConfiguration(maxMessageBytes: settings.maxEventBytes)
        let plain = try FeatureStore(configuration: configuration).schema
        configuration.bookFeatures = true
        let book = try FeatureStore(configuration: configuration).schema
        // A model trained on the handbook carries the book's 15 features: serve it with them.
        let start = try catalog.startingPath(configuredPath: settings.modelPath)
        let expected: FeatureSchema
        if let path = start?.path, let peek = try? Model.load(path: path, expecting: nil),
            peek.schema == book
        {
            expected = book
        } else {
            expected = plain
        }
        configuration.bookFeatures = expected == book
        let (model, origin) = try catalog.startingModel(
            configuredPath: settings.modelPath, schema: expected)
        switch origin {
        case .configured(let path), .newestInCatalog(let path), .chosen(let path):
            logger.info(
                "model loaded", [.path: .string(path), .version: .string(model.version)])
            if case .chosen = origin, let configured = settings.modelPath {
                // After the first start this is the rule, not a fault: model.path was copied
                // into the catalog then, and promotions and rollbacks have chosen since.
                logger.notice(
                    "model.path is not used: the serving choice in state.dir names the model",
                    [.path: .string(configured)])
            }
        case .fresh:
            logger.warning(
                "no model found: serving a freshly initialised, untrained model",
                [.path: .string(catalog.path(of: 1))])
        }
        rememberServingChoice(model, origin: origin, catalog: catalog)
        return (model, configuration)
    }

    /// Makes the version served at start the explicit serving choice when none was made, so
    /// that `osprey model rollback` can return to it after a promotion.
    private func rememberServingChoice(
        _ model: Model, origin: ModelOrigin, catalog: ModelCatalog
    ) {
        let reason: String
        switch origin {
        case .chosen: return
        case .configured(let path): reason = "model.path \(path) served at start"
        case .newestInCatalog, .fresh: reason = "served at start"
        }
        guard let version = Int(model.version) else { return }
        do {
            _ = try ModelVersions(catalog: catalog).chooseIfUnchosen(version, reason: reason)
        } catch {
            logger.warning(
                "serving choice not written; promotions will not know what served before",
                [.error: .string("\(error)")])
        }
    }

    private func makePipeline(
        kafka: [(key: String, value: String)], metrics: DaemonMetrics,
        notifier: SystemdNotifier, model: Model, featureConfiguration: FeatureConfiguration
    ) throws -> Pipeline {
        let base = KafkaConfiguration(pairs: kafka)
        let consumerDefaults = KafkaConfiguration([
            "auto.offset.reset": "earliest", "enable.auto.commit": "false",
            "statistics.interval.ms": "5000", "fetch.wait.max.ms": "10",
        ])
        let consumer = try KafkaConsumer(
            configuration: consumerDefaults.merging(base), logger: Logger(label: "kafka"))
        var producerSettings: [(key: String, value: String)] = [
            ("enable.idempotence", "true"), ("linger.ms", "2"),
        ]
        if settings.guarantee == .exactlyOnce {
            producerSettings.append(("transactional.id", "osprey-" + settings.instanceName))
        }
        let producer = try KafkaProducer(
            configuration: KafkaConfiguration(pairs: producerSettings).merging(
                KafkaConfiguration(
                    pairs: kafka.filter { !Daemon.consumerOnlyKeys.contains($0.key) })),
            logger: Logger(label: "kafka")
        ) { report in
            if let error = report.error {
                metrics.producerFailures.labels().increment()
                Logger(label: "kafka").error("delivery failed", [.error: .string("\(error)")])
            }
        }
        return Pipeline(
            settings: settings, logger: logger, metrics: metrics, consumer: consumer,
            producer: producer, notifier: notifier, model: model,
            featureConfiguration: featureConfiguration)
    }

    /// Consumer properties librdkafka warns about on a producer.
    static let consumerOnlyKeys: Set<String> = [
        "group.id", "auto.offset.reset", "enable.auto.commit", "session.timeout.ms",
        "max.poll.interval.ms", "partition.assignment.strategy", "isolation.level",
        "fetch.wait.max.ms", "fetch.min.bytes", "queued.min.messages",
    ]

    /// Takes SIGINT, SIGTERM and SIGHUP on a thread of its own and queues them for the loop.
    private static func forwardSignals(to pipeline: PipelineControl) {
        while true {
            let signal = SignalPipe.wait()
            if signal == SIGHUP {
                pipeline.requestReload()
            } else if pipeline.stopRequests.add(1, ordering: .relaxed).newValue == 1 {
                pipeline.requestStop()
            } else {
                // A second SIGTERM or SIGINT: the operator wants out now, even mid-flush.
                Logger(label: "daemon").warning(
                    "exiting at once on a second signal",
                    [.signal: .string(SignalSet.name(of: signal))])
                exit(ExitCode.failure)
            }
        }
    }

    static func respond(path: String, metrics: DaemonMetrics, control pipeline: PipelineControl)
        -> HTTPResponse
    {
        switch path {
        case "/metrics":
            return HTTPResponse(
                status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8",
                body: metrics.registry.render())
        case "/healthz":
            return pipeline.isHealthy()
                ? HTTPResponse(status: 200, body: "ok\n")
                : HTTPResponse(status: 503, body: "the pipeline loop is stuck\n")
        case "/readyz":
            return pipeline.isReady.load(ordering: .relaxed)
                ? HTTPResponse(status: 200, body: "ready\n")
                : HTTPResponse(status: 503, body: "restoring state or waiting for partitions\n")
        default:
            return HTTPResponse(status: 404, body: "not found: try /metrics, /healthz, /readyz\n")
        }
    }
}
