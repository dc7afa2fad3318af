import OspreyCore
import Testing

@Suite struct CommandLineTests {
    let spec = CommandSpec(
        name: "example", abstract: "Does an example thing.",
        options: [
            OptionSpec("count", value: "N", help: "How many."),
            OptionSpec("topic", value: "NAME", repeatable: true, help: "A topic."),
            OptionSpec("quiet", help: "Prints less."),
        ])

    @Test func parsesValuesFlagsAndRepeats() throws {
        let parsed = try spec.parse(["--count", "3", "--topic=a", "--topic", "b", "--quiet"])
        #expect(try parsed.int("count", default: 0) == 3)
        #expect(parsed.all("topic") == ["a", "b"])
        #expect(parsed.flag("quiet"))
    }

    @Test func reportsUsageErrors() {
        #expect(throws: UsageError("unknown option '--nope' for 'osprey example'")) {
            try spec.parse(["--nope"])
        }
        #expect(throws: UsageError("option '--count' needs a value (N)")) {
            try spec.parse(["--count"])
        }
        #expect(throws: UsageError("option '--count' was given more than once")) {
            try spec.parse(["--count", "1", "--count", "2"])
        }
        #expect(throws: UsageError("unexpected argument 'extra'")) {
            try spec.parse(["extra"])
        }
        #expect(throws: UsageError("option '--count' expects a whole number, not 'x'")) {
            try spec.parse(["--count", "x"]).int("count", default: 0)
        }
    }

    @Test func helpTextIsStable() {
        let expected = """
            USAGE: osprey example [--count N] [--topic NAME ...] [--quiet]

            Does an example thing.

            OPTIONS:
              --count N     How many.
              --topic NAME  A topic. Repeatable.
              --quiet       Prints less.
              --help        Shows this help and exits.
              --version     Shows the version and exits.

            """
        #expect(spec.helpText == expected)
    }
}
