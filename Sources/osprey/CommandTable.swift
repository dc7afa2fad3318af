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
    ModelListCommand.self,
    ModelInspectCommand.self,
    ModelPromoteCommand.self,
    ModelRollbackCommand.self,
    BenchKafkaCommand.self,
    BenchFeaturesCommand.self,
    BenchScoreCommand.self,
    BenchPipelineCommand.self,
    StatsCommand.self,
    CheckConfigCommand.self,
]
