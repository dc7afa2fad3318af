#if canImport(Glibc)
    import Glibc
#endif

/// Creates `path` and any missing parents with `mode`, like `mkdir -p`.
///
/// - Returns: 0 on success, else the `errno` of the first directory that could not be made.
@discardableResult
public func makeDirectories(_ path: String, mode: mode_t = 0o750) -> Int32 {
    var prefix = path.hasPrefix("/") ? "/" : ""
    for component in path.split(separator: "/") {
        prefix += component
        if mkdir(prefix, mode) != 0 && errno != EEXIST { return errno }
        prefix += "/"
    }
    return 0
}
