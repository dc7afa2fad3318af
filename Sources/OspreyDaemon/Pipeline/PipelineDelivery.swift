import OspreyCore
import OspreyKafka

/// How the pipeline's outputs (alerts, score records, dead letters) become durable together
/// with the input offsets, under each `processing.guarantee`.
///
/// - `at_least_once`: outputs are produced as they come; a checkpoint flushes the producer,
///   writes the partitions' state files, then commits the offsets. A crash repeats the
///   outputs since the last commit, with the same ids. The files are written on the
///   ``CheckpointWriter``'s thread while the pipeline goes on; the offsets are committed when
///   the pipeline takes the written outcome.
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

    /// Makes every output so far durable, before the state that covers them is written.
    ///
    /// Under at_least_once that is a flush, and the offsets are committed only after the
    /// state files are written: the returned offsets are for the caller to commit then. Under
    /// exactly_once the transaction commits with `offsets` now (and they are committed
    /// directly too, see the type's discussion); the state files follow, and nothing is
    /// returned.
    ///
    /// - Throws: ``KafkaError`` when the outputs cannot be delivered in `budget`; under
    ///   exactly_once a failed transaction is aborted and ``DeliveryError`` thrown, which
    ///   stops the daemon: the events since the last checkpoint are handled again on restart.
    func makeOutputsDurable(_ offsets: [TopicPartitionOffset], budget: Duration) throws
        -> [TopicPartitionOffset]
    {
        guard settings.guarantee == .exactlyOnce else {
            try producer.flush(timeout: budget)
            return offsets
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
        return []
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
