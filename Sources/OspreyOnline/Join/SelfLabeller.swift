/// The labels the stream implies about its own clicks, as ``DatasetBuilder`` derives them
/// offline, but resolved as time passes:
///
/// - `purchase`: a click is positive when the same user orders strictly after it and within
///   the horizon; negative once the horizon has passed without an order.
/// - `interest`: a click's label is the category of the user's next click that has one
///   (strictly later in the stream); clicks without a category wait with the others.
///
/// Feed it every scored click and order in time order (``observe(...)``) and call
/// ``advance(to:)`` as event time moves; both return the labels that became known.
///
/// - Important: the per-user state holds the clicks still waiting, at most
///   ``maxWaitingPerUser`` per user for interest (the oldest give up, unlabelled), and one
///   entry per user who has clicked; users are forgotten only when they have nothing waiting.
///
/// Thread: a value owned by one thread.
public struct SelfLabeller: Sendable {
    public let horizonMs: Int64
    public let purchase: Bool
    public let interest: Bool
    public let maxWaitingPerUser = 64

    /// Clicks waiting for a purchase verdict, in time order from `queueHead`.
    private var queue: [(event: UInt64, user: UInt64, timeMs: Int64)] = []
    private var queueHead = 0
    /// Per user, the clicks still waiting for a purchase verdict.
    private var waitingPurchase: [UInt64: [(event: UInt64, timeMs: Int64)]] = [:]
    /// Per user, the clicks waiting for the next categorised click.
    private var waitingInterest: [UInt64: [(event: UInt64, timeMs: Int64)]] = [:]

    public init(horizonMs: Int64, purchase: Bool, interest: Bool) {
        self.horizonMs = horizonMs
        self.purchase = purchase
        self.interest = interest
    }

    /// Takes one scored event (in time order) and returns the labels it resolves.
    public mutating func observe(
        eventKey: UInt64, userKey: UInt64, timeMs: Int64, isOrder: Bool, category: String?
    ) -> [DelayedLabel] {
        var labels = advance(to: timeMs)
        if isOrder {
            if purchase, let clicks = waitingPurchase[userKey] {
                var still: [(event: UInt64, timeMs: Int64)] = []
                for click in clicks {
                    if click.timeMs < timeMs {
                        labels.append(
                            DelayedLabel(
                                eventKey: click.event, timeMs: timeMs, verdict: .purchased(true)))
                    } else {
                        still.append(click)
                    }
                }
                waitingPurchase[userKey] = still.isEmpty ? nil : still
            }
            return labels
        }
        if purchase {
            queue.append((eventKey, userKey, timeMs))
            waitingPurchase[userKey, default: []].append((eventKey, timeMs))
        }
        if interest {
            var waiting = waitingInterest[userKey] ?? []
            if let category {
                var still: [(event: UInt64, timeMs: Int64)] = []
                for click in waiting {
                    if click.timeMs < timeMs {
                        labels.append(
                            DelayedLabel(
                                eventKey: click.event, timeMs: timeMs,
                                verdict: .nextCategory(category)))
                    } else {
                        still.append(click)
                    }
                }
                waiting = still
            }
            waiting.append((eventKey, timeMs))
            if waiting.count > maxWaitingPerUser { waiting.removeFirst() }
            waitingInterest[userKey] = waiting
        }
        return labels
    }

    /// Gives the clicks whose horizon has passed by `timeMs` (click time + horizon < time)
    /// their negative purchase label.
    public mutating func advance(to timeMs: Int64) -> [DelayedLabel] {
        var labels: [DelayedLabel] = []
        while queueHead < queue.count, queue[queueHead].timeMs + horizonMs < timeMs {
            let click = queue[queueHead]
            queueHead += 1
            guard var clicks = waitingPurchase[click.user],
                let position = clicks.firstIndex(where: { $0.event == click.event })
            else { continue }
            clicks.remove(at: position)
            waitingPurchase[click.user] = clicks.isEmpty ? nil : clicks
            labels.append(
                DelayedLabel(
                    eventKey: click.event, timeMs: click.timeMs + horizonMs,
                    verdict: .purchased(false)))
        }
        if queueHead > 4096, queueHead * 2 > queue.count {
            queue.removeFirst(queueHead)
            queueHead = 0
        }
        return labels
    }
}
