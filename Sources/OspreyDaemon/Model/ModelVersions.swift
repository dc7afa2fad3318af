import OspreyCore
import OspreyFeatures
import OspreyModel

#if canImport(Glibc)
    import Glibc
#endif

/// The model versions of a state directory and the choice of which one serves: what
/// `osprey model promote` and `rollback` do, on a stopped daemon's directory or a running
/// one's (whose pipeline follows the choice, see ``ServingChoice``).
///
/// Changes hold an exclusive `flock(2)` on `STATE/models/.lock`, so two commands (or a command
/// and the trainer) never interleave their read-modify-write of the choice and the history.
/// After each change the oldest versions beyond `keep` are deleted, except the serving one,
/// its parent and the version a rollback would return to.
///
/// Thread: any; it only reads and writes files.
public struct ModelVersions: Sendable {
    public let catalog: ModelCatalog
    public let history: ModelHistory

    public init(stateDirectory: String) {
        self.init(catalog: ModelCatalog(stateDirectory: stateDirectory))
    }

    public init(catalog: ModelCatalog) {
        self.catalog = catalog
        history = ModelHistory(directory: catalog.directory)
    }

    /// The path of the serving-choice file.
    public var choicePath: String { catalog.directory + "/" + ServingChoice.fileName }

    /// What a promotion or rollback did.
    public struct Change: Sendable, Equatable {
        /// The version that served before; nil when none did.
        public let from: Int?
        public let to: Int
        /// Versions deleted because more than `keep` were on disk.
        public let removed: [Int]
    }

    /// The explicit choice, or nil when none was ever made.
    ///
    /// - Throws: ``ModelVersionError/damagedChoice(path:reason:)`` or
    ///   ``ModelVersionError/file(_:)`` when the file exists but cannot be read as a choice.
    public func choice() throws(ModelVersionError) -> ServingChoice? {
        let bytes: [UInt8]
        do {
            bytes = try readWholeFile(choicePath)
        } catch {
            if error.code == ENOENT { return nil }
            throw .file(error)
        }
        return try ServingChoice.decode(bytes, path: choicePath)
    }

    /// The version that serves: the explicit choice, else the newest on disk; nil when there
    /// is neither.
    public func servingVersion() throws(ModelVersionError) -> Int? {
        try choice()?.version ?? catalog.versions().last
    }

    /// Loads `version` fully (checksum, tensors, metadata), its `version` set to the number.
    ///
    /// - Throws: ``ModelVersionError/noSuchVersion(version:directory:)`` or
    ///   ``ModelVersionError/unusable(version:_:)``.
    public func load(_ version: Int) throws(ModelVersionError) -> Model {
        let path = catalog.path(of: version)
        guard access(path, F_OK) == 0 else {
            throw .noSuchVersion(version: version, directory: catalog.directory)
        }
        do {
            let model = try Model.load(path: path)
            model.version = String(version)
            return model
        } catch {
            throw .unusable(version: version, error)
        }
    }

    /// Makes `version` the serving one and records why.
    ///
    /// Promoting the version that already serves changes nothing (and `from == to`).
    ///
    /// - Parameters:
    ///   - reason: free text for the history (`osprey model list` shows it).
    ///   - keep: how many versions to keep on disk, at least 1.
    /// - Throws: ``ModelVersionError`` when the version is missing or unusable, or its feature
    ///   schema differs from the serving version's; nothing changes then.
    public func promote(_ version: Int, reason: String, keep: Int) throws(ModelVersionError)
        -> Change
    {
        try locked { () throws(ModelVersionError) -> Change in
            let candidate = try load(version)
            // A damaged choice is replaced: promoting is how an operator repairs it. What
            // serves is unknown then, so there is no schema to compare with here; a running
            // daemon still refuses a version of another schema when it swaps.
            let current: ServingChoice?
            let serving: Int?
            do throws(ModelVersionError) {
                current = try choice()
                serving = current?.version ?? catalog.versions().last
            } catch .damagedChoice {
                current = nil
                serving = nil
            }
            if let current, current.version == version {
                return Change(from: version, to: version, removed: [])
            }
            if let serving, serving != version {
                try checkSchema(of: candidate, version: version, against: serving)
            }
            var previous = current?.previous ?? []
            if let serving, serving != version { previous.append(serving) }
            let chosen = ServingChoice(
                version: version, previous: previous, changedAt: Self.now())
            try record(
                chosen, action: "promote", from: serving, reason: reason,
                metrics: Self.metricsText(candidate.metrics))
            let removed = prune(keep: keep, choice: chosen, parent: Int(candidate.parentVersion))
            return Change(from: serving, to: version, removed: removed)
        }
    }

    /// Records `version` as the serving choice when none was made yet. The daemon does so at
    /// start when it serves a version of the catalog, so that a later promotion knows what
    /// served before it even when newer files have appeared since.
    ///
    /// - Returns: whether the choice was written.
    /// - Throws: ``ModelVersionError`` when the directory cannot be locked or written.
    public func chooseIfUnchosen(_ version: Int, reason: String) throws(ModelVersionError)
        -> Bool
    {
        try locked { () throws(ModelVersionError) -> Bool in
            guard try choice() == nil else { return false }
            let chosen = ServingChoice(version: version, previous: [], changedAt: Self.now())
            try record(chosen, action: "start", from: nil, reason: reason, metrics: "")
            return true
        }
    }

    /// Returns to the version that served before the current one.
    ///
    /// - Throws: ``ModelVersionError/nothingToRollBack(serving:)`` when none did, or the
    ///   errors of ``promote(_:reason:keep:)`` for that version.
    public func rollback(reason: String, keep: Int) throws(ModelVersionError) -> Change {
        try locked { () throws(ModelVersionError) -> Change in
            guard let current = try choice(), let target = current.previous.last else {
                throw .nothingToRollBack(serving: try servingVersion())
            }
            let model = try load(target)
            try checkSchema(of: model, version: target, against: current.version)
            let chosen = ServingChoice(
                version: target, previous: current.previous.dropLast(), changedAt: Self.now())
            try record(
                chosen, action: "rollback", from: current.version, reason: reason,
                metrics: Self.metricsText(model.metrics))
            let removed = prune(keep: keep, choice: chosen, parent: Int(model.parentVersion))
            return Change(from: current.version, to: target, removed: removed)
        }
    }

    /// Refuses `model` when the serving version's file loads and has another schema. A
    /// serving file that no longer loads is no reference: the daemon checks again on swap.
    private func checkSchema(of model: Model, version: Int, against serving: Int)
        throws(ModelVersionError)
    {
        guard let reference = try? load(serving) else { return }
        guard reference.schema.hash != model.schema.hash else { return }
        throw .schemaMismatch(
            version: version, serving: serving,
            expected: "\(reference.schema.hash) (\(reference.schema.count) features)",
            found: "\(model.schema.hash) (\(model.schema.count) features)")
    }

    private func record(
        _ chosen: ServingChoice, action: String, from: Int?, reason: String, metrics: String
    ) throws(ModelVersionError) {
        do {
            try writeFileAtomically(chosen.encoded(), to: choicePath)
            try history.append(
                ModelHistory.Entry(
                    at: chosen.changedAt, action: action, from: from, to: chosen.version,
                    reason: reason, metrics: metrics))
        } catch {
            throw .file(error)
        }
    }

    /// Deletes the oldest versions beyond `keep`, except the serving one, `parent` and the
    /// rollback target; returns the versions deleted. A file that cannot be deleted stays.
    private func prune(keep: Int, choice: ServingChoice, parent: Int?) -> [Int] {
        let versions = catalog.versions()
        var protected = Set(versions.suffix(max(1, keep)))
        protected.insert(choice.version)
        if let parent { protected.insert(parent) }
        if let target = choice.previous.last { protected.insert(target) }
        var removed: [Int] = []
        for version in versions where !protected.contains(version) {
            if unlink(catalog.path(of: version)) == 0 { removed.append(version) }
        }
        return removed
    }

    /// Runs `body` holding the models directory's lock.
    private func locked<T>(_ body: () throws(ModelVersionError) -> T) throws(ModelVersionError)
        -> T
    {
        let code = makeDirectories(catalog.directory)
        guard code == 0 else {
            throw .file(FileError(path: catalog.directory, operation: "mkdir", code: code))
        }
        let path = catalog.directory + "/.lock"
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard descriptor >= 0 else {
            throw .file(FileError(path: path, operation: "open", code: errno))
        }
        defer { close(descriptor) }
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else {
                throw .file(FileError(path: path, operation: "flock", code: errno))
            }
        }
        defer { flock(descriptor, LOCK_UN) }
        return try body()
    }

    /// `head.metric=value` pairs, sorted, separated by spaces.
    public static func metricsText(_ metrics: [String: [String: Double]]) -> String {
        metrics.keys.sorted().flatMap { head in
            metrics[head]!.keys.sorted().map { name in
                let value = (metrics[head]![name]! * 1000).rounded() / 1000
                return "\(head).\(name)=\(value)"
            }
        }.joined(separator: " ")
    }

    static func now() -> String { TimestampText.rfc3339(milliseconds: wallClockMilliseconds()) }
}
