// swift-tools-version: 6.0
// Osprey: a streaming fraud and behaviour analytics daemon.
//
// The package depends on nothing but the toolchain. Outside capabilities come from Debian's C
// libraries through system-library targets (librdkafka, OpenBLAS) and a thin C++ target over
// simdjson; `scripts/setup.sh` installs them.

import PackageDescription

let package = Package(
    name: "Osprey",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "osprey", targets: ["osprey"])
    ],
    targets: [
        // C bridges: the only targets that see C headers.
        .systemLibrary(
            name: "CRdKafka", pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]),
        .systemLibrary(
            name: "COpenBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CZlib", pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]),
        .target(
            name: "CSimdjsonBridge",
            cxxSettings: [.unsafeFlags(["-O3"])],
            linkerSettings: [.linkedLibrary("simdjson")]),

        // Swift modules, bottom up.
        .target(name: "OspreyCore"),
        .target(name: "OspreyKafka", dependencies: ["CRdKafka", "OspreyCore"]),
        .target(
            name: "OspreyFeatures", dependencies: ["CSimdjsonBridge", "CZlib", "OspreyCore"],
            // The store's hot loops mutate class-held arrays per event; the run-time
            // exclusivity checks on them cost about 13% of `bench features` (the compile-time
            // checks stay).
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"])]),
        .target(name: "OspreyModel", dependencies: ["COpenBLAS", "OspreyCore", "OspreyFeatures"]),
        .target(name: "OspreySimulator", dependencies: ["OspreyCore", "OspreyFeatures"]),
        .target(
            name: "OspreyOnline", dependencies: ["OspreyCore", "OspreyFeatures", "OspreyModel"]),
        .target(
            name: "OspreyDaemon",
            dependencies: [
                "CZlib", "OspreyCore", "OspreyKafka", "OspreyFeatures", "OspreyModel",
                "OspreyOnline",
            ]),
        // Shared by the test targets only: where the data and the built binary are.
        .target(name: "OspreyTestSupport", dependencies: ["OspreyCore"]),
        .executableTarget(
            name: "osprey",
            dependencies: [
                "OspreyCore", "OspreyKafka", "OspreyFeatures", "OspreyModel", "OspreyDaemon",
                "OspreySimulator", "OspreyOnline",
            ]),

        .testTarget(name: "OspreyCoreTests", dependencies: ["OspreyCore"]),
        .testTarget(
            name: "OspreyKafkaTests",
            dependencies: ["OspreyKafka", "OspreyCore", "OspreyTestSupport"]),
        .testTarget(
            name: "OspreyFeaturesTests",
            dependencies: ["OspreyFeatures", "OspreyCore", "OspreyTestSupport"],
            exclude: ["oracle"]),
        .testTarget(
            name: "OspreyModelTests",
            dependencies: ["OspreyModel", "OspreyFeatures", "OspreyCore", "OspreyTestSupport"]),
        .testTarget(
            name: "OspreyDaemonTests",
            dependencies: [
                "OspreyDaemon", "OspreyKafka", "OspreyModel", "OspreyCore", "OspreyTestSupport",
                "OspreyOnline",
            ],
            exclude: ["schema"]),
        .testTarget(
            name: "OspreySimulatorTests",
            dependencies: ["OspreySimulator", "OspreyFeatures", "OspreyCore", "OspreyTestSupport"]),
        .testTarget(
            name: "OspreyOnlineTests",
            dependencies: [
                "OspreyOnline", "OspreyModel", "OspreyFeatures", "OspreySimulator", "OspreyCore",
                "OspreyTestSupport",
            ]),
    ],
    swiftLanguageModes: [.v6]
)
