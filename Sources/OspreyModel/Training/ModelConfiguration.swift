import OspreyCore

/// The model's and the offline trainer's settings, from `model.*` and `training.*` keys.
///
/// Every key, with its default in brackets:
///
/// - `model.architecture` [`mmoe`]: `mmoe`, `shared_bottom` or `single_task`.
/// - `model.heads` [every head the training data labels]: a comma list of `fraud`,
///   `fraud_type`, `bot`, `purchase`, `interest`.
/// - `model.hidden` [`48,24`]: hidden widths of the shared bottom, of each expert, or of each
///   single-task bottom.
/// - `model.tower` [`16`]: hidden widths of each head's tower; `none` for no hidden layer.
/// - `model.experts` [`3`]: MMoE experts.
/// - `model.dropout` [`0`]: dropout rate on hidden units while training.
/// - `model.calibration` [`platt`]: for sigmoid heads `platt`, `temperature` or `none`;
///   softmax heads use temperature scaling unless `none`.
/// - `model.threshold.HEAD` [`0.5`]: the alert threshold recorded for a sigmoid head.
/// - `model.features` [`all`]: the feature names the model uses, comma-separated; `name*`
///   is a prefix. The others are set to 0.
/// - `model.interest_classes` [`20`]: the most frequent next-click categories kept as
///   classes; the rest is `other`.
/// - `model.purchase_horizon` [`1h`]: a click's `purchase` label is 1 when the same user
///   orders within this time.
/// - `training.optimizer` [`adamw`]: `adam` (L2 added to the gradient) or `adamw`
///   (decoupled weight decay).
/// - `training.learning_rate` [`0.001`]: the Adam step size.
/// - `training.weight_decay` [`0.01`]: the L2 factor (adam) or decoupled decay (adamw).
/// - `training.epochs` [`20`]: passes over the training rows; the epoch with the lowest
///   validation loss is kept.
/// - `training.patience` [`4`]: epochs without validation improvement before stopping.
/// - `training.batch_size` [`256`]: rows per step.
/// - `training.clip_norm` [`5`]: gradient-norm clipping per network; 0 is off.
/// - `training.seed` [`1`]: seeds initialisation, shuffling, dropout and the split.
/// - `training.task_weighting` [`fixed`]: `fixed` or `uncertainty`.
/// - `training.task_weight.HEAD` [`1`]: a head's fixed loss weight.
/// - `training.positive_weight` [`1`]: the loss weight of positive rows of sigmoid heads.
/// - `training.focal_gamma` [`0`]: the focal-loss exponent of sigmoid heads; 0 is plain
///   cross-entropy.
/// - `training.validation_fraction` [`0.2`]: the seeded random share of the training rows
///   held out for early stopping and calibration.
/// - `training.threads` [`1`]: OpenBLAS threads while training.
///
/// Unknown `model.*` keys and unknown `training.*` keys of this list's forms are errors that
/// name the key; `training.enabled`, `training.interval`, `model.path` and
/// `model.keep_versions` belong to the daemon and are ignored here, as is every key outside
/// these two prefixes.
public struct ModelConfiguration: Sendable, Equatable {
    public enum Calibration: String, Sendable { case platt, temperature, none }

    public var architecture: Architecture = .mmoe
    /// nil = every head the training data carries labels for.
    public var heads: [KnownHead]? = nil
    public var shape = NetworkShape()
    public var calibration: Calibration = .platt
    public var thresholds: [String: Double] = [:]
    /// The features the model uses: names, or prefixes ending in `*`; nil = all.
    public var features: [String]? = nil
    public var interestClasses = 20
    public var purchaseHorizonMs: Int64 = 3_600_000

    public var optimizer: AdamOptimizer<Float>.Variant = .adamw
    public var learningRate = 0.001
    public var weightDecay = 0.01
    public var epochs = 20
    public var patience = 4
    public var batchSize = 256
    public var clipNorm = 5.0
    public var seed: UInt64 = 1
    public var taskWeighting: TaskBalancing = .fixed([:])
    public var positiveWeight = 1.0
    public var focalGamma = 0.0
    public var validationFraction = 0.2
    public var threads = 1

    public init() {}

    /// Reads the settings from `values` (key → text); `lines` gives each key's line for
    /// error messages when the values came from a file.
    ///
    /// - Throws: ``ModelError/configuration(_:)`` naming the key (and line) of an unknown key
    ///   or a bad value.
    public init(_ values: [String: String], lines: [String: Int] = [:]) throws(ModelError) {
        var weights: [String: Double] = [:]
        var weighting = "fixed"
        for key in values.keys.sorted() {
            let text = values[key]!.trimmingWhitespace()
            func fail(_ what: String) -> ModelError {
                let place = lines[key].map { " (line \($0))" } ?? ""
                return .configuration("\(key)\(place): \(what), not '\(text)'")
            }
            func number(_ range: ClosedRange<Double>) throws(ModelError) -> Double {
                guard let value = Double(text), range.contains(value) else {
                    throw fail("expected a number in \(range.lowerBound)...\(range.upperBound)")
                }
                return value
            }
            func integer(_ range: ClosedRange<Int>) throws(ModelError) -> Int {
                guard let value = Int(text), range.contains(value) else {
                    throw fail(
                        "expected a whole number in \(range.lowerBound)...\(range.upperBound)")
                }
                return value
            }
            func widths(allowEmpty: Bool) throws(ModelError) -> [Int] {
                if allowEmpty, text == "none" || text.isEmpty { return [] }
                let parts = text.split(separator: ",").map { Int($0.trimmingWhitespace()) }
                guard !parts.isEmpty, parts.allSatisfy({ ($0 ?? 0) >= 1 && ($0 ?? 0) <= 4096 })
                else { throw fail("expected comma-separated widths such as 64,32") }
                return parts.map { $0! }
            }
            switch key {
            case "model.architecture":
                guard let value = Architecture(rawValue: text) else {
                    throw fail("expected mmoe, shared_bottom or single_task")
                }
                architecture = value
            case "model.heads":
                let names = text.split(separator: ",").map { String($0.trimmingWhitespace()) }
                var list: [KnownHead] = []
                for name in names {
                    guard let head = KnownHead(rawValue: name) else {
                        throw fail(
                            "unknown head '\(name)'; expected fraud, fraud_type, bot, "
                                + "purchase, interest"
                        )
                    }
                    if !list.contains(head) { list.append(head) }
                }
                guard !list.isEmpty else { throw fail("expected at least one head") }
                heads = list
            case "model.hidden": shape.hidden = try widths(allowEmpty: false)
            case "model.tower": shape.tower = try widths(allowEmpty: true)
            case "model.experts": shape.experts = try integer(1...64)
            case "model.dropout": shape.dropout = try number(0...0.9)
            case "model.calibration":
                guard let value = Calibration(rawValue: text) else {
                    throw fail("expected platt, temperature or none")
                }
                calibration = value
            case "model.features":
                let names = text.split(separator: ",").map { String($0.trimmingWhitespace()) }
                    .filter { !$0.isEmpty }
                guard !names.isEmpty else { throw fail("expected feature names or prefixes*") }
                features = names == ["all"] ? nil : names
            case "model.interest_classes": interestClasses = try integer(2...10_000)
            case "model.purchase_horizon":
                guard let duration = DurationText.parse(text)?.totalMilliseconds, duration > 0
                else {
                    throw fail("expected a duration such as 30m or 1h")
                }
                purchaseHorizonMs = duration
            case let key where key.hasPrefix("model.threshold."):
                let head = String(key.dropFirst("model.threshold.".count))
                guard KnownHead(rawValue: head) != nil else { throw fail("unknown head '\(head)'") }
                thresholds[head] = try number(0...1)
            case "training.optimizer":
                guard let value = AdamOptimizer<Float>.Variant(rawValue: text) else {
                    throw fail("expected adam or adamw")
                }
                optimizer = value
            case "training.learning_rate": learningRate = try number(1e-7...1)
            case "training.weight_decay": weightDecay = try number(0...1)
            case "training.epochs": epochs = try integer(1...10_000)
            case "training.patience": patience = try integer(1...10_000)
            case "training.batch_size": batchSize = try integer(1...65_536)
            case "training.clip_norm": clipNorm = try number(0...1e9)
            case "training.seed":
                guard let value = UInt64(text) else { throw fail("expected a whole number") }
                seed = value
            case "training.task_weighting":
                guard text == "fixed" || text == "uncertainty" else {
                    throw fail("expected fixed or uncertainty")
                }
                weighting = text
            case let key where key.hasPrefix("training.task_weight."):
                let head = String(key.dropFirst("training.task_weight.".count))
                guard KnownHead(rawValue: head) != nil else { throw fail("unknown head '\(head)'") }
                weights[head] = try number(0...1e6)
            case "training.positive_weight": positiveWeight = try number(1e-6...1e6)
            case "training.focal_gamma": focalGamma = try number(0...10)
            case "training.validation_fraction": validationFraction = try number(0.01...0.9)
            case "training.threads": threads = try integer(1...256)
            case "training.enabled", "training.interval", "model.path", "model.keep_versions":
                continue
            case let key where key.hasPrefix("model.") || key.hasPrefix("training."):
                let place = lines[key].map { " (line \($0))" } ?? ""
                throw .configuration("unknown key '\(key)'\(place)")
            default:
                continue
            }
        }
        taskWeighting = weighting == "uncertainty" ? .uncertainty : .fixed(weights)
    }
}

extension ModelConfiguration {
    /// Reads the `model.*` and `training.*` settings of a configuration file (other keys
    /// are left to their owners).
    ///
    /// - Throws: ``ModelError/configuration(_:)`` naming the key and its line.
    public init(file: ConfigurationFile) throws(ModelError) {
        var values: [String: String] = [:]
        var lines: [String: Int] = [:]
        for entry in file.entries
        where entry.key.hasPrefix("model.") || entry.key.hasPrefix("training.") {
            values[entry.key] = entry.value
            if case .file(_, let line) = entry.origin { lines[entry.key] = line }
        }
        try self.init(values, lines: lines)
    }
}

extension ModelConfiguration {
    /// Which of `schema`'s features the configuration selects.
    ///
    /// - Throws: ``ModelError/configuration(_:)`` for a pattern that matches no feature.
    public func usedFeatures(_ names: [String]) throws(ModelError) -> [Bool] {
        guard let patterns = features else { return names.map { _ in true } }
        var used = names.map { _ in false }
        for pattern in patterns {
            let prefix = pattern.hasSuffix("*") ? String(pattern.dropLast()) : nil
            var matched = false
            for (index, name) in names.enumerated()
            where prefix.map({ name.hasPrefix($0) }) ?? (name == pattern) {
                used[index] = true
                matched = true
            }
            guard matched else {
                throw .configuration("model.features: '\(pattern)' matches no feature")
            }
        }
        return used
    }
}
