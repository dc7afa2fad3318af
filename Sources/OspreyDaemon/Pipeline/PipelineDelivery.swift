import OspreyCore
import OspreyKafka

/// How the pipeline's outputs (alerts, score records, dead letters) become durable together
/// with the input offsets, under each `processing.guarantee`.
///
/// - `at_least_once`: outputs are produced as they come; a checkpoint flushes the producer,
///   writes the partitions' state files, then commits the offsets. A crash repeats the
///   outputs since the last commit, with the same ids.
/// - `exactly_once`: outputs are produced inside a Kafka transaction, begun on the first
///   output after a checkpoint. A checkpoint adds the offsets of every assigned partition to
///   the transaction and commits it, then writes the state files. A crash before the commit
///   aborts the transaction (the restarted producer fences it), and the state files still
///   hold the previous checkpoint, so the events are handled again and their outputs written
///   once. A crash after the commit but before the files leaves older state and newer
///   committed offsets: the events in between update the state again but write nothing,
///   because a partition writes outputs only from its committed offset on
///   (``PartitionState/outputFrom``). Downstream consumers read with
///   `isolation.level=read_committed`.
///
/// - Important: The embedded development broker acknowledges offsets sent to a transaction
///   without storing them, so the daemon also commits the same offsets directly right after
///   each transaction. On a real cluster that second commit changes nothing; on the embedded
///   broker a crash in the instant between the two repeats one checkpoint interval's outputs.
///
/// Thread: the pipeline thread.
extension Pipeline {
    /// Registers the transactional id (exactly_once), fencing an earlier instance of it and
    /// aborting whatever transaction that instance left open.
    func prepareDelivery() throws {
        guard settings.guarantee == .exactlyOnce else { return }
        try producer.initTransactions(timeout: settings.shutdownTimeout)
        logger.info("transactions ready", [.guarantee: .string(settings.guarantee.rawValue)])
    }

    /// Under exactly_once, begins a transaction unless one is open; call it before sending
    /// any output. Under at_least_once it does nothing.
    ///
    /// - Throws: ``KafkaError`` when the transaction cannot be begun.
    func joinTransaction() throws(KafkaError) {
        guard settings.guarantee == .exactlyOnce, !transactionOpen else { return }
        try producer.beginTransaction()
        transactionOpen = true
    }

    /// Makes every output so far durable and commits `offsets` with them; under
    /// at_least_once, `saveState` runs between the flush and the commit, under exactly_once
    /// after the transaction's commit (see the type's discussion for why).
    ///
    /// - Throws: ``KafkaError`` when the outputs cannot be delivered in `budget`; under
    ///   exactly_once a failed transaction is aborted and ``DeliveryError`` thrown, which
    ///   stops the daemon: the events since the last checkpoint are handled again on restart.
    func commitOutputs(
        _ offsets: [TopicPartitionOffset], budget: Duration, saveState: () throws -> Void
    ) throws {
        guard settings.guarantee == .exactlyOnce else {
            try producer.flush(timeout: budget)
            try saveState()
            if !offsets.isEmpty { try consumer.commit(offsets) }
            return
        }
        do {
            try joinTransaction()
            if !offsets.isEmpty {
                try producer.sendOffsetsToTransaction(offsets, consumer: consumer, timeout: budget)
            }
            try producer.commitTransaction(timeout: budget)
            transactionOpen = false
        } catch {
            transactionOpen = false
            try? producer.abortTransaction(timeout: budget)
            throw DeliveryError(reason: "\(error)")
        }
        if !offsets.isEmpty { try consumer.commit(offsets) }
        try saveState()
    }
}

/// A transaction that could not be committed: the daemon stops, and on restart handles the
/// events since its last checkpoint again, writing their outputs in a new transaction.
struct DeliveryError: Error, CustomStringConvertible {
    let reason: String

    var description: String {
        "transaction failed and was aborted; restart to resume from the last checkpoint: "
            + reason
    }
}
