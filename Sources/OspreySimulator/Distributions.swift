import OspreyCore

#if canImport(Glibc)
    import Glibc
#endif

/// The draws the simulator needs, on top of a seeded generator.
extension SeededRandom {
    /// A uniform value in `[low, high)`.
    mutating func uniform(_ low: Double, _ high: Double) -> Double { low + (high - low) * unit() }

    /// True with probability `probability`.
    mutating func chance(_ probability: Double) -> Bool { unit() < probability }

    /// A standard normal value (Box-Muller; one of the pair is discarded to keep draws simple).
    mutating func normal() -> Double {
        let u = max(unit(), 0x1p-53)
        return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * unit())
    }

    /// exp(N(mu, sigma)): amounts and inter-click gaps.
    mutating func logNormal(mu: Double, sigma: Double) -> Double { exp(mu + sigma * normal()) }

    /// An exponential value with the given mean.
    mutating func exponential(mean: Double) -> Double { -mean * log(max(unit(), 0x1p-53)) }

    /// A Pareto value at least `scale` with tail index `alpha`: the heavy tail of amounts.
    mutating func pareto(scale: Double, alpha: Double) -> Double {
        scale * pow(max(unit(), 0x1p-53), -1 / alpha)
    }

    /// A whole number in `range`.
    mutating func int(in range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }

    /// An index drawn with probability proportional to `weights` (cumulative, ascending).
    mutating func index(cumulative weights: [Double]) -> Int {
        let target = unit() * weights[weights.count - 1]
        var low = 0
        var high = weights.count - 1
        while low < high {
            let middle = (low + high) / 2
            if weights[middle] <= target { low = middle + 1 } else { high = middle }
        }
        return low
    }
}

/// Cumulative Zipf weights for ranks 1...count with exponent `s`.
func zipfCumulative(count: Int, s: Double) -> [Double] {
    var total = 0.0
    return (1...count).map { rank in
        total += 1 / pow(Double(rank), s)
        return total
    }
}

/// The daily rhythm: how busy the hour of `ms` is relative to the day's mean (quietest around
/// 04:00, busiest around 20:00, in the event's UTC clock).
func dailyActivity(atMs ms: Int64) -> Double {
    let hour = Double(ms % 86_400_000) / 3_600_000
    return 1 + 0.6 * cos(2 * Double.pi * (hour - 20) / 24)
}

/// Rounds an amount to whole cents.
func cents(_ amount: Double) -> Double { (amount * 100).rounded() / 100 }
