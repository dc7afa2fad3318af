import CRdKafka
import OspreyCore

/// What the rebalance callback records for the poll loop.
///
/// Thread: librdkafka calls the callback on the thread that polls the consumer (inside
/// `rd_kafka_consumer_poll` or `rd_kafka_consumer_close`), the same thread that reads
/// ``pending``; no lock is needed.
final class RdKafkaRebalanceState {
    let commitOnRevoke: Bool
    let logger: Logger
    /// Rebalance steps not yet returned to the caller, oldest first.
    var pending: [KafkaRebalance] = []

    init(commitOnRevoke: Bool, logger: Logger) {
        self.commitOnRevoke = commitOnRevoke
        self.logger = logger
    }

    /// The opaque pointer handed to librdkafka; this object must outlive the client.
    var opaque: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    /// Installs the callback on a configuration.
    func install(on configuration: RdKafkaConfiguration) {
        rd_kafka_conf_set_opaque(configuration.pointer, opaque)
        rd_kafka_conf_set_rebalance_cb(configuration.pointer, rdKafkaRebalanceCallback)
    }

    /// Does what librdkafka requires for one rebalance step and records it: assign (or
    /// incrementally assign) what was given; on revocation, commit the stored offsets first
    /// when asked to and the partitions were not lost, then unassign.
    func handle(
        _ client: OpaquePointer, _ code: rd_kafka_resp_err_t,
        _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>
    ) {
        let cooperative = String(cString: rd_kafka_rebalance_protocol(client)) == "COOPERATIVE"
        let partitions = RdKafkaPartitionList.offsets(of: list).map(\.topicPartition)
        let kind: KafkaRebalance.Kind
        var commitError: KafkaError?
        switch code {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            kind = .assigned
            if cooperative {
                if let error = rd_kafka_incremental_assign(client, list) {
                    report(KafkaError(taking: error, operation: "incremental assign"))
                }
            } else {
                report(code: rd_kafka_assign(client, list), operation: "assign")
            }
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            let lost = rd_kafka_assignment_lost(client) != 0
            kind = lost ? .lost : .revoked
            if commitOnRevoke && !lost {
                let result = rd_kafka_commit(client, nil, 0)
                if result != RD_KAFKA_RESP_ERR_NO_ERROR && result != RD_KAFKA_RESP_ERR__NO_OFFSET {
                    commitError = KafkaError(result, operation: "commit offsets on revocation")
                }
            }
            if cooperative {
                if let error = rd_kafka_incremental_unassign(client, list) {
                    report(KafkaError(taking: error, operation: "incremental unassign"))
                }
            } else {
                report(code: rd_kafka_assign(client, nil), operation: "unassign")
            }
        default:
            kind = .lost
            report(KafkaError(code, operation: "rebalance"))
            report(code: rd_kafka_assign(client, nil), operation: "unassign")
        }
        pending.append(
            KafkaRebalance(
                kind: kind, partitions: partitions,
                rebalanceProtocol: cooperative ? .cooperative : .eager, commitError: commitError))
    }

    private func report(code: rd_kafka_resp_err_t, operation: String) {
        if code != RD_KAFKA_RESP_ERR_NO_ERROR { report(KafkaError(code, operation: operation)) }
    }

    /// Errors inside the callback cannot be thrown through C; they are logged once here.
    private func report(_ error: KafkaError) {
        logger.error(
            "rebalance step failed",
            [.error: .string(error.description), .errorName: .string(error.name)])
    }
}

/// The C entry point: finds the state through the client's opaque pointer.
private let rdKafkaRebalanceCallback:
    @convention(c) (
        OpaquePointer?, rd_kafka_resp_err_t,
        UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?, UnsafeMutableRawPointer?
    ) -> Void = { client, code, list, opaque in
        guard let client, let list, let opaque else { return }
        let state = Unmanaged<RdKafkaRebalanceState>.fromOpaque(opaque).takeUnretainedValue()
        state.handle(client, code, list)
    }
