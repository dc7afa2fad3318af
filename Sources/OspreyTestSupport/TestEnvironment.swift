import Foundation
import OspreyCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Where the tests find the shared data sets and the built `osprey` binary, and names that
/// keep tests from colliding.
public enum TestEnvironment {
    /// The repository's root, found from this file's location.
    public static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Whether the tests run under CI (`CI` set), where a missing data set is a failure.
    public static var isCI: Bool {
        guard let value = ProcessInfo.processInfo.environment["CI"] else { return false }
        return !value.isEmpty && value != "0" && value != "false"
    }

    /// The shared data directory: `OSPREY_DATA_DIR`, or `../shared/data` beside the repository.
    public static var dataDirectory: URL {
        if let path = ProcessInfo.processInfo.environment["OSPREY_DATA_DIR"] {
            return URL(fileURLWithPath: path)
        }
        return repositoryRoot.deletingLastPathComponent()
            .appendingPathComponent("shared/data")
    }

    /// A data file under ``dataDirectory`` (for example `handbook/transactions-dev.jsonl.gz`),
    /// or nil when it is absent.
    ///
    /// - Throws: ``MissingData`` when the file is absent and ``isCI`` is set, so that CI never
    ///   passes a test that did not run. Outside CI, a nil tells the test to skip and say so.
    public static func dataFile(_ relativePath: String) throws -> URL? {
        let url = dataDirectory.appendingPathComponent(relativePath)
        if FileManager.default.fileExists(atPath: url.path) { return url }
        if isCI { throw MissingData(path: url.path) }
        print("skipped: data file \(url.path) not found (set OSPREY_DATA_DIR)")
        return nil
    }

    /// The built `osprey` executable: `OSPREY_BINARY`, else the release build, else the debug one.
    public static var ospreyBinary: URL {
        if let path = ProcessInfo.processInfo.environment["OSPREY_BINARY"] {
            return URL(fileURLWithPath: path)
        }
        let release = repositoryRoot.appendingPathComponent(".build/release/osprey")
        if FileManager.default.isExecutableFile(atPath: release.path) { return release }
        return repositoryRoot.appendingPathComponent(".build/debug/osprey")
    }

    /// A name unique to this process and call, for topics, groups and temporary directories.
    public static func uniqueName(_ prefix: String) -> String {
        let counter = nameCounter.add()
        return "\(prefix)-\(getpid())-\(counter)-\(UInt32.random(in: 0...UInt32.max))"
    }

    /// A fresh temporary directory that the caller owns.
    public static func temporaryDirectory(_ prefix: String = "osprey-test") throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(uniqueName(prefix))
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// A data set that a test needs is missing while running under CI.
public struct MissingData: Error, CustomStringConvertible {
    public let path: String
    public var description: String { "required test data not found: \(path)" }
}

private final class Counter: Sendable {
    private let value = Mutex(0)
    func add() -> Int {
        value.withLock {
            $0 += 1; return $0
        }
    }
}

private let nameCounter = Counter()
