/// Every subcommand, in the order `osprey --help` lists them.
///
/// Each command lives in a file of its own under `Commands/`.
let commandTable: [any Command.Type] = [
    DemoCommand.self,
    BrokerCommand.self,
    BenchKafkaCommand.self,
]
