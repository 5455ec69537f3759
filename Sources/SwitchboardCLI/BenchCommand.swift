import ArgumentParser
import Foundation
import SwitchboardBench
import SwitchboardCore

/// `switchboard bench …`: the benchmarks that check the project's speed targets.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure throughput and latency against the real broker.",
        subcommands: [AMQP.self, TopologyBench.self, API.self, Outbound.self, Tenants.self, Gateway.self, DeadLetters.self, Monitor.self]
    )

    struct AMQP: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "amqp",
            abstract: "Persistent messages published with confirms to a durable queue while a consumer acks them.")

        @OptionGroup var amqp: AMQPOptions
        @OptionGroup var logging: LoggingOptions
        @Option(help: "Messages to publish.") var messages = 100_000
        @Option(help: "Body size in bytes.") var size = 400
        @Option(help: "Publishes in flight awaiting confirms.") var window = 500
        @Option(help: "Consumer prefetch.") var prefetch: UInt16 = 1000
        @Option(help: "The consumer acks (with multiple) once per this many deliveries; at most the prefetch.")
        var ackEvery = 50
        @Flag(help: "Print one JSON object instead of text.") var json = false

        func validate() throws {
            guard messages > 0, size >= 0, window > 0, prefetch > 0, ackEvery > 0 else {
                throw ValidationError("--messages, --window, --prefetch and --ack-every must be positive, --size not negative")
            }
            guard ackEvery <= Int(prefetch) else {
                throw ValidationError("--ack-every \(ackEvery) above --prefetch \(prefetch) would stall the consumer")
            }
        }

        func run() async throws {
            var options = AMQPBenchmark.Options()
            options.messages = messages
            options.bodySize = size
            options.window = window
            options.prefetch = prefetch
            options.ackEvery = ackEvery
            let benchmark = AMQPBenchmark(
                configuration: try amqp.configuration(connectionName: "switchboard-bench"), options: options,
                logger: logging.makeLogger(label: "switchboard.bench"))
            try emit(try await benchmark.run(), json: json)
        }
    }

    struct TopologyBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "topology",
            abstract: "Provision N tenants in a scratch vhost; re-apply, verify, clean up.")

        @OptionGroup var amqp: AMQPOptions
        @OptionGroup var topology: TopologyOptions
        @OptionGroup var logging: LoggingOptions
        @Option(help: "Tenants to provision.") var tenants = 1000
        @Flag(help: "Print one JSON object instead of text.") var json = false

        func run() async throws {
            let benchmark = TopologyBenchmark(
                configuration: try amqp.configuration(connectionName: "switchboard-bench"),
                management: try topology.management(), topology: try topology.load(), tenants: tenants,
                logger: logging.makeLogger(label: "switchboard.bench"))
            try emit(try await benchmark.run(), json: json)
        }
    }
}

extension BenchCommand {
    struct API: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "api",
            abstract: "POST /v1/messages at a fixed concurrency, confirm before 202 (in-process api over a scratch vhost, or --url).")

        @OptionGroup var target: BenchTargetOptions
        @Option(help: "Messages to send (after the warm-up).") var messages = 50_000
        @Option(help: "Requests in flight.") var concurrency = 64
        @Option(help: "Messages sent first and not measured.") var warmup = 2_000
        @Option(help: "A running api service to target instead of an in-process one.") var url: String?
        @Option(help: "A tenant key for --url.") var key: String?
        @Option(help: "A postgres:// URL to keep the store on (in a scratch schema); else a SQLite file.")
        var database: String?

        @Flag(help: "Keep no metrics in the in-process api (what their overhead is measured against).")
        var noMetrics = false
        @Flag(help: "Print one JSON object instead of text.") var json = false

        func run() async throws {
            var options = APIBenchmark.Options()
            options.messages = messages
            options.concurrency = concurrency
            options.warmup = warmup
            options.externalURL = url
            options.apiKey = key
            options.metrics = !noMetrics
            options.database = database
            try await target.run(APIBenchmark.self, options, json: json)
        }
    }
}

extension BenchCommand {
    struct Outbound: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "outbound",
            abstract: "The outbound path against the simulator: throughput, isolation of transactional from bulk, or its floor.")

        @OptionGroup var target: BenchTargetOptions
        @Option(help: "throughput, isolation or floor (each part of the path alone, with its CPU per message).")
        var scenario: String = "throughput"
        @Option(help: "Tenants (isolation: with campaigns; two quiet tenants are added).") var tenants = 10
        @Option(help: "Throughput: messages in all.") var messages = 50_000
        @Option(help: "Isolation: bulk messages per tenant.") var campaign = 5_000
        @Option(help: "Isolation: messages/s per session (also the simulator's limit).") var sessionRate = 50.0
        @Option(help: "Isolation: the share of the rate bulk may use.") var bulkShare = 0.8
        @Option(help: "Isolation: the simulator's latency in ms.") var latency = 20
        @Option(help: "Isolation: transactional messages per second.") var transactionalRate = 5.0
        @Option(help: "Isolation: seconds of transactional traffic measured.") var seconds = 30
        @Option(help: "Deliveries in flight per tenant in the dispatcher.") var inFlight: UInt16 = 8
        @Option(help: "A postgres:// URL to keep the store on (in a scratch schema); else a SQLite file.")
        var database: String?

        @Flag(help: "Keep no metrics in the dispatcher (what their overhead is measured against).")
        var noMetrics = false
        @Flag(help: "Print one JSON object instead of text.") var json = false

        func run() async throws {
            guard let scenario = OutboundBenchmark.Scenario(rawValue: scenario) else {
                throw ValidationError("--scenario must be throughput, isolation or floor")
            }
            var options = OutboundBenchmark.Options()
            options.scenario = scenario
            options.tenants = tenants
            options.messages = messages
            options.campaign = campaign
            options.sessionRate = sessionRate
            options.bulkShare = bulkShare
            options.simulatorLatencyMs = latency
            options.transactionalPerSecond = transactionalRate
            options.seconds = seconds
            options.inFlightPerTenant = inFlight
            options.metrics = !noMetrics
            options.database = database
            try await target.run(OutboundBenchmark.self, options, json: json)
        }
    }
}

extension BenchCommand {
    struct Tenants: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "tenants",
            abstract: "Onboard N tenants through the api (one by one and in batches) on the whole gateway; creation latency at N, consumers, idle CPU and memory.")

        @OptionGroup var target: BenchTargetOptions
        @Option(help: "Tenants in all, each with one session.") var tenants = 10_000
        @Option(help: "Of these, created one by one (POST /v1/tenants and …/sessions); the rest in batches.")
        var singles = 1_000
        @Option(help: "Clients creating tenants one by one at once.") var concurrency = 32
        @Option(help: "Tenants per POST /v1/tenants/batch (at most 1,000).") var batchSize = 1_000
        @Option(help: "Single creations timed one after another once the others exist.") var probes = 200
        @Option(help: "Seconds of idle measured.") var idleSeconds = 30
        @Flag(help: "Print one JSON object instead of text.") var json = false

        func validate() throws {
            guard tenants > 0, singles >= 0, concurrency > 0, (1...1_000).contains(batchSize), probes > 0,
                  idleSeconds > 0
            else {
                throw ValidationError("--tenants, --concurrency, --probes and --idle-seconds must be positive, --batch-size 1…1000")
            }
        }

        func run() async throws {
            var options = TenantsBenchmark.Options()
            options.tenants = tenants
            options.throughSingleCreates = singles
            options.concurrency = concurrency
            options.batchSize = batchSize
            options.probes = probes
            options.idleSeconds = idleSeconds
            try await target.run(TenantsBenchmark.self, options, json: json)
        }
    }
}

extension BenchCommand {
    struct Gateway: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gateway",
            abstract: "The whole loop: serve all and serve simulator as processes, N messages through the api until read; CPU per message.")

        @OptionGroup var target: BenchTargetOptions
        @Option(help: "Messages measured.") var messages = 10_000
        @Option(help: "Tenants the messages come from (round robin).") var tenants = 10
        @Option(help: "Requests in flight.") var concurrency = 32
        @Option(help: "Messages sent first and not measured.") var warmup = 500
        @Flag(help: "The simulator sends no status webhooks (messages end at sent).") var noStatusWebhooks = false
        @Option(help: "RabbitMQ's Prometheus endpoint, for its global message counters.")
        var prometheus = "http://127.0.0.1:15692/metrics"
        @Flag(help: "Print one JSON object instead of text.") var json = false

        func validate() throws {
            guard messages > 0, tenants > 0, concurrency > 0, warmup >= 0 else {
                throw ValidationError("--messages, --tenants and --concurrency must be positive, --warmup not negative")
            }
        }

        func run() async throws {
            var options = GatewayBenchmark.Options(
                executable: try Self.executable(), topologyPath: try target.topologyPath(),
                managementURL: target.managementURL())
            options.messages = messages
            options.tenants = tenants
            options.concurrency = concurrency
            options.warmup = warmup
            options.statusWebhooks = !noStatusWebhooks
            options.prometheusURL = prometheus
            try await target.run(GatewayBenchmark.self, options, json: json)
        }

        /// This very executable, which the benchmark runs as `serve all` and `serve simulator`.
        static func executable() throws -> String {
            let path = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
                ?? CommandLine.arguments[0]
            guard FileManager.default.isExecutableFile(atPath: path) else {
                throw ValidationError("cannot find this executable (\(path))")
            }
            return path
        }
    }
}

/// Prints a benchmark's report: one JSON object with `--json`, else its summary lines.
/// The broker, topology and logging options every scenario benchmark takes, and what it
/// builds from them.
struct BenchTargetOptions: ParsableArguments {
    @OptionGroup var amqp: AMQPOptions
    @OptionGroup var topology: TopologyOptions
    @OptionGroup var logging: LoggingOptions

    /// Builds the benchmark with `options`, runs it and prints its report.
    func run<Benchmark: ScenarioBenchmark>(_ type: Benchmark.Type, _ options: Benchmark.Options, json: Bool)
        async throws
    {
        let benchmark = Benchmark(
            configuration: try amqp.configuration(connectionName: "switchboard-bench"),
            management: try topology.management(), topology: try topology.load(), options: options,
            logger: logging.makeLogger(label: "switchboard.bench"))
        try emit(try await benchmark.run(), json: json)
    }

    /// The topology file the benchmark's child processes read.
    func topologyPath() throws -> String { try Topology.locate(flag: topology.path) }

    /// The management API's URL, as the child processes are told it.
    func managementURL(_ settings: Settings = Settings()) -> String {
        settings.value(topology.managementURL, .managementURL, default: Settings.Default.managementURL)
    }
}

func emit(_ report: some BenchReport, json: Bool) throws {
    if json {
        print(try report.json())
    } else {
        report.summary.forEach { print($0) }
    }
}

extension BenchCommand {
    struct DeadLetters: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dead-letters",
            abstract: "serve dead-letters as a process: archive and replay N dead letters (optionally SIGKILLed in each phase); listing a large archive.")

        @OptionGroup var target: BenchTargetOptions
        @Option(help: "Dead letters archived and replayed.") var messages = 20_000
        @Option(help: "Tenants they belong to.") var tenants = 10
        @Flag(help: "SIGKILL the service part-way through each phase; check nothing was lost or sent twice.") var kill = false
        @Option(help: "Rows in the archive whose listing is timed (0: skip).") var archiveRows = 1_000_000
        @Flag(help: "Print one JSON object instead of text.") var json = false

        func validate() throws {
            guard messages > 0, tenants > 0, archiveRows >= 0 else {
                throw ValidationError("--messages and --tenants must be positive, --archive-rows not negative")
            }
        }

        func run() async throws {
            var options = DeadLetterBenchmark.Options(
                executable: try Gateway.executable(), topologyPath: try target.topologyPath(),
                managementURL: target.managementURL())
            options.messages = messages
            options.tenants = tenants
            options.kill = kill
            options.archiveRows = archiveRows
            try await target.run(DeadLetterBenchmark.self, options, json: json)
        }
    }
}

extension BenchCommand {
    struct Monitor: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "monitor",
            abstract: "serve monitor as a process polling N simulator sessions for one interval: spread and CPU.")

        @OptionGroup var target: BenchTargetOptions
        @Option(help: "Sessions polled.") var sessions = 1_000
        @Option(help: "The poll interval, seconds (the default setting is 60).") var pollSeconds = 60
        @Flag(help: "Print one JSON object instead of text.") var json = false

        func validate() throws {
            guard sessions > 0, pollSeconds > 0 else { throw ValidationError("--sessions and --poll-seconds must be positive") }
        }

        func run() async throws {
            var options = MonitorBenchmark.Options(
                executable: try Gateway.executable(), topologyPath: try target.topologyPath(),
                managementURL: target.managementURL())
            options.sessions = sessions
            options.pollSeconds = pollSeconds
            try await target.run(MonitorBenchmark.self, options, json: json)
        }
    }
}
