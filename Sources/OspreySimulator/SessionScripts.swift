import OspreyCore

/// Writes the events of one session of each pattern, from its start time.
///
/// Each script is plain code over the seeded generator, so a seed gives the same sessions on
/// every machine. `drifted` switches a fraud pattern to its changed form: the one a model
/// trained before the change does not know.
struct SessionScripts {
    let population: Population

    /// A regular shopper: a handful of clicks with human pauses, sometimes an order.
    func regular(
        _ user: SimulatedUser, session: String, start: Int64, random: inout SeededRandom
    ) -> [SimulatedEvent] {
        let device = user.devices[random.int(in: 0...(user.devices.count - 1))]
        let ip = user.ips[random.int(in: 0...(user.ips.count - 1))]
        var base = SimulatedEvent(
            .click, at: start, user: user.id, session: session, device: device, ip: ip,
            country: user.country, userAgent: user.userAgent, pattern: .regular)
        var events: [SimulatedEvent] = []
        var time = start
        let clicks = 1 + Int(random.exponential(mean: 5))
        var lastCategory = population.category(for: user, random: &random)
        for _ in 0..<clicks {
            // Most clicks stay in the category just seen; a session wanders slowly.
            if random.chance(0.35) {
                lastCategory = population.category(for: user, random: &random)
            }
            events.append(click(from: base, at: time, category: lastCategory, random: &random))
            time += Int64(1000 * min(600, random.logNormal(mu: 2.8, sigma: 0.9)))
        }
        if random.chance(0.22) {
            base.kind = .order
            var order = base
            order.timeMs = time
            order.amount = cents(amount(for: user, random: &random))
            order.merchantID = population.merchant(random: &random)
            order.cardID = user.card
            order.paymentMethod = random.chance(0.8) ? "card" : "wallet"
            order.shippingCountry = random.chance(0.97) ? user.country : Population.countries[0]
            order.items = 1 + Int(random.exponential(mean: 0.8))
            events.append(order)
        }
        return events
    }

    /// An account takeover: a new device and address, a few quick clicks, then a burst of
    /// expensive orders shipped abroad. After the drift the attacker hides better: an address
    /// in the victim's country, moderate amounts, slower orders.
    func accountTakeover(
        _ victim: SimulatedUser, session: String, start: Int64, drifted: Bool,
        random: inout SeededRandom
    ) -> [SimulatedEvent] {
        let foreign = Population.foreignCountries[random.int(in: 0...7)]
        let country = drifted ? victim.country : foreign
        let ip = drifted ? Population.residentialIP(&random) : Population.datacenterIP(&random)
        let base = SimulatedEvent(
            .click, at: start, user: victim.id, session: session,
            device: Population.deviceID(&random), ip: ip, country: country,
            userAgent: Population.browsers[random.int(in: 0...4)], pattern: .accountTakeover)
        var events: [SimulatedEvent] = []
        var time = start
        for _ in 0..<random.int(in: 1...4) {
            let category = drifted ? population.category(for: victim, random: &random) : 0
            events.append(click(from: base, at: time, category: category, random: &random))
            time += Int64(1000 * random.uniform(2, 8))
        }
        for _ in 0..<random.int(in: drifted ? 2...3 : 3...6) {
            var order = base
            order.kind = .order
            order.timeMs = time
            let scale = drifted ? random.uniform(1.3, 2.5) : random.uniform(4, 12)
            order.amount = cents(amount(for: victim, random: &random) * scale)
            order.merchantID = population.merchant(random: &random)
            order.cardID = victim.card
            order.paymentMethod = drifted ? "wallet" : "card"
            order.shippingCountry = drifted ? victim.country : foreign
            order.items = random.int(in: 1...4)
            events.append(order)
            time += Int64(1000 * (drifted ? random.uniform(300, 1200) : random.uniform(20, 120)))
        }
        return events
    }

    /// Card testing: a fresh account tries many stolen cards with small orders, seconds apart.
    /// After the drift the amounts are larger and the pace slower.
    func cardTesting(
        user: String, session: String, start: Int64, drifted: Bool, random: inout SeededRandom
    ) -> [SimulatedEvent] {
        var base = SimulatedEvent(
            .order, at: start, user: user, session: session, device: Population.deviceID(&random),
            ip: Population.datacenterIP(&random),
            country: Population.countries[random.int(in: 0...11)],
            userAgent: Population.browsers[random.int(in: 0...4)], pattern: .cardTesting)
        base.merchantID = population.merchant(random: &random)
        base.shippingCountry = base.country
        var events: [SimulatedEvent] = []
        var time = start
        for _ in 0..<random.int(in: drifted ? 5...10 : 10...25) {
            var order = base
            order.timeMs = time
            order.amount = cents(drifted ? random.uniform(4, 12) : random.uniform(0.5, 3))
            order.cardID = Population.cardID(&random)
            events.append(order)
            time += Int64(1000 * (drifted ? random.uniform(30, 90) : random.uniform(2, 15)))
        }
        return events
    }

    /// A bot: dozens of clicks at an almost constant pace across random categories. After the
    /// drift the bot jitters its pace and looks like a browser.
    func bot(
        user: String, session: String, start: Int64, drifted: Bool, random: inout SeededRandom
    ) -> [SimulatedEvent] {
        let agent =
            drifted
            ? Population.browsers[random.int(in: 0...4)]
            : (random.chance(0.5) ? "python-requests/2.32" : "HeadlessChrome/131.0")
        let base = SimulatedEvent(
            .click, at: start, user: user, session: session, device: Population.deviceID(&random),
            ip: Population.datacenterIP(&random),
            country: Population.countries[random.int(in: 0...11)],
            userAgent: agent, pattern: .bot)
        var events: [SimulatedEvent] = []
        var time = start
        let pace = random.uniform(400, 1500)
        for _ in 0..<random.int(in: 30...150) {
            let category = random.int(in: 0...(Population.categoryCount - 1))
            events.append(click(from: base, at: time, category: category, random: &random))
            let gap =
                drifted
                ? pace * random.logNormal(mu: 0.8, sigma: 0.5) : pace * random.uniform(0.97, 1.03)
            time += Int64(gap)
        }
        return events
    }

    /// Promotion abuse: one device opens several new accounts, each redeeming a promotion with
    /// one modest order soon after a click or two.
    func promotionAbuse(
        firstUser: Int, session: String, start: Int64, random: inout SeededRandom
    ) -> [SimulatedEvent] {
        let device = Population.deviceID(&random)
        let ip = Population.residentialIP(&random)
        let country = Population.countries[random.int(in: 0...11)]
        let agent = Population.browsers[random.int(in: 0...4)]
        var events: [SimulatedEvent] = []
        var time = start
        for account in 0..<random.int(in: 3...8) {
            let user = "p\(firstUser + account)"
            let base = SimulatedEvent(
                .click, at: time, user: user, session: session + "-\(account)", device: device,
                ip: ip, country: country, userAgent: agent, pattern: .promotionAbuse)
            for _ in 0..<random.int(in: 1...2) {
                events.append(click(from: base, at: time, category: 22, random: &random))
                time += Int64(1000 * random.uniform(5, 30))
            }
            var order = base
            order.kind = .order
            order.timeMs = time
            order.amount = cents(random.uniform(15, 40))
            order.merchantID = population.merchant(random: &random)
            order.paymentMethod = "promo_code"
            order.cardID = Population.cardID(&random)
            order.shippingCountry = country
            events.append(order)
            time += Int64(1000 * random.uniform(60, 600))
        }
        return events
    }

    private func click(
        from base: SimulatedEvent, at time: Int64, category: Int, random: inout SeededRandom
    ) -> SimulatedEvent {
        var click = base
        click.kind = .click
        click.timeMs = time
        let item =
            category * Population.itemsPerCategory
            + Int(min(Double(Population.itemsPerCategory - 1), random.exponential(mean: 60)))
        click.itemID = "i\(item)"
        click.category = Population.categoryName(category)
        click.price = cents(random.logNormal(mu: 3.3, sigma: 0.8))
        return click
    }

    /// A basket amount: log-normal around the user's typical amount, with a Pareto tail.
    private func amount(for user: SimulatedUser, random: inout SeededRandom) -> Double {
        random.chance(0.03)
            ? random.pareto(scale: 150, alpha: 1.6)
            : random.logNormal(mu: user.amountMu, sigma: 0.7)
    }
}
