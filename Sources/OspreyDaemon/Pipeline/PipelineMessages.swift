import OspreyCore
import OspreyFeatures
import OspreyKafka
import OspreyOnline

/// Handling one consumed message: decode, then a label to its store, an event into the
/// batch, anything else to the dead-letter topic.
extension Pipeline {
    func handle(_ message: KafkaMessageView) {
        guard let state = partitions[message.partition] else {
            // Not assigned (any more): the consumer drops such messages, so this is a race
            // with a rebalance; the next owner reads it from the committed offset.
            return
        }
        let isLabelTopic = message.topic == settings.labelsTopic
        if isLabelTopic {
            guard message.offset >= state.nextLabelOffset else { return }
            state.nextLabelOffset = message.offset + 1
        } else {
            guard message.offset >= state.nextEventOffset else { return }
            state.nextEventOffset = message.offset + 1
        }
        guard let value = message.value else {
            deadLetter(
                message, DecodeError(.missingField, "a tombstone (null value) holds no event"))
            return
        }
        let event: DecodedEvent
        do {
            event = try decoder.decode(value)
        } catch {
            deadLetter(message, error)
            return
        }
        if event.kind == .label {
            queueForJoin(label: event, partition: message.partition)
            if event.judgesBehaviour {
                // For the bot head's online learning; nothing in the features uses it.
                metrics.behaviourLabels.labels().increment()
            } else if state.store.apply(label: event) {
                metrics.labelsApplied.labels().increment()
            } else {
                metrics.labelsUnmatched.labels().increment()
            }
            return
        }
        guard !isLabelTopic else {
            deadLetter(
                message,
                DecodeError(.unknownType, field: "type", "the labels topic holds labels only"))
            return
        }
        let type = event.kind == .click ? "click" : "order"
        (event.kind == .click ? state.clicksConsumed : state.ordersConsumed).increment()
        summary.events += 1
        let item = ScoringBatch.Item(
            partition: message.partition, offset: message.offset,
            eventID: decoder.text(of: .eventID) ?? decoder.text(of: .orderID) ?? "",
            eventKey: event.eventHash,
            userID: decoder.text(of: .userID) ?? "", type: type,
            eventTimeMs: event.timestampMs, messageTimeMs: message.timestamp?.milliseconds,
            writesOutput: message.offset >= state.outputFrom,
            category: model.categoryInputs.isEmpty ? nil : decoder.text(of: .category))
        let late = state.store.statistics.lateEvents
        do {
            try batch.append(event, store: state.store, item: item)
        } catch {
            deadLetter(message, error)
            return
        }
        if state.store.statistics.lateEvents > late { metrics.lateEvents.labels().increment() }
        if batch.isFull {
            do {
                try scoreBatch()
            } catch {
                logger.error("scoring failed", [.error: .string("\(error)")])
            }
        }
    }

    /// Sends the original bytes to the dead-letter topic with the reason in headers.
    func deadLetter(_ message: KafkaMessageView, _ error: DecodeError) {
        let reason = error.reason.rawValue
        metrics.decodeErrors.labels(reason).increment()
        metrics.deadLettered.labels(reason).increment()
        summary.deadLetters += 1
        var headers = [
            KafkaHeader(name: "osprey.reason", text: reason),
            KafkaHeader(name: "osprey.detail", text: error.detail),
            KafkaHeader(name: "osprey.source.topic", text: message.topic),
            KafkaHeader(name: "osprey.source.partition", text: String(message.partition)),
            KafkaHeader(name: "osprey.source.offset", text: String(message.offset)),
        ]
        if let field = error.field {
            headers.append(KafkaHeader(name: "osprey.field", text: field))
        }
        do {
            try joinTransaction()
            try producer.send(
                topic: settings.deadLetterTopic, key: message.key, value: message.value,
                headers: headers)
        } catch {
            producerFailed(error)
        }
    }

    func producerFailed(_ error: KafkaError) {
        producerFailures += 1
        metrics.producerFailures.labels().increment()
        logger.error("produce failed", [.error: .string("\(error)")])
    }

    /// Handles what the consumer reported after its messages.
    func handle(_ event: KafkaConsumerEvent) throws {
        switch event {
        case .rebalance(let rebalance):
            try handle(rebalance)
        case .statistics(let statistics):
            // Lag from the daemon's own position (the next event offset it will handle), not
            // librdkafka's, which counts from the committed offset and so reads up to a
            // checkpoint interval of traffic too high.
            for partition in statistics.partitions
            where partition.topicPartition.topic == settings.eventsTopic {
                let number = partition.topicPartition.partition
                guard let high = partition.highWatermark, let state = partitions[number]
                else { continue }
                let lag = max(0, high - state.nextEventOffset)
                lagByPartition[number] = lag
                metrics.consumerLag.labels(String(number)).set(Double(lag))
            }
        case .error(let error):
            logger.warning("kafka reports a problem", [.error: .string("\(error)")])
        case .partitionEnd:
            break
        }
    }
}
