/// Every subcommand, in the order `osprey --help` lists them.
///
/// Each command lives in a file of its own under `Commands/`.
let commandTable: [any Command.Type] = [
    ServeCommand.self,
    DemoCommand.self,
    BrokerCommand.self,
    SimulateCommand.self,
    ReplayCommand.self,
    FeaturesCommand.self,
    TrainCommand.self,
    EvalCommand.self,
    ScoreCommand.self,
    BacktestCommand.self,
    BenchKafkaCommand.self,
    BenchFeaturesCommand.self,
    BenchScoreCommand.self,
    StatsCommand.self,
    CheckConfigCommand.self,
]
