/// What goes wrong in online learning, with what an operator needs to act on it.
public enum OnlineError: Error, CustomStringConvertible, Equatable {
    /// An `online.*` setting is unknown or has a bad value.
    case configuration(String)
    /// Saved state (a join store, a buffer) cannot be restored.
    case corruptState(String)
    /// The input cannot drive a backtest (no rows, no labels, too short for the warm-up).
    case data(String)

    public var description: String {
        switch self {
        case .configuration(let message): "configuration: \(message)"
        case .corruptState(let message): "saved state refused: \(message)"
        case .data(let message): message
        }
    }
}
