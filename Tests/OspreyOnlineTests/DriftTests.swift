import Foundation
import OspreyCore
import OspreyModel
import OspreyOnline
import OspreySimulator
import OspreyTestSupport
import Testing

/// Fine-tuning against a change of the fraud patterns, on simulated traffic.
@Suite(.timeLimit(.minutes(2))) struct DriftTests {
    static func simulation(seed: UInt64) -> SimulationSettings {
        var settings = SimulationSettings()
        settings.users = 400
        settings.rate = 2
        settings.duration = .seconds(14 * 3600)
        settings.seed = seed
        settings.driftAfter = .seconds(4 * 3600)
        settings.labelDelay = .seconds(600)
        settings.mix.accountTakeover = 0.04
        settings.mix.cardTesting = 0.004
        settings.mix.promotionAbuse = 0.003
        return settings
    }

    static func file(_ settings: SimulationSettings, in directory: URL) throws -> String {
        var bytes: [UInt8] = []
        for record in TrafficSimulator(settings: settings) {
            bytes += record.json
            bytes.append(10)
        }
        let path = directory.appendingPathComponent("drift.jsonl").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func options(path: String, fineTune: Bool, seed: UInt64) -> BacktestOptions {
        var options = BacktestOptions(path: path, format: .events)
        options.warmUp = .seconds(Int64(3.5 * 3600))
        options.modelConfiguration.heads = [.fraud]
        options.modelConfiguration.epochs = 8
        options.modelConfiguration.seed = seed
        options.modelConfiguration.features = [
            "event_amount", "user_amount_to_mean", "user_new_device", "user_new_country",
            "user_order_count_10m", "user_distinct_devices_1d", "user_distinct_countries_1d",
        ]
        options.modelConfiguration.shape = NetworkShape(hidden: [16], tower: [], experts: 2)
        options.online.batch = 64
        options.online.holdout = 200
        options.online.fineTuneEvery = 200
        options.online.recent = 800
        options.online.reservoir = 400
        options.online.positives = 300
        options.online.fineTune.steps = 300
        options.online.fineTune.batchSize = 64
        options.online.fineTune.learningRate = 0.005
        options.online.fineTuneEnabled = fineTune
        options.online.seed = seed
        return options
    }

    /// Simulated traffic (400 users, about 2 events/s, 14 hours, labels 10 minutes after
    /// each event, more takeovers and card testing than the default mix) whose fraud
    /// patterns change after 4 hours. The first model trains on the first 3.5 hours and sees
    /// only a handful of features, among them the user's distinct countries and devices of
    /// the day: before the change a takeover brings a foreign country, after it the
    /// attacker stays in the victim's country. (With every feature the model keeps an
    /// AUC-ROC near 1 through the change: the rolling features give the changed patterns
    /// away by other means, so there would be nothing to recover from.)
    ///
    /// Judged from 2 hours after the change to the end, the fraud head's prequential AUC-ROC
    /// was, with fine-tuning on against off: seed 1, 0.864 against 0.735; seed 2, 0.837
    /// against 0.612. The test asks for a margin of at least 0.08 on each of the two seeds,
    /// and for at least one promotion in the run with fine-tuning on.
    @Test(arguments: [1, 2] as [UInt64]) func fineTuningRecoversAfterTheChange(seed: UInt64)
        throws
    {
        let directory = try TestEnvironment.temporaryDirectory("online-drift")
        defer { try? FileManager.default.removeItem(at: directory) }
        let settings = Self.simulation(seed: seed)
        let path = try Self.file(settings, in: directory)
        let on = try Backtest.run(Self.options(path: path, fineTune: true, seed: seed))
        var offOptions = Self.options(path: path, fineTune: false, seed: seed)
        offOptions.model = on.firstModel
        let off = try Backtest.run(offOptions)

        let after = try #require(settings.driftMs) + 2 * 3_600_000
        let onAfter = on.metrics(fromMs: after)
        let offAfter = off.metrics(fromMs: after)
        #expect(onAfter.labels == offAfter.labels && onAfter.labels > 1000)
        let onAUC = try #require(onAfter.auc)
        let offAUC = try #require(offAfter.auc)
        #expect(onAUC >= offAUC + 0.08, "seed \(seed): on \(onAUC), off \(offAUC)")
        #expect(on.runs.contains { $0.decision.promoted })
        #expect(off.runs.isEmpty && off.finalVersion == "1")
    }
}
