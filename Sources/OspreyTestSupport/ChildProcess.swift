import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A program the test starts and watches: its standard output and error are collected line
/// by line on threads of their own, so the test can wait for a line instead of sleeping.
///
/// Thread: any; the collected lines sit behind a mutex.
public final class ChildProcess: @unchecked Sendable {
    public let process = Process()
    private let stdoutLines = Locked<[String]>([])
    private let stderrLines = Locked<[String]>([])
    private let exited = DispatchSemaphore(value: 0)
    private let exitStatus = Locked<Int32?>(nil)

    /// Starts `executable` with `arguments` and `environment` added to the test's own.
    public init(
        _ executable: URL, _ arguments: [String], environment: [String: String] = [:]
    ) throws {
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        process.terminationHandler = { [exited, exitStatus] finished in
            exitStatus.withLock { $0 = finished.terminationStatus }
            exited.signal()
        }
        try process.run()
        ChildProcess.collect(output.fileHandleForReading, into: stdoutLines)
        ChildProcess.collect(errors.fileHandleForReading, into: stderrLines)
    }

    /// `osprey` itself (see ``TestEnvironment/ospreyBinary``).
    public static func osprey(_ arguments: [String], environment: [String: String] = [:]) throws
        -> ChildProcess
    {
        try ChildProcess(TestEnvironment.ospreyBinary, arguments, environment: environment)
    }

    private static func collect(_ handle: FileHandle, into lines: Locked<[String]>) {
        let thread = Thread {
            var pending: [UInt8] = []
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                for byte in chunk {
                    if byte == 10 {
                        let line = String(decoding: pending, as: UTF8.self)
                        lines.withLock { $0.append(line) }
                        pending.removeAll(keepingCapacity: true)
                    } else {
                        pending.append(byte)
                    }
                }
            }
            if !pending.isEmpty {
                let line = String(decoding: pending, as: UTF8.self)
                lines.withLock { $0.append(line) }
            }
        }
        thread.start()
    }

    public var output: [String] { stdoutLines.withLock { $0 } }
    public var errors: [String] { stderrLines.withLock { $0 } }

    /// Waits until a line of standard output (or error, with `inErrors`) satisfies `match`,
    /// and returns it; nil after `timeout` or when the process ended first.
    public func waitForLine(
        inErrors: Bool = false, timeout: Duration = .seconds(30), _ match: (String) -> Bool
    ) -> String? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let lines = inErrors ? errors : output
            if let line = lines.first(where: match) { return line }
            if exitStatus.withLock({ $0 }) != nil {
                // One last look: the final lines may have arrived with the exit.
                usleep(50_000)
                return (inErrors ? errors : output).first(where: match)
            }
            usleep(10_000)
        }
        return nil
    }

    /// Sends `signal` to the process.
    public func send(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Waits for the process to end; its exit status, or nil when it still ran after `timeout`.
    public func waitForExit(timeout: Duration = .seconds(30)) -> Int32? {
        guard exited.wait(timeout: .now() + timeout.totalSecondsValue) == .success else {
            return nil
        }
        exited.signal()
        return exitStatus.withLock { $0 }
    }

    /// Whether the process ended because of a signal rather than by exiting.
    public var wasKilledBySignal: Bool { process.terminationReason == .uncaughtSignal }

    /// Ends the process with SIGKILL if it still runs, and waits for it.
    public func stop() {
        if process.isRunning { send(SIGKILL) }
        _ = waitForExit(timeout: .seconds(10))
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

/// Runs a program to its end with a time limit and returns its status and output.
///
/// - Throws: ``ProcessTimedOut`` when it runs longer than `timeout` (it is killed then).
public func runProgram(
    _ path: String, _ arguments: [String], input: Data? = nil, timeout: Duration = .seconds(60)
) throws -> (status: Int32, output: Data, errors: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let output = Pipe()
    let errors = Pipe()
    let inputPipe = Pipe()
    process.standardOutput = output
    process.standardError = errors
    process.standardInput = inputPipe
    let finished = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in finished.signal() }
    try process.run()
    let collected = Locked(Data())
    let errorText = Locked(Data())
    let readers = DispatchGroup()
    for (handle, target) in [
        (output.fileHandleForReading, collected), (errors.fileHandleForReading, errorText),
    ] {
        readers.enter()
        Thread {
            let data = handle.readDataToEndOfFile()
            target.withLock { $0 = data }
            readers.leave()
        }.start()
    }
    if let input { inputPipe.fileHandleForWriting.write(input) }
    try inputPipe.fileHandleForWriting.close()
    if finished.wait(timeout: .now() + timeout.totalSecondsValue) == .timedOut {
        process.terminate()
        throw ProcessTimedOut(command: ([path] + arguments).joined(separator: " "))
    }
    _ = readers.wait(timeout: .now() + 10)
    return (
        process.terminationStatus, collected.withLock { $0 },
        String(decoding: errorText.withLock { $0 }, as: UTF8.self)
    )
}

/// A program run by ``runProgram(_:_:input:timeout:)`` did not finish in time.
public struct ProcessTimedOut: Error, CustomStringConvertible {
    public let command: String
    public var description: String { "timed out: \(command)" }
}

/// A value behind a mutex that threads share.
public final class Locked<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>

    public init(_ value: Value) { storage = Mutex(value) }

    public func withLock<R: Sendable>(_ body: (inout Value) -> R) -> R {
        storage.withLock { body(&$0) }
    }

    public var value: Value { storage.withLock { $0 } }
}

extension Duration {
    fileprivate var totalSecondsValue: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

/// What a run of the built `osprey` binary printed, and how it ended.
public struct OspreyRun: Sendable {
    public let status: Int32
    public let output: String
    public let error: String
}

/// Runs the built `osprey` binary (``TestEnvironment/ospreyBinary``) to its end.
///
/// - Throws: ``ProcessTimedOut`` when it runs longer than `timeout`.
public func runOsprey(_ arguments: [String], timeout: Duration = .seconds(60)) throws -> OspreyRun {
    let run = try runProgram(TestEnvironment.ospreyBinary.path, arguments, timeout: timeout)
    return OspreyRun(
        status: run.status, output: String(decoding: run.output, as: UTF8.self), error: run.errors)
}
