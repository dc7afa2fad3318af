/// How the store turns entity updates into vector values. Offsets come from ``FeatureLayout``.
///
/// Amounts are in currency units; times in seconds; a missing "previous event" is -1.
extension FeatureStore {
    func writeEvent(_ entry: RingEntry, late: Bool, _ vector: UnsafeMutableBufferPointer<Double>) {
        typealias Feature = FeatureLayout.EventFeature
        let (hour, weekday) = EventTimestamp.hourAndWeekday(entry.time)
        vector[layout.event + Feature.isOrder.rawValue] = entry.isOrder ? 1 : 0
        vector[layout.event + Feature.amount.rawValue] = Double(entry.cents) / 100
        vector[layout.event + Feature.hourUTC.rawValue] = Double(hour)
        vector[layout.event + Feature.weekdayUTC.rawValue] = Double(weekday)
        vector[layout.event + Feature.isLate.rawValue] = late ? 1 : 0
    }

    func writeUser(
        _ update: EntityUpdate, entry: RingEntry, attributes: RingAttributes,
        _ vector: UnsafeMutableBufferPointer<Double>
    ) {
        typealias Feature = FeatureLayout.UserFeature
        typealias Window = FeatureLayout.UserWindowFeature
        let base = layout.user
        vector[base + Feature.secondsSincePrevious.rawValue] = seconds(update.previousGapMs)
        vector[base + Feature.firstSeenAge.rawValue] = Double(update.ageMs) / 1000
        // Novelty bit k belongs to attribute kind k: device, IP, country, category.
        for kind in 0..<4 {
            vector[base + Feature.newDevice.rawValue + kind] =
                update.novelty & (1 << UInt8(kind)) != 0 ? 1 : 0
        }

        let stride = Window.allCases.count
        var longest = 0
        for window in 0..<users.windowCount {
            let state = users.results[window]
            if users.windowsMs[window] > users.windowsMs[longest] { longest = window }
            let offset = layout.userWindows + window * stride
            let orders = Double(state.orders)
            vector[offset + Window.orders.rawValue] = orders
            vector[offset + Window.amountSum.rawValue] = Double(state.sumCents) / 100
            vector[offset + Window.amountMean.rawValue] =
                state.orders == 0 ? 0 : Double(state.sumCents) / 100 / orders
            vector[offset + Window.amountMax.rawValue] =
                state.orders == 0 ? 0 : Double(state.maxCents) / 100
            vector[offset + Window.clicks.rawValue] = Double(state.clicks)
            vector[offset + Window.clickOrderRatio.rawValue] = Double(state.clicks) / (orders + 1)
            // Distinct counts follow the same kind order, devices first.
            for kind in 0..<4 {
                vector[offset + Window.distinctDevices.rawValue + kind] = Double(
                    users.distinct[window * 4 + kind])
            }
        }
        let history = users.results[longest]
        vector[base + Feature.amountToMean.rawValue] =
            entry.isOrder && history.sumCents > 0
            ? Double(entry.cents) * Double(history.orders) / Double(history.sumCents) : 0
    }

    func writeMerchant(
        _ update: EntityUpdate, time: Int64, _ vector: UnsafeMutableBufferPointer<Double>
    ) {
        typealias Feature = FeatureLayout.MerchantFeature
        typealias Window = FeatureLayout.MerchantWindowFeature
        vector[layout.merchant + Feature.known.rawValue] = 1
        vector[layout.merchant + Feature.secondsSincePrevious.rawValue] = seconds(
            update.previousGapMs)
        vector[layout.merchant + Feature.firstSeenAge.rawValue] = Double(update.ageMs) / 1000
        let stride = Window.allCases.count
        let publicWindows = configuration.windows.count
        for window in 0..<publicWindows {
            let state = merchants.results[window]
            let offset = layout.merchantWindows + window * stride
            vector[offset + Window.orders.rawValue] = Double(state.orders)
            vector[offset + Window.amountSum.rawValue] = Double(state.sumCents) / 100
            vector[offset + Window.amountMean.rawValue] =
                state.orders == 0 ? 0 : Double(state.sumCents) / 100 / Double(state.orders)
            vector[offset + Window.amountMax.rawValue] =
                state.orders == 0 ? 0 : Double(state.maxCents) / 100
        }
        // The delayed windows: counts from the extra windows, frauds from the labels known.
        let delay = riskDelayMs
        let riskCount = riskWindowsMs.count
        let recent = Int(merchants.results[publicWindows + riskCount].orders)
        let riskStride = FeatureLayout.RiskFeature.allCases.count
        for (window, length) in riskWindowsMs.enumerated() {
            let count = Int(merchants.results[publicWindows + window].orders) - recent
            let frauds = merchants.frauds(
                slot: update.slot, from: time - delay - length, to: time - delay)
            let offset = layout.risk + window * riskStride
            vector[offset + FeatureLayout.RiskFeature.count.rawValue] = Double(count)
            vector[offset + FeatureLayout.RiskFeature.rate.rawValue] =
                count == 0 ? 0 : Double(frauds) / Double(count)
        }
        writeKnownFrauds(slot: update.slot, time: time, vector)
    }

    /// The merchant's ``FeatureLayout/KnownFraudFeature``s for an event at `time`: only
    /// transactions at or before `time - riskDelay` count, and their frauds only once labelled.
    func writeKnownFrauds(slot: UInt32, time: Int64, _ vector: UnsafeMutableBufferPointer<Double>) {
        typealias Feature = FeatureLayout.KnownFraudFeature
        let known = time - riskDelayMs
        let base = layout.knownFraud
        if let span = merchants.fraudSpan(slot: slot, from: known - longestRiskMs, to: known) {
            vector[base + Feature.secondsSinceNewest.rawValue] = Double(time - span.newest) / 1000
            vector[base + Feature.secondsSinceOldest.rawValue] = Double(time - span.oldest) / 1000
        } else {
            clearKnownFrauds(vector)
        }
        let recent = merchants.newestOrders(
            slot: slot, upTo: known, orders: FeatureLayout.recentLabelledOrders)
        vector[base + Feature.recentShare.rawValue] =
            recent.orders == 0 ? 0 : Double(recent.frauds) / Double(recent.orders)
    }

    /// The known-fraud features of a merchant without a known fraud: both ages at their
    /// largest, the delay plus the longest risk window, and a share of 0.
    func clearKnownFrauds(_ vector: UnsafeMutableBufferPointer<Double>) {
        typealias Feature = FeatureLayout.KnownFraudFeature
        let none = Double(riskDelayMs + longestRiskMs) / 1000
        vector[layout.knownFraud + Feature.secondsSinceNewest.rawValue] = none
        vector[layout.knownFraud + Feature.secondsSinceOldest.rawValue] = none
        vector[layout.knownFraud + Feature.recentShare.rawValue] = 0
    }

    func writeNetwork(
        _ table: EntityTable, _ update: EntityUpdate, at base: Int,
        _ vector: UnsafeMutableBufferPointer<Double>
    ) {
        typealias Feature = FeatureLayout.NetworkFeature
        typealias Window = FeatureLayout.NetworkWindowFeature
        vector[base + Feature.known.rawValue] = 1
        vector[base + Feature.firstSeenAge.rawValue] = Double(update.ageMs) / 1000
        let offset = base + Feature.allCases.count
        for window in 0..<table.windowCount {
            let state = table.results[window]
            let position = offset + window * Window.allCases.count
            vector[position + Window.events.rawValue] = Double(state.events)
            vector[position + Window.amountSum.rawValue] = Double(state.sumCents) / 100
        }
    }

    func clearNetwork(at base: Int, _ vector: UnsafeMutableBufferPointer<Double>) {
        let count =
            FeatureLayout.NetworkFeature.allCases.count + devices.windowCount
            * FeatureLayout.NetworkWindowFeature.allCases.count
        for offset in base..<(base + count) { vector[offset] = 0 }
    }

    /// The handbook's 15 inputs, read back from the values Osprey's own features hold.
    func writeBook(at base: Int, entry: RingEntry, _ vector: UnsafeMutableBufferPointer<Double>) {
        let (hour, weekday) = EventTimestamp.hourAndWeekday(entry.time)
        vector[base] = Double(entry.cents) / 100
        vector[base + 1] = weekday >= 5 ? 1 : 0
        vector[base + 2] = hour <= 6 ? 1 : 0
        let userStride = FeatureLayout.UserWindowFeature.allCases.count
        for (position, window) in layout.bookUserWindows.enumerated() {
            let offset = layout.userWindows + window * userStride
            vector[base + 3 + position * 2] =
                vector[offset + FeatureLayout.UserWindowFeature.orders.rawValue]
            vector[base + 4 + position * 2] =
                vector[offset + FeatureLayout.UserWindowFeature.amountMean.rawValue]
        }
        let riskStride = FeatureLayout.RiskFeature.allCases.count
        for (position, window) in layout.bookRiskWindows.enumerated() {
            let offset = layout.risk + window * riskStride
            vector[base + 9 + position * 2] =
                vector[offset + FeatureLayout.RiskFeature.count.rawValue]
            vector[base + 10 + position * 2] =
                vector[offset + FeatureLayout.RiskFeature.rate.rawValue]
        }
    }

    @inline(__always)
    func seconds(_ millis: Int64) -> Double { millis < 0 ? -1 : Double(millis) / 1000 }
}
