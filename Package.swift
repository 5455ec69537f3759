// swift-tools-version: 6.2
import PackageDescription

/// Switchboard: a multi-tenant WhatsApp gateway made of small services wired through RabbitMQ.
///
/// Module layout, from the bottom up:
/// - `CRabbitMQ`, `CAMQPShim`: librabbitmq and the few C helpers Swift cannot express.
/// - `SwitchboardAMQP`: the AMQP 0-9-1 client (thread per connection, async API, recovery).
/// - `SwitchboardTelemetry`: the process's metrics (swift-metrics over a Prometheus
///   registry), the catalogue of every series, traces (swift-distributed-tracing, OTLP
///   through swift-otel when configured), and the JSON log format.
/// - `SwitchboardCore`: pure domain logic (the topology model, drift, definitions) and
///   configuration conventions, no I/O.
/// - `SwitchboardBroker`: RabbitMQ as the gateway uses it: applying and verifying the
///   topology over AMQP and the management HTTP API, provisioning tenants.
/// - `SwitchboardStore`: the gateway's state in SQLite (GRDB) or PostgreSQL (PostgresNIO), behind protocols per concern.
/// - `SwitchboardRegistry`: tenant lifecycle, keeping the store and the broker in step.
/// - `SwitchboardHTTP`: what every HTTP service shares: RFC 9457 problem details and the
///   middleware that turns every error into one.
/// - `SwitchboardAPI`: the `api` service (Hummingbird): REST for publishers and admins.
/// - `SwitchboardProviders`: the provider adapters (WasenderAPI, Meta Cloud API) over
///   AsyncHTTPClient, each classifying failures as transient or permanent.
/// - `SwitchboardDispatcher`: the `dispatcher` service: tenant queues → throttle → provider,
///   retries through the delay tiers, dead letters, status events.
/// - `SwitchboardWebhooks`: the `webhooks` service: provider webhooks checked, then
///   published raw to `sb.inbound` with confirm before the provider gets its 200.
/// - `SwitchboardConsumers`: what every event consumer shares: the queue worker, dead
///   letters, the outbox of owed publications, the inbox's and bot's settle loop.
/// - `SwitchboardNormalizer`: the `normalizer` service (raw webhooks → deduplicated
///   normalized events).
/// - `SwitchboardMessageLog`: the `logger` service (`MessageLogWriter`, the message log).
/// - `SwitchboardSimulator`: the `simulator` service, a provider stand-in (WasenderAPI- and
///   Meta-shaped send endpoints, limits, failures, signed status webhooks).
/// - `SwitchboardApp`: the composition root: `Gateway.build` assembles a process's
///   services, connections, store and shared caches into one `ServiceGroup`; the CLI,
///   the integration tests and the benchmarks all start processes through it.
/// - `SwitchboardBench`: the `switchboard bench …` scenarios.
/// - `SwitchboardCLI`: the one thin executable, `switchboard`.
let strictSwift: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "switchboard",
    // Linux only, so no `platforms`: the AMQP client's C shim and its Swift side rely on
    // Linux APIs (`sys/eventfd.h` for the connection thread's wake descriptor, `TCP_CORK`,
    // Glibc), and nothing guards them for Darwin. Claiming macOS would promise a build
    // that fails; supporting it means guarding those parts as swift-nio's CNIOLinux does.
    products: [
        .executable(name: "switchboard", targets: ["SwitchboardCLI"]),
        .library(name: "SwitchboardAMQP", targets: ["SwitchboardAMQP"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.3"),
        // OTLP over HTTP only: the gRPC exporter's dependencies are not built.
        .package(url: "https://github.com/swift-otel/swift-otel", from: "1.6.0", traits: ["OTLPHTTP"]),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        // swift-configuration support is not used: configuration comes from `Settings`.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: ["FullFoundation"]),
    ],
    targets: [
        .systemLibrary(
            name: "CRabbitMQ",
            pkgConfig: "librabbitmq",
            providers: [.apt(["librabbitmq-dev"])]
        ),
        .target(
            name: "CAMQPShim",
            dependencies: ["CRabbitMQ"]
        ),
        .target(
            name: "SwitchboardAMQP",
            dependencies: [
                "CAMQPShim",
                "CRabbitMQ",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSwift
        ),
        .target(
            name: "SwitchboardTelemetry",
            dependencies: [
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),
        .target(
            name: "SwitchboardCore",
            dependencies: [
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSwift
        ),
        .target(
            name: "SwitchboardBroker",
            dependencies: [
                "SwitchboardTelemetry",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                "SwitchboardAMQP",
                "SwitchboardCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),
        .target(
            name: "SwitchboardStore",
            dependencies: [
                "SwitchboardTelemetry",
                "SwitchboardCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSwift
        ),
        .target(
            name: "SwitchboardRegistry",
            dependencies: [
                "SwitchboardBroker",
                "SwitchboardCore",
                "SwitchboardStore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),
        .target(
            name: "SwitchboardHTTP",
            dependencies: [
                .product(name: "CoreMetrics", package: "swift-metrics"),
                "SwitchboardTelemetry",
                "SwitchboardCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSwift
        ),
        .target(
            name: "SwitchboardWebhooks",
            dependencies: [
                "SwitchboardTelemetry",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                "SwitchboardProviders",
                "SwitchboardAMQP",
                "SwitchboardBroker",
                "SwitchboardCore",
                "SwitchboardHTTP",
                "SwitchboardStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSwift
        ),
        .target(
            name: "SwitchboardConsumers",
            dependencies: [
                "SwitchboardTelemetry",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                "SwitchboardAMQP",
                "SwitchboardBroker",
                "SwitchboardCore",
                "SwitchboardStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSwift
        ),
        .target(
            name: "SwitchboardNormalizer",
            dependencies: [
                "SwitchboardTelemetry",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                "SwitchboardProviders",
                "SwitchboardAMQP",
                "SwitchboardBroker",
                "SwitchboardConsumers",
                "SwitchboardCore",
                "SwitchboardStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSwift
        ),
        .target(
            name: "SwitchboardMessageLog",
            dependencies: [
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                "SwitchboardAMQP",
                "SwitchboardConsumers",
                "SwitchboardCore",
                "SwitchboardStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSwift
        ),
        .target(
            name: "SwitchboardDeadLetters",
            dependencies: [
                "SwitchboardTelemetry",
                "SwitchboardAMQP",
                "SwitchboardBroker",
                "SwitchboardConsumers",
                "SwitchboardCore",
                "SwitchboardStore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSwift
        ),
        .target(
            name: "SwitchboardMonitor",
            dependencies: [
                "SwitchboardTelemetry",
                "SwitchboardAMQP",
                "SwitchboardBroker",
                "SwitchboardConsumers",
                "SwitchboardCore",
                "SwitchboardProviders",
                "SwitchboardStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSwift
        ),
        .target(
            name: "SwitchboardInbox",
            dependencies: [
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                "SwitchboardAMQP",
                "SwitchboardBroker",
                "SwitchboardCore",
                "SwitchboardConsumers",
                "SwitchboardStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSwift
        ),
        .target(
            name: "SwitchboardBot",
            dependencies: [
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                "SwitchboardAMQP",
                "SwitchboardBroker",
                "SwitchboardCore",
                "SwitchboardConsumers",
                "SwitchboardStore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSwift
        ),
        .target(
            name: "SwitchboardAPI",
            dependencies: [
                "SwitchboardTelemetry",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                "SwitchboardDeadLetters",
                "SwitchboardProviders",
                "SwitchboardAMQP",
                "SwitchboardBroker",
                "SwitchboardCore",
                "SwitchboardHTTP",
                "SwitchboardRegistry",
                "SwitchboardStore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            // The API's contract lives beside the handlers it describes, as a resource
            // (not at the repository's top level) so `Bundle.module` finds it wherever
            // SwiftPM runs the code: `.build/release/switchboard`, `swift run`, the tests.
            // `.copy` keeps the committed bytes, which `GET /openapi.yaml` serves as is.
            resources: [.copy("openapi.yaml")],
            swiftSettings: strictSwift
        ),
        .target(
            name: "SwitchboardProviders",
            dependencies: [
                "SwitchboardCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSwift
        ),
        .target(
            name: "SwitchboardDispatcher",
            dependencies: [
                "SwitchboardTelemetry",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                "SwitchboardAMQP",
                "SwitchboardBroker",
                "SwitchboardConsumers",
                "SwitchboardCore",
                "SwitchboardProviders",
                "SwitchboardStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSwift
        ),
        .target(
            name: "SwitchboardSimulator",
            dependencies: [
                "SwitchboardCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSwift
        ),
        .target(
            name: "SwitchboardApp",
            dependencies: [
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                "SwitchboardTelemetry",
                "SwitchboardMonitor",
                "SwitchboardDeadLetters",
                "SwitchboardAMQP",
                "SwitchboardAPI",
                "SwitchboardBot",
                "SwitchboardBroker",
                "SwitchboardCore",
                "SwitchboardDispatcher",
                "SwitchboardConsumers",
                "SwitchboardMessageLog",
                "SwitchboardNormalizer",
                "SwitchboardInbox",
                "SwitchboardProviders",
                "SwitchboardRegistry",
                "SwitchboardSimulator",
                "SwitchboardStore",
                "SwitchboardWebhooks",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSwift
        ),
        .target(
            name: "SwitchboardBench",
            dependencies: [
                "SwitchboardTelemetry",
                "SwitchboardApp",
                "SwitchboardAMQP",
                "SwitchboardAPI",
                "SwitchboardBroker",
                "SwitchboardCore",
                "SwitchboardDispatcher",
                "SwitchboardConsumers",
                "SwitchboardWebhooks",
                "SwitchboardProviders",
                "SwitchboardRegistry",
                "SwitchboardSimulator",
                "SwitchboardStore",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),
        .executableTarget(
            name: "SwitchboardCLI",
            dependencies: [
                "SwitchboardTelemetry",
                "SwitchboardMonitor",
                "SwitchboardDeadLetters",
                "SwitchboardApp",
                "SwitchboardAMQP",
                "SwitchboardAPI",
                "SwitchboardBench",
                "SwitchboardBroker",
                "SwitchboardCore",
                "SwitchboardDispatcher",
                "SwitchboardBot",
                "SwitchboardConsumers",
                "SwitchboardInbox",
                "SwitchboardWebhooks",
                "SwitchboardProviders",
                "SwitchboardRegistry",
                "SwitchboardSimulator",
                "SwitchboardStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "SwitchboardProvidersTests",
            dependencies: [
                "SwitchboardProviders",
                "SwitchboardCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "SimulatorTests",
            dependencies: [
                "SwitchboardSimulator",
                "SwitchboardCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "SwitchboardCoreTests",
            dependencies: ["SwitchboardCore"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "SwitchboardStoreTests",
            dependencies: ["SwitchboardStore", "SwitchboardCore", "SwitchboardProviders",
                           .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "SwitchboardDeadLettersTests",
            dependencies: ["SwitchboardDeadLetters", "SwitchboardAMQP", "SwitchboardCore", "SwitchboardStore"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "SwitchboardRegistryTests",
            dependencies: ["SwitchboardRegistry"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "SwitchboardAMQPTests",
            dependencies: ["SwitchboardAMQP", "CAMQPShim", "CRabbitMQ"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "AMQPIntegrationTests",
            dependencies: [
                "SwitchboardHTTP",
                "SwitchboardTelemetry",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                "SwitchboardMonitor",
                "SwitchboardApp",
                "SwitchboardDeadLetters",
                "SwitchboardAMQP",
                "SwitchboardAPI",
                "SwitchboardDispatcher",
                "SwitchboardBot",
                "SwitchboardConsumers",
                "SwitchboardInbox",
                "SwitchboardWebhooks",
                "SwitchboardProviders",
                "SwitchboardSimulator",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                "SwitchboardBench",
                "SwitchboardBroker",
                "SwitchboardCore",
                "SwitchboardRegistry",
                "SwitchboardStore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                // The contract check parses openapi.yaml itself, as the source it is.
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strictSwift
        ),
    ]
)
