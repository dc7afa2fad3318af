import OspreyCore
import OspreyOnline

/// How alerts and offsets are delivered.
public enum ProcessingGuarantee: String, Sendable, CaseIterable {
    /// Alerts may repeat after a crash, always with the same `alert_id`.
    case atLeastOnce = "at_least_once"
    /// Alerts, scores, dead letters and offsets in one Kafka transaction.
    case exactlyOnce = "exactly_once"
}

/// The daemon's own settings, read from the configuration file and `OSPREY_*` variables.
///
/// Keys under `kafka.` are not checked here: they go verbatim to librdkafka, which names any
/// key or value it refuses. Every other key must be one of ``DaemonSettings/keys`` or belong
/// to a section another module reads (``DaemonSettings/delegatedPrefixes``); anything else is
/// an error naming the key and the line.
///
/// Thread: any; a value type.
public struct DaemonSettings: Sendable {
    /// librdkafka properties, without the `kafka.` prefix, as given.
    public var kafka: [(key: String, value: String)]
    public var groupID: String
    public var eventsTopic: String
    public var labelsTopic: String
    public var alertsTopic: String
    public var deadLetterTopic: String
    /// The optional per-event score topic; nil when off.
    public var scoresTopic: String?
    public var stateDirectory: String
    /// The model file to start from when no version was chosen (see ``ServingChoice``); nil
    /// means the newest version in the state directory.
    public var modelPath: String?
    /// How many model versions promotions keep on disk (see ``ModelVersions``).
    public var keepModelVersions: Int
    public var guarantee: ProcessingGuarantee
    public var checkpointInterval: Duration
    /// Per-head thresholds above which a head fires; a head missing here never fires.
    public var thresholds: [String: Double]
    /// At most this many alerts per hour (0: no budget).
    public var alertBudgetPerHour: Int
    /// How many contributing features an alert carries.
    public var alertTopFeatures: Int
    public var batchMaxEvents: Int
    public var batchMaxWait: Duration
    public var maxEventBytes: Int
    public var trainingEnabled: Bool
    public var trainingInterval: Duration
    /// Labels joined since the last fine-tuning run that start the next one early.
    public var trainingMinLabels: Int
    /// The online loop's bounds (`training.join.*`, `training.holdout`: examples per head in
    /// the ``Holdout``, `training.buffer.*`, `training.fine_tune.*`, `training.tolerance`,
    /// `training.window`).
    public var online: OnlineSettings
    public var metricsListen: String
    public var logLevel: LogLevel
    public var summaryInterval: Duration
    public var shutdownTimeout: Duration
    public var instanceName: String
    /// `OSPREY_*` environment variables that name no key; the daemon logs them at start.
    public var ignoredEnvironment: [String] = []
    /// The file the settings were read from, for SIGHUP; nil when they did not come from one.
    public var configurationPath: String?
    /// Every setting as given (file, environment, defaults not included), for delegated
    /// sections (`model.`, `training.`) and for printing.
    public var file: ConfigurationFile

    /// Reads and validates `file`, filling defaults.
    ///
    /// - Parameter hostName: the default for `instance.name`.
    /// - Throws: ``ConfigurationError`` naming the first key that is unknown, missing or wrong.
    public init(_ file: ConfigurationFile, hostName: String) throws(ConfigurationError) {
        try DaemonSettings.refuseUnknownKeys(file)
        func entry(_ key: String) -> ConfigurationEntry {
            if let entry = file.entry(key) { return entry }
            let fallback = DaemonSettings.keys.first { $0.key == key }?.defaultValue ?? ""
            return ConfigurationEntry(key: key, value: fallback, origin: .program)
        }
        guard let servers = file["kafka.bootstrap.servers"], !servers.isEmpty else {
            throw ConfigurationError(
                key: "kafka.bootstrap.servers", origin: nil,
                reason: "required: the Kafka brokers as host:port,host:port (or 'embedded')")
        }
        kafka = file.entries.filter { $0.key.hasPrefix("kafka.") }
            .map { (String($0.key.dropFirst("kafka.".count)), $0.value) }
        groupID = file["kafka.group.id"] ?? "osprey"
        if !kafka.contains(where: { $0.key == "group.id" }) {
            kafka.append(("group.id", groupID))
        }
        eventsTopic = try DaemonSettings.topic(entry("topics.events"))
        labelsTopic = try DaemonSettings.topic(entry("topics.labels"))
        alertsTopic = try DaemonSettings.topic(entry("topics.alerts"))
        deadLetterTopic = try DaemonSettings.topic(entry("topics.dead_letter"))
        let scores = entry("topics.scores")
        scoresTopic = scores.value.isEmpty ? nil : try DaemonSettings.topic(scores)
        stateDirectory = entry("state.dir").value
        let model = entry("model.path").value
        modelPath = model.isEmpty ? nil : model
        keepModelVersions = try entry("model.keep_versions").int(in: 1...10_000)
        guarantee = ProcessingGuarantee(
            rawValue: try entry("processing.guarantee").choice(
                ProcessingGuarantee.allCases.map(\.rawValue)))!
        checkpointInterval = try entry("checkpoint.interval").duration()
        thresholds = [:]
        for head in DaemonSettings.thresholdHeads {
            let setting = entry("alerts.threshold." + head)
            if setting.value == "off" { continue }
            thresholds[head] = try setting.double(in: 0...1)
        }
        alertBudgetPerHour = try entry("alerts.budget.per_hour").int(in: 0...Int(Int32.max))
        alertTopFeatures = try entry("alerts.top_features").int(in: 0...50)
        batchMaxEvents = try entry("batch.max.events").int(in: 1...65_536)
        batchMaxWait = try entry("batch.max.wait").duration()
        maxEventBytes = try entry("events.max.bytes").int(in: 256...(16 << 20))
        trainingEnabled = try entry("training.enabled").bool()
        trainingInterval = try entry("training.interval").duration()
        trainingMinLabels = try entry("training.min_labels").int(in: 1...100_000_000)
        online = try DaemonSettings.online(entry)
        metricsListen = entry("metrics.listen").value
        let level = entry("log.level")
        guard let parsedLevel = LogLevel(name: level.value) else {
            throw ConfigurationError(
                key: level.key, origin: level.origin,
                reason: "expected one of trace, debug, info, notice, warning, error, critical")
        }
        logLevel = parsedLevel
        summaryInterval = try entry("log.summary.interval").duration()
        shutdownTimeout = try entry("shutdown.timeout").duration()
        let instance = entry("instance.name").value
        instanceName = instance.isEmpty ? hostName : instance
        self.file = file
    }

    /// The online loop's settings from the `training.` keys the daemon reads.
    private static func online(_ entry: (String) -> ConfigurationEntry) throws(ConfigurationError)
        -> OnlineSettings
    {
        var online = OnlineSettings()
        let ttl = entry("training.join.ttl")
        online.joinTTLMs = try ttl.duration().totalMilliseconds
        guard online.joinTTLMs > 0 else {
            throw ConfigurationError(key: ttl.key, origin: ttl.origin, reason: "must be positive")
        }
        online.joinMaxEntries = try entry("training.join.max_entries").int(in: 1...50_000_000)
        online.holdout = try entry("training.holdout").int(in: 1...1_000_000)
        online.recent = try entry("training.buffer.recent").int(in: 1...10_000_000)
        online.reservoir = try entry("training.buffer.reservoir").int(in: 0...10_000_000)
        online.fineTune.steps = try entry("training.fine_tune.steps").int(in: 1...1_000_000)
        online.fineTune.learningRate = try entry("training.fine_tune.learning_rate").double(
            in: 0...1)
        online.promotion.defaultTolerance = try entry("training.tolerance").double(in: 0...1)
        online.window = try entry("training.window").int(in: 1...10_000_000)
        return online
    }

    /// The heads whose threshold has a key; distribution heads (`fraud_type`, `interest`) do
    /// not fire on their own.
    public static let thresholdHeads = ["fraud", "bot", "purchase"]

    /// Sections read by others, which check their own keys: librdkafka (`kafka.`) and the
    /// model and its trainer (`model.`, `training.`).
    public static let delegatedPrefixes = ["kafka.", "model.", "training."]

    private static func refuseUnknownKeys(_ file: ConfigurationFile) throws(ConfigurationError) {
        let known = Set(keys.map(\.key))
        for entry in file.entries where !known.contains(entry.key) {
            let delegated = delegatedPrefixes.contains { entry.key.hasPrefix($0) }
            if !delegated {
                throw ConfigurationError(
                    key: entry.key, origin: entry.origin, reason: "unknown key")
            }
        }
    }

    private static func topic(_ entry: ConfigurationEntry) throws(ConfigurationError) -> String {
        let valid = entry.value.utf8.allSatisfy { byte in
            (byte >= 48 && byte <= 57) || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122)
                || byte == 46 || byte == 95 || byte == 45
        }
        guard !entry.value.isEmpty, entry.value.utf8.count <= 249, valid else {
            throw ConfigurationError(
                key: entry.key, origin: entry.origin,
                reason: "a topic name is 1 to 249 of [a-zA-Z0-9._-], found '\(entry.value)'")
        }
        return entry.value
    }
}
