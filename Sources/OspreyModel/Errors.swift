/// Everything that goes wrong in the model module, with what a user needs to act on it.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    /// A `model.*` or `training.*` setting is unknown or has a bad value.
    case configuration(String)
    /// A model file is unreadable, truncated or not a valid safetensors file.
    case corruptFile(path: String, reason: String)
    /// A model file was trained on a different feature schema than the running one.
    case schemaMismatch(path: String, expected: String, found: String)
    /// The data cannot train or evaluate what was asked (no rows, no labels for a head).
    case data(String)
    /// Writing a file failed.
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case .configuration(let message): "configuration: \(message)"
        case .corruptFile(let path, let reason): "model file \(path) is not usable: \(reason)"
        case .schemaMismatch(let path, let expected, let found):
            "model file \(path) was trained on feature schema \(found), but this build computes "
                + "schema \(expected); retrain the model for the current features"
        case .data(let message): message
        case .io(let path, let reason): "cannot write \(path): \(reason)"
        }
    }
}
