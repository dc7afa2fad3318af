/// How the heads' losses are combined into the one loss that training minimises.
public enum TaskBalancing: Sendable, Hashable {
    /// `L = sum_h w_h L_h` with fixed weights (1 for a head not listed).
    case fixed([String: Double])
    /// Learned uncertainty weighting (Kendall, Gal and Cipolla, 2018), one log-variance
    /// `s_h` per head, learned with the network:
    ///
    ///     L = sum_h exp(-s_h) L_h + s_h
    ///     dL/ds_h = 1 - exp(-s_h) L_h
    ///
    /// so a head whose loss stays high is weighted down, towards `1 / L_h`.
    case uncertainty

    /// The name used in configuration and model files.
    public var name: String {
        switch self {
        case .fixed: "fixed"
        case .uncertainty: "uncertainty"
        }
    }
}
