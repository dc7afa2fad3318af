import OspreyCore

/// Where each feature sits in the vector: the single source of both the schema's names and
/// the offsets that the store writes to.
///
/// Groups, in order: the event's own facts, the user's single values, the user's windows, the
/// merchant's, the merchant's delayed fraud rates, what the merchant's newest known labels
/// say, the device's, the IP's, and (handbook only) the book's 15 inputs.
struct FeatureLayout {
    enum EventFeature: Int, CaseIterable {
        case isOrder, amount, hourUTC, weekdayUTC, isLate
        var name: String {
            [
                "event_is_order", "event_amount", "event_hour_utc", "event_weekday_utc",
                "event_is_late",
            ][rawValue]
        }
    }

    enum UserFeature: Int, CaseIterable {
        case secondsSincePrevious, firstSeenAge, newDevice, newIP, newCountry, newCategory
        case amountToMean
        var name: String {
            [
                "user_seconds_since_previous", "user_first_seen_age_seconds", "user_new_device",
                "user_new_ip", "user_new_country", "user_new_category", "user_amount_to_mean",
            ][
                rawValue]
        }
    }

    enum UserWindowFeature: Int, CaseIterable {
        case orders, amountSum, amountMean, amountMax, clicks, clickOrderRatio
        case distinctDevices, distinctIPs, distinctCountries, distinctCategories
        var name: String {
            [
                "user_order_count", "user_amount_sum", "user_amount_mean", "user_amount_max",
                "user_click_count", "user_click_order_ratio", "user_distinct_devices",
                "user_distinct_ips", "user_distinct_countries", "user_distinct_categories",
            ][rawValue]
        }
    }

    enum MerchantFeature: Int, CaseIterable {
        case known, secondsSincePrevious, firstSeenAge
        var name: String {
            [
                "merchant_known", "merchant_seconds_since_previous",
                "merchant_first_seen_age_seconds",
            ][
                rawValue]
        }
    }

    enum MerchantWindowFeature: Int, CaseIterable {
        case orders, amountSum, amountMean, amountMax
        var name: String {
            [
                "merchant_order_count", "merchant_amount_sum", "merchant_amount_mean",
                "merchant_amount_max",
            ][rawValue]
        }
    }

    enum RiskFeature: Int, CaseIterable {
        case count, rate
        var name: String { ["merchant_delayed_tx_count", "merchant_fraud_rate"][rawValue] }
    }

    /// What the merchant's labels say about its recent past, from transactions at least
    /// ``FeatureConfiguration/riskDelay`` old (whose labels have had time to arrive), within
    /// the longest risk window before that. A terminal that criminals use has every one of its
    /// transactions fraud for weeks: its newest known transactions are fraud, a sharper sign
    /// than a rate over a window that also holds the weeks before.
    enum KnownFraudFeature: Int, CaseIterable {
        case secondsSinceNewest, secondsSinceOldest, recentShare
        var name: String {
            [
                "merchant_seconds_since_newest_known_fraud",
                "merchant_seconds_since_oldest_known_fraud",
                "merchant_known_fraud_share_last\(FeatureLayout.recentLabelledOrders)",
            ][rawValue]
        }
    }

    /// How many of the merchant's newest transactions old enough to be labelled
    /// ``KnownFraudFeature/recentShare`` looks at.
    static let recentLabelledOrders = 5

    enum NetworkFeature: Int, CaseIterable {
        case known, firstSeenAge
        var suffix: String { ["known", "first_seen_age_seconds"][rawValue] }
    }

    enum NetworkWindowFeature: Int, CaseIterable {
        case events, amountSum
        var suffix: String { ["event_count", "amount_sum"][rawValue] }
    }

    /// The handbook's baseline inputs, under the book's names.
    static let bookNames = [
        "TX_AMOUNT", "TX_DURING_WEEKEND", "TX_DURING_NIGHT",
        "CUSTOMER_ID_NB_TX_1DAY_WINDOW", "CUSTOMER_ID_AVG_AMOUNT_1DAY_WINDOW",
        "CUSTOMER_ID_NB_TX_7DAY_WINDOW", "CUSTOMER_ID_AVG_AMOUNT_7DAY_WINDOW",
        "CUSTOMER_ID_NB_TX_30DAY_WINDOW", "CUSTOMER_ID_AVG_AMOUNT_30DAY_WINDOW",
        "TERMINAL_ID_NB_TX_1DAY_WINDOW", "TERMINAL_ID_RISK_1DAY_WINDOW",
        "TERMINAL_ID_NB_TX_7DAY_WINDOW", "TERMINAL_ID_RISK_7DAY_WINDOW",
        "TERMINAL_ID_NB_TX_30DAY_WINDOW", "TERMINAL_ID_RISK_30DAY_WINDOW",
    ]

    let event = 0
    let user: Int
    let userWindows: Int
    let merchant: Int
    let merchantWindows: Int
    let risk: Int
    let knownFraud: Int
    let device: Int
    let ip: Int
    let book: Int?
    let count: Int
    let names: [String]
    /// For the book's features: the positions of 1, 7 and 30 days among the windows.
    let bookUserWindows: [Int]
    let bookRiskWindows: [Int]

    init(_ configuration: FeatureConfiguration) {
        let windows = configuration.windows.map(DurationText.format)
        let network = configuration.networkWindows.map(DurationText.format)
        let risks = configuration.riskWindows.map(DurationText.format)
        var names = EventFeature.allCases.map(\.name)
        user = names.count
        names += UserFeature.allCases.map(\.name)
        userWindows = names.count
        for window in windows { names += UserWindowFeature.allCases.map { $0.name + "_" + window } }
        merchant = names.count
        names += MerchantFeature.allCases.map(\.name)
        merchantWindows = names.count
        for window in windows {
            names += MerchantWindowFeature.allCases.map { $0.name + "_" + window }
        }
        risk = names.count
        for window in risks { names += RiskFeature.allCases.map { $0.name + "_" + window } }
        knownFraud = names.count
        names += KnownFraudFeature.allCases.map(\.name)
        device = names.count
        names += FeatureLayout.network(prefix: "device", windows: network)
        ip = names.count
        names += FeatureLayout.network(prefix: "ip", windows: network)
        if configuration.bookFeatures {
            book = names.count
            names += FeatureLayout.bookNames
        } else {
            book = nil
        }
        count = names.count
        self.names = names
        let days = [Duration.days(1), .days(7), .days(30)]
        bookUserWindows = days.compactMap { configuration.windows.firstIndex(of: $0) }
        bookRiskWindows = days.compactMap { configuration.riskWindows.firstIndex(of: $0) }
    }

    private static func network(prefix: String, windows: [String]) -> [String] {
        var names = NetworkFeature.allCases.map { prefix + "_" + $0.suffix }
        for window in windows {
            names += NetworkWindowFeature.allCases.map { prefix + "_" + $0.suffix + "_" + window }
        }
        return names
    }
}
