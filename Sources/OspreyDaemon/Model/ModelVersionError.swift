import OspreyCore
import OspreyModel

/// What goes wrong when choosing, promoting or rolling back model versions, said so that an
/// operator can act on it.
public enum ModelVersionError: Error, CustomStringConvertible, Equatable {
    /// No file for the version in the models directory.
    case noSuchVersion(version: Int, directory: String)
    /// The version's file does not load (damaged, truncated, not a model).
    case unusable(version: Int, ModelError)
    /// The version was trained on another feature schema than the serving version.
    case schemaMismatch(version: Int, serving: Int, expected: String, found: String)
    /// No version served before the current one.
    case nothingToRollBack(serving: Int?)
    /// The serving-choice file cannot be read as one.
    case damagedChoice(path: String, reason: String)
    /// A file operation on the models directory failed.
    case file(FileError)

    public var description: String {
        switch self {
        case .noSuchVersion(let version, let directory):
            "model version \(version) does not exist in \(directory)"
        case .unusable(let version, let error):
            "model version \(version) cannot serve: \(error)"
        case .schemaMismatch(let version, let serving, let expected, let found):
            "model version \(version) was trained on feature schema \(found), but the serving "
                + "version \(serving) uses \(expected); a model for other features cannot "
                + "serve this daemon"
        case .nothingToRollBack(let serving):
            if let serving {
                "nothing to roll back to: no version served before version \(serving)"
            } else {
                "nothing to roll back to: no model version serves yet"
            }
        case .damagedChoice(let path, let reason):
            "the serving choice \(path) is damaged: \(reason); promote a version to replace it"
        case .file(let error): "\(error)"
        }
    }
}
