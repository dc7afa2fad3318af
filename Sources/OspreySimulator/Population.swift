import OspreyCore

/// A regular user of the simulated shop: where they live, what they use and what they like.
struct SimulatedUser: Sendable {
    let id: String
    let country: String
    let devices: [String]
    let ips: [String]
    let userAgent: String
    let card: String
    /// Categories in the order of this user's taste (a Zipf draw picks among them).
    let favourites: [Int]
    /// How much more (or less) often than the mean this user shops.
    let activity: Double
    /// exp(mu) is the user's typical basket amount.
    let amountMu: Double
}

/// The users, merchants and catalogue of one simulation, drawn from the seed.
struct Population: Sendable {
    static let countries = ["DE", "FR", "GB", "NL", "ES", "IT", "PL", "SE", "BE", "AT", "US", "CA"]
    static let foreignCountries = ["NG", "RU", "VN", "BR", "ID", "UA", "RO", "PH"]
    static let categoryCount = 24
    static let itemsPerCategory = 400
    static let browsers = [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/17.5 Safari",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/131.0 Mobile",
        "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    ]

    let users: [SimulatedUser]
    /// Cumulative activity weights, to pick the user of the next regular session.
    let userWeights: [Double]
    let merchants: [String]
    let merchantWeights: [Double]
    let favouriteWeights: [Double]

    init(userCount: Int, random: inout SeededRandom) {
        let countryWeights = zipfCumulative(count: Population.countries.count, s: 1.1)
        var users: [SimulatedUser] = []
        users.reserveCapacity(userCount)
        for index in 0..<userCount {
            let country = Population.countries[random.index(cumulative: countryWeights)]
            let deviceCount = random.chance(0.35) ? 2 : 1
            let devices = (0..<deviceCount).map { _ in Population.deviceID(&random) }
            let ips = (0..<random.int(in: 1...3)).map { _ in Population.residentialIP(&random) }
            var favourites = Array(0..<Population.categoryCount)
            favourites.shuffle(using: &random)
            users.append(
                SimulatedUser(
                    id: "u\(index)", country: country, devices: devices, ips: ips,
                    userAgent: Population.browsers[random.int(in: 0...4)],
                    card: Population.cardID(&random), favourites: favourites,
                    activity: random.logNormal(mu: 0, sigma: 0.8),
                    amountMu: 3.4 + 0.5 * random.normal()))
        }
        var total = 0.0
        userWeights = users.map { user in
            total += user.activity
            return total
        }
        self.users = users
        let merchantCount = max(20, userCount / 50)
        merchants = (0..<merchantCount).map { "m\($0)" }
        merchantWeights = zipfCumulative(count: merchantCount, s: 0.9)
        favouriteWeights = zipfCumulative(count: Population.categoryCount, s: 1.3)
    }

    static func deviceID(_ random: inout SeededRandom) -> String {
        "d" + String(random.next() & 0xffff_ffff_ffff, radix: 16)
    }

    static func cardID(_ random: inout SeededRandom) -> String {
        "c" + String(random.next() & 0xff_ffff_ffff, radix: 16)
    }

    static func residentialIP(_ random: inout SeededRandom) -> String {
        "\(random.int(in: 77...95)).\(random.int(in: 0...255)).\(random.int(in: 0...255))"
            + ".\(random.int(in: 1...254))"
    }

    /// Addresses in a few hosting ranges, where bots and fraudsters' proxies sit.
    static func datacenterIP(_ random: inout SeededRandom) -> String {
        let prefixes = ["185.220", "45.133", "193.32"]
        return prefixes[random.int(in: 0...2)]
            + ".\(random.int(in: 0...255)).\(random.int(in: 1...254))"
    }

    func category(for user: SimulatedUser, random: inout SeededRandom) -> Int {
        random.chance(0.8)
            ? user.favourites[random.index(cumulative: favouriteWeights)]
            : random.int(in: 0...(Population.categoryCount - 1))
    }

    static func categoryName(_ category: Int) -> String {
        let names = [
            "electronics", "phones", "computers", "gaming", "books", "music", "fashion", "shoes",
            "beauty", "health", "home", "garden", "kitchen", "toys", "baby", "sports", "outdoor",
            "automotive", "tools", "pets", "grocery", "jewellery", "gift_cards", "travel",
        ]
        return names[category]
    }

    func merchant(random: inout SeededRandom) -> String {
        merchants[random.index(cumulative: merchantWeights)]
    }
}
