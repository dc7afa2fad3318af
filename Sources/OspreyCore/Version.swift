/// Osprey's version, printed by `--version` and written into model files and alerts.
public enum OspreyVersion {
    public static let string = "0.1.0"
}
