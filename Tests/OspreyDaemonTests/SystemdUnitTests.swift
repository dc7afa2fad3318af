import Foundation
import OspreyTestSupport
import Testing

/// The unit file as systemd itself reads it.
@Suite struct SystemdUnitTests {
    @Test func verifiesWithExecStartAtTheBuiltBinary() throws {
        let analyze = "/usr/bin/systemd-analyze"
        guard FileManager.default.isExecutableFile(atPath: analyze) else {
            if TestEnvironment.isCI {
                Issue.record("systemd-analyze is missing: run scripts/setup.sh")
            }
            print("skipped: systemd-analyze not installed")
            return
        }
        let unit = try String(
            contentsOf: TestEnvironment.repositoryRoot.appendingPathComponent(
                "systemd/osprey.service"),
            encoding: .utf8)
        #expect(unit.contains("Type=notify") && unit.contains("ProtectSystem=strict"))
        let pointed = unit.replacingOccurrences(
            of: "/usr/local/bin/osprey", with: TestEnvironment.ospreyBinary.path)
        let directory = try TestEnvironment.temporaryDirectory("unit")
        let path = directory.appendingPathComponent("osprey.service").path
        try pointed.write(toFile: path, atomically: true, encoding: .utf8)

        let verify = try runProgram(analyze, ["verify", path])
        #expect(verify.status == 0, "systemd-analyze verify: \(verify.errors)")
        let security = try runProgram(analyze, ["security", "--offline=true", path])
        let report = String(decoding: security.output, as: UTF8.self)
        let line = try #require(
            report.split(separator: "\n").last { $0.contains("exposure level") })
        // "→ Overall exposure level for osprey.service: 1.2 OK"
        let score = line.split(separator: ":").last?.split(separator: " ").first.flatMap {
            Double($0)
        }
        #expect(score.map { $0 <= 2.0 } == true, "\(line)")
    }
}
