import OspreyCore

extension LogKey {
    public static let entities: LogKey = "entities"
    public static let rate: LogKey = "rate"
    public static let lag: LogKey = "lag"
    public static let alerts: LogKey = "alerts"
    public static let deadLetters: LogKey = "dead_letters"
    public static let checkpointAgeS: LogKey = "checkpoint_age_s"
    public static let origin: LogKey = "origin"
    public static let instance: LogKey = "instance"
    public static let listen: LogKey = "listen"
    public static let guarantee: LogKey = "guarantee"
    public static let oldVersion: LogKey = "old_version"
    public static let parentVersion: LogKey = "parent_version"
    public static let fraudAUC: LogKey = "fraud_auc"
    public static let trigger: LogKey = "trigger"
    public static let loss: LogKey = "loss"
    public static let examples: LogKey = "examples"
    public static let waiting: LogKey = "waiting"
    public static let holdoutRows: LogKey = "holdout_rows"
    public static let heldOut: LogKey = "held_out"
    public static let format: LogKey = "format"
}
