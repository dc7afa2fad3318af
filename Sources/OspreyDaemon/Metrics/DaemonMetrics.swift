/// Every metric the daemon exports, registered once at start.
///
/// Names follow DESIGN.md ("Metrics and logs"); scripts rely on `osprey_events_consumed_total`,
/// `osprey_dead_letter_total`, `osprey_alerts_total`, `osprey_consumer_lag`,
/// `osprey_model_version`, `osprey_model_promotions_total`, `osprey_model_rejections_total`,
/// `osprey_prequential_auc`, `osprey_prequential_average_precision` and
/// `osprey_checkpoint_age_seconds`. Labels are bounded: type, partition, reason, head.
///
/// Thread: any; see ``MetricsRegistry``.
public final class DaemonMetrics: Sendable {
    public let registry: MetricsRegistry
    public let eventsConsumed: Family<Counter>
    public let decodeErrors: Family<Counter>
    public let deadLettered: Family<Counter>
    public let alerts: Family<Counter>
    public let alertsSuppressed: Family<Counter>
    public let scores: Family<Histogram>
    public let endToEndLatency: Family<Histogram>
    public let scoringLatency: Family<Histogram>
    public let batchSize: Family<Histogram>
    public let consumerLag: Family<Gauge>
    public let entitiesTracked: Family<Gauge>
    public let stateBytes: Family<Gauge>
    public let checkpointAge: Family<Gauge>
    public let checkpointDuration: Family<Histogram>
    public let checkpointPause: Family<Histogram>
    public let checkpointsWritten: Family<Counter>
    public let checkpointsRefused: Family<Counter>
    public let modelVersion: Family<Gauge>
    public let trainingRuns: Family<Counter>
    public let promotions: Family<Counter>
    public let rejections: Family<Counter>
    public let prequentialAUC: Family<Gauge>
    public let prequentialAveragePrecision: Family<Gauge>
    public let prequentialLogLoss: Family<Gauge>
    public let prequentialLabels: Family<Gauge>
    public let trainingLoss: Family<Gauge>
    public let trainingDuration: Family<Histogram>
    public let labelJoins: Family<Counter>
    public let labelJoinHitRatio: Family<Gauge>
    public let labelDelay: Family<Histogram>
    public let joinEntries: Family<Gauge>
    public let replayExamples: Family<Gauge>
    public let labelsApplied: Family<Counter>
    public let labelsUnmatched: Family<Counter>
    public let behaviourLabels: Family<Counter>
    public let lateEvents: Family<Counter>
    public let producerFailures: Family<Counter>
    public let ready: Family<Gauge>

    public init(registry: MetricsRegistry = MetricsRegistry()) {
        self.registry = registry
        let latencyBuckets = [
            0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
        ]
        eventsConsumed = registry.counter(
            "osprey_events_consumed_total", help: "Events read from the events topic.",
            labels: ["type", "partition"])
        decodeErrors = registry.counter(
            "osprey_decode_errors_total", help: "Messages that could not be decoded, by reason.",
            labels: ["reason"])
        deadLettered = registry.counter(
            "osprey_dead_letter_total", help: "Messages sent to the dead-letter topic.",
            labels: ["reason"])
        alerts = registry.counter(
            "osprey_alerts_total", help: "Alerts written, by head that fired.", labels: ["head"])
        alertsSuppressed = registry.counter(
            "osprey_alerts_suppressed_total",
            help: "Alerts that fired but were held back by the hourly budget.")
        scores = registry.histogram(
            "osprey_score", help: "Distribution of the sigmoid heads' probabilities.",
            labels: ["head"], buckets: [0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99])
        endToEndLatency = registry.histogram(
            "osprey_end_to_end_latency_seconds",
            help: "From the event's Kafka timestamp to its alert or score being queued.",
            buckets: latencyBuckets)
        scoringLatency = registry.histogram(
            "osprey_scoring_latency_seconds", help: "Time to score one micro-batch.",
            buckets: latencyBuckets)
        batchSize = registry.histogram(
            "osprey_batch_events", help: "Events per scoring micro-batch.",
            buckets: [1, 4, 16, 64, 128, 256, 1024])
        consumerLag = registry.gauge(
            "osprey_consumer_lag", help: "Messages behind the end of each assigned partition.",
            labels: ["partition"])
        entitiesTracked = registry.gauge(
            "osprey_entities_tracked", help: "Users, merchants, devices and addresses in state.")
        stateBytes = registry.gauge(
            "osprey_state_bytes", help: "Bytes held by the feature stores.")
        checkpointAge = registry.gauge(
            "osprey_checkpoint_age_seconds", help: "Seconds since the last checkpoint was written.")
        checkpointDuration = registry.histogram(
            "osprey_checkpoint_duration_seconds",
            help: "Time from the start of a checkpoint until its files are written.",
            buckets: latencyBuckets)
        checkpointPause = registry.histogram(
            "osprey_checkpoint_pause_seconds",
            help: "Time a checkpoint holds up the pipeline: flushing outputs, encoding state.",
            buckets: latencyBuckets)
        checkpointsWritten = registry.counter(
            "osprey_checkpoints_total", help: "Partition checkpoints written.")
        checkpointsRefused = registry.counter(
            "osprey_checkpoints_refused_total",
            help: "Checkpoints found damaged on load, where the previous one was used.")
        modelVersion = registry.gauge(
            "osprey_model_version", help: "Version of the model that scores.")
        trainingRuns = registry.counter(
            "osprey_training_runs_total", help: "Fine-tuning runs finished.")
        promotions = registry.counter(
            "osprey_model_promotions_total", help: "Candidates promoted to serving.")
        rejections = registry.counter(
            "osprey_model_rejections_total",
            help: "Candidates not promoted, by reason (target_worse, tolerance, target_unjudged,"
                + " serving_changed, failed).", labels: ["reason"])
        prequentialAUC = registry.gauge(
            "osprey_prequential_auc", help: "AUC-ROC over recent labels, scored before learning.",
            labels: ["head"])
        prequentialAveragePrecision = registry.gauge(
            "osprey_prequential_average_precision",
            help: "Average precision over recent labels, scored before learning.",
            labels: ["head"])
        prequentialLogLoss = registry.gauge(
            "osprey_prequential_log_loss",
            help: "Log loss over recent labels, scored before learning.", labels: ["head"])
        prequentialLabels = registry.gauge(
            "osprey_prequential_labels", help: "Labels in each head's prequential window.",
            labels: ["head"])
        trainingLoss = registry.gauge(
            "osprey_training_loss", help: "Mean loss of the last fine-tuning run's steps.")
        trainingDuration = registry.histogram(
            "osprey_training_duration_seconds",
            help: "Time of one fine-tuning run, judging and installing included.",
            buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300])
        labelJoins = registry.counter(
            "osprey_label_joins_total",
            help: "Labels by source (topic, stream) and outcome (joined, unmatched, late,"
                + " duplicate, no_head).", labels: ["source", "outcome"])
        labelJoinHitRatio = registry.gauge(
            "osprey_label_join_hit_ratio",
            help: "Share of the labels topic's labels that found their event's vector.")
        labelDelay = registry.histogram(
            "osprey_label_delay_seconds",
            help: "Event time from a scored event to its label on the labels topic.",
            buckets: [1, 10, 60, 600, 3600, 21_600, 86_400, 259_200, 604_800, 2_592_000])
        joinEntries = registry.gauge(
            "osprey_label_join_entries", help: "Scored events waiting for their labels.")
        replayExamples = registry.gauge(
            "osprey_replay_buffer_examples",
            help: "Examples in the replay buffer and the hold-out.")
        labelsApplied = registry.counter(
            "osprey_labels_applied_total", help: "Labels joined to the event they judge.")
        labelsUnmatched = registry.counter(
            "osprey_labels_unmatched_total",
            help: "Labels whose event is unknown, already labelled, or too old.")
        behaviourLabels = registry.counter(
            "osprey_behaviour_labels_total", help: "Bot or human labels of clicks received.")
        lateEvents = registry.counter(
            "osprey_late_events_total", help: "Events later than the allowed lateness.")
        producerFailures = registry.counter(
            "osprey_producer_failures_total", help: "Alerts, scores or dead letters not delivered.")
        ready = registry.gauge(
            "osprey_ready", help: "1 once state is restored and partitions are assigned.")
    }
}
