/// One configuration key of the daemon: its default and what it means.
public struct SettingKey: Sendable {
    public let key: String
    /// The value used when the key is not set; empty means "off" or "none" where the key allows.
    public let defaultValue: String
    public let help: String

    init(_ key: String, _ defaultValue: String, _ help: String) {
        self.key = key
        self.defaultValue = defaultValue
        self.help = help
    }
}

extension DaemonSettings {
    /// Every key the daemon reads itself, in the order `config/osprey.conf` documents them. A
    /// test checks that the file documents each one with its default.
    public static let keys: [SettingKey] = [
        SettingKey(
            "kafka.bootstrap.servers", "",
            "Required. Brokers as host:port,host:port; 'embedded' starts the in-memory development"
                + " broker in the process (tests and demos only)."),
        SettingKey("kafka.group.id", "osprey", "The consumer group the instances share."),
        SettingKey("topics.events", "events", "Click and order events, key = user_id."),
        SettingKey("topics.labels", "labels", "Delayed truth: fraud or legit per event id."),
        SettingKey("topics.alerts", "alerts", "Where alerts go, key = user_id."),
        SettingKey(
            "topics.dead_letter", "events.dlq",
            "Events that could not be decoded or were invalid, with the reason in a header."),
        SettingKey(
            "topics.scores", "",
            "When set, every scored event's id, head scores and model version go there."),
        SettingKey("state.dir", "/var/lib/osprey", "Checkpoints and model versions."),
        SettingKey(
            "model.path", "",
            "Model file to start from; empty means the newest version in state.dir, or a fresh"
                + " model (which the log says) when there is none. Once a version has been"
                + " promoted (osprey model promote), the serving choice in state.dir wins."),
        SettingKey(
            "model.keep_versions", "10",
            "How many model versions to keep in state.dir; the serving one, its parent and the"
                + " version a rollback returns to are always kept."),
        SettingKey(
            "processing.guarantee", "at_least_once",
            "at_least_once (alerts may repeat after a crash, with the same alert_id) or"
                + " exactly_once (Kafka transactions)."),
        SettingKey(
            "checkpoint.interval", "10s", "How often feature state and offsets are checkpointed."),
        SettingKey(
            "alerts.threshold.fraud", "0.8",
            "Calibrated probability above which the fraud head fires; 'off' never fires."),
        SettingKey("alerts.threshold.bot", "0.9", "The same for the bot head."),
        SettingKey("alerts.threshold.purchase", "off", "The same for the purchase head."),
        SettingKey("alerts.budget.per_hour", "0", "At most this many alerts an hour; 0: no cap."),
        SettingKey(
            "alerts.top_features", "5", "How many contributing features each alert explains."),
        SettingKey("batch.max.events", "256", "Largest scoring micro-batch."),
        SettingKey(
            "batch.max.wait", "5ms", "Longest an event waits for its micro-batch to fill."),
        SettingKey(
            "events.max.bytes", "65536", "Larger events are dead-lettered as too_large."),
        SettingKey("training.enabled", "true", "Online fine-tuning from delayed labels."),
        SettingKey("training.interval", "10m", "How often a fine-tuning run starts."),
        SettingKey(
            "training.min_labels", "5000",
            "A run also starts once this many labels have joined since the last one."),
        SettingKey(
            "training.join.ttl", "30d", "How long a scored event's vector waits for its label."),
        SettingKey(
            "training.join.max_entries", "20000",
            "Scored events kept per partition for the label join; the oldest leave first."),
        SettingKey(
            "training.holdout", "2000",
            "Per head, the newest examples of the events held out (one in five, by event id)."),
        SettingKey(
            "training.buffer.recent", "20000", "The newest examples in the replay buffer."),
        SettingKey(
            "training.buffer.reservoir", "20000",
            "A uniform sample of the older examples in the replay buffer."),
        SettingKey("training.fine_tune.steps", "200", "Optimisation steps per fine-tuning run."),
        SettingKey(
            "training.fine_tune.learning_rate", "0.0005", "The step size of fine-tuning (Adam)."),
        SettingKey(
            "training.tolerance", "0.005",
            "How far a head other than fraud may fall (AUC-ROC, or log loss) in a promotion."),
        SettingKey(
            "training.window", "10000", "Labels per head in the prequential quality window."),
        SettingKey(
            "metrics.listen", "127.0.0.1:9464", "HTTP address of /metrics, /healthz and /readyz."),
        SettingKey("log.level", "info", "trace, debug, info, notice, warning, error or critical."),
        SettingKey("log.summary.interval", "30s", "How often the one-line summary is logged."),
        SettingKey(
            "shutdown.timeout", "20s",
            "Budget for a clean stop on SIGTERM; keep it below systemd's TimeoutStopSec."),
        SettingKey("instance.name", "", "Written into alerts; empty means the host name."),
    ]
}
