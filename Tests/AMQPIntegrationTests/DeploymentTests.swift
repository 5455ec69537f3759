import Foundation
import SwitchboardApp
import SwitchboardCore
import Testing
import Yams

/// deploy/systemd, deploy/kubernetes and deploy/container as an operator uses them:
/// install.sh stages the expected tree and `systemd-analyze verify` accepts the units in
/// it without a word; the kustomize base and every overlay resolve to complete documents
/// (a Deployment running each gateway service, probes on paths the real listeners
/// answer, resources, a non-root read-only container…); the Containerfile's runtime stage
/// installs the libraries the binary links. Each checker is also run on a broken input,
/// so that it is known to fail.
///
/// The kustomizations are resolved here (`Kustomization`), not by kubectl: kubectl is not
/// a Debian package (Debian 12's kubernetes-client is 1.20), so a fresh CI machine lacks
/// it. Where /usr/bin/kubectl exists, its output is checked the same way and compared.
struct DeploymentTests {
    static let repository = DisposableNode.repositoryRoot
    static let deploy = repository.appendingPathComponent("deploy")

    // MARK: systemd

    @Test func installScriptStagesTheBinaryTheUnitsTheSettingsAndAKeyIntoARoot() throws {
        try Self.withStaging { staging, root in
            let etc = root.appendingPathComponent("etc/switchboard")
            let units = root.appendingPathComponent("etc/systemd/system")
            let bin = root.appendingPathComponent("opt/switchboard/bin")
            #expect(FileManager.default.isExecutableFile(atPath: bin.appendingPathComponent("switchboard").path))
            #expect(FileManager.default.fileExists(
                atPath: bin.appendingPathComponent("switchboard_SwitchboardAPI.resources/openapi.yaml").path),
                    "the resource bundles go beside the binary")
            #expect(try Data(contentsOf: root.appendingPathComponent("opt/switchboard/Topology/topology.yaml"))
                == Data(contentsOf: Self.repository.appendingPathComponent("Topology/topology.yaml")))
            for unit in ["switchboard@.service", "switchboard-topology.service", "switchboard.target"] {
                #expect(FileManager.default.fileExists(atPath: units.appendingPathComponent(unit).path), "\(unit)")
            }
            #expect(try Self.mode(etc.appendingPathComponent("master.key")) == 0o600)
            let key = try String(contentsOf: etc.appendingPathComponent("master.key"), encoding: .utf8)
            #expect(Data(base64Encoded: key.trimmingCharacters(in: .whitespacesAndNewlines))?.count == 32)
            #expect(try Self.mode(etc.appendingPathComponent("switchboard.env")) == 0o640)
            // Every gateway service is enabled in the target, and nothing else.
            let wants = try FileManager.default.contentsOfDirectory(
                atPath: units.appendingPathComponent("switchboard.target.wants").path)
            let instances = Set(wants.compactMap { name -> String? in
                guard name.hasPrefix("switchboard@"), name.hasSuffix(".service") else { return nil }
                return String(name.dropFirst("switchboard@".count).dropLast(".service".count))
            })
            #expect(instances == Set(GatewayService.gateway.map(\.rawValue)))
            #expect(wants.contains("switchboard-topology.service"))
            #expect(try FileManager.default.destinationOfSymbolicLink(
                atPath: units.appendingPathComponent("switchboard.target.wants/switchboard@api.service").path)
                == "/etc/systemd/system/switchboard@.service")
            #expect(try FileManager.default.destinationOfSymbolicLink(
                atPath: units.appendingPathComponent("multi-user.target.wants/switchboard.target").path)
                == "/etc/systemd/system/switchboard.target")
            // Each service without an HTTP listener has a metrics port of its own.
            var ports: Set<String> = []
            for service in GatewayService.gateway where service != .api && service != .webhooks {
                let text = try String(contentsOf: etc.appendingPathComponent("\(service.rawValue).env"), encoding: .utf8)
                let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("SWITCHBOARD_METRICS_LISTEN=") })
                ports.insert(String(line.split(separator: ":").last ?? ""))
            }
            #expect(ports.count == GatewayService.gateway.count - 2, "one metrics port per service: \(ports)")

            // A second run keeps what the operator changed and the key.
            try "SWITCHBOARD_LOG_LEVEL=debug\n".write(to: etc.appendingPathComponent("switchboard.env"), atomically: true,
                                                      encoding: .utf8)
            try Self.install(root: root, binary: staging.appendingPathComponent("build/switchboard"))
            #expect(try String(contentsOf: etc.appendingPathComponent("switchboard.env"), encoding: .utf8)
                == "SWITCHBOARD_LOG_LEVEL=debug\n")
            #expect(try String(contentsOf: etc.appendingPathComponent("master.key"), encoding: .utf8) == key)

            // --dry-run only prints.
            let dry = staging.appendingPathComponent("dry")
            let output = try Self.install(root: dry, binary: staging.appendingPathComponent("build/switchboard"),
                                          extra: ["--dry-run"])
            #expect(!FileManager.default.fileExists(atPath: dry.path), "--dry-run wrote \(dry.path)")
            #expect(output.contains("+ install -m 0755"), "\(output)")
        }
    }

    @Test func systemdAnalyzeVerifiesTheInstalledUnitsWithoutAWarning() throws {
        try Self.withStaging { _, root in
            let files = ["switchboard@api.service", "switchboard@dead-letters.service", "switchboard-topology.service",
                         "switchboard.target"]
            let problems = try Self.verifyUnits(root: root, files)
            #expect(problems.isEmpty, "systemd-analyze verify: \(problems)")

            // The check fails on an unknown directive, a bad value, or a missing binary.
            let template = root.appendingPathComponent("etc/systemd/system/switchboard@.service")
            let good = try String(contentsOf: template, encoding: .utf8)
            try good.replacingOccurrences(of: "ProtectSystem=strict", with: "ProtectSystem=strict\nProtectEverything=yes")
                .write(to: template, atomically: true, encoding: .utf8)
            #expect(try Self.verifyUnits(root: root, ["switchboard@api.service"]).contains { $0.contains("ProtectEverything") })
            try good.write(to: template, atomically: true, encoding: .utf8)
            try FileManager.default.removeItem(at: root.appendingPathComponent("opt/switchboard/bin/switchboard"))
            #expect(!(try Self.verifyUnits(root: root, ["switchboard@api.service"])).isEmpty)
        }
    }

    @Test func theServiceUnitIsHardenedAndOutlastsAGracefulShutdown() throws {
        let unit = try Self.unitSettings(Self.deploy.appendingPathComponent("systemd/switchboard@.service"))
        func values(_ key: String) -> [String] { unit.filter { $0.key == key }.map { $0.value } }
        let wanted: [String: String] = [
            "User": "switchboard", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
            "NoNewPrivileges": "yes", "CapabilityBoundingSet": "", "StateDirectory": "switchboard",
            "Restart": "on-failure", "ReadWritePaths": "/var/lib/switchboard",
            "Environment": "SWITCHBOARD_MASTER_KEY_FILE=%d/master.key",
        ]
        for (key, value) in wanted {
            #expect(values(key).contains(value), "\(key)=\(value), found \(values(key))")
        }
        #expect(values("SystemCallFilter").contains("@system-service"))
        #expect(values("RestrictAddressFamilies").first?.split(separator: " ").sorted() == ["AF_INET", "AF_INET6", "AF_UNIX"])
        #expect(values("LoadCredential").contains("master.key:/etc/switchboard/master.key"))
        #expect(values("Environment").contains("SWITCHBOARD_DATABASE=/var/lib/switchboard/switchboard.sqlite"),
                "the SQLite file lives in the state directory, the one writable path")
        #expect(Int(values("LimitNOFILE").first ?? "") ?? 0 >= 65536)
        let start = try #require(values("ExecStart").first)
        #expect(start.hasPrefix("/opt/switchboard/bin/switchboard serve %i --skip-topology"))
        let words = start.split(separator: " ").map(String.init)
        let shutdown = words.firstIndex(of: "--shutdown-timeout").flatMap { Int(words[$0 + 1]) } ?? 10
        #expect(Int(values("TimeoutStopSec").first ?? "") ?? 0 > shutdown + 5,
                "TimeoutStopSec must outlast serve --shutdown-timeout (\(shutdown) s)")
        #expect(values("Requires").contains("switchboard-topology.service"))
        #expect(values("After").first?.contains("switchboard-topology.service") == true)
        let topology = try Self.unitSettings(Self.deploy.appendingPathComponent("systemd/switchboard-topology.service"))
        #expect(topology.contains { $0.key == "ExecStart" && $0.value.hasSuffix("switchboard topology apply") })
        #expect(topology.contains { $0.key == "Type" && $0.value == "oneshot" })
    }

    // MARK: Kubernetes

    @Test(arguments: ["base", "overlays/production"])
    func theKustomizationResolvesToCompleteDocuments(_ path: String) throws {
        let documents = try Kustomization.build(Self.deploy.appendingPathComponent("kubernetes/\(path)"))
        let problems = try Self.manifestProblems(documents, namespace: path == "base" ? nil : "switchboard")
        #expect(problems.isEmpty, "\(path):\n\(problems.joined(separator: "\n"))")
        if path != "base" {
            for deployment in documents where deployment["kind"] as? String == "Deployment" {
                for container in Self.containers(of: deployment) {
                    #expect(container["image"] as? String == "registry.example.com/switchboard:1.0.0")
                }
            }
            let api = try #require(documents.first { Self.name(of: $0) == "switchboard-api" && $0["kind"] as? String == "Deployment" })
            #expect(Self.dig(api, "spec", "replicas") as? Int == 3)
            let secret = try #require(documents.first { Self.name(of: $0) == "switchboard-env" })
            #expect((Self.dig(secret, "stringData", "SWITCHBOARD_DATABASE") as? String)?.hasPrefix("postgres://") == true)
        }
    }

    @Test func theManifestCheckFindsWhatIsMissing() throws {
        let documents = try Kustomization.build(Self.deploy.appendingPathComponent("kubernetes/base"))
        func broken(_ change: (inout [String: Any]) -> Void, component: String) -> [[String: Any]] {
            documents.map { document in
                guard document["kind"] as? String == "Deployment", Self.name(of: document) == "switchboard-\(component)"
                else { return document }
                var container = Self.containers(of: document)[0]
                change(&container)
                return Self.replacingContainer(container, in: document)
            }
        }
        let noProbe = broken({ $0["readinessProbe"] = nil }, component: "api")
        #expect(try Self.manifestProblems(noProbe, namespace: nil).contains { $0.contains("readinessProbe") })
        // The metrics listener serves no /ready.
        let ready = broken({ $0["readinessProbe"] = ["httpGet": ["path": "/ready", "port": "metrics"]] },
                           component: "dispatcher")
        #expect(try Self.manifestProblems(ready, namespace: nil).contains { $0.contains("/ready") })
        let root = broken({ $0["securityContext"] = ["readOnlyRootFilesystem": false] }, component: "normalizer")
        #expect(try Self.manifestProblems(root, namespace: nil).contains { $0.contains("readOnlyRootFilesystem") })
        let noLimits = broken({ $0["resources"] = ["requests": ["cpu": "1"]] }, component: "webhooks")
        #expect(try Self.manifestProblems(noLimits, namespace: nil).contains { $0.contains("resources") })
        let noBot = broken({ $0["args"] = ["serve", "logger", "inbox", "dead-letters", "monitor"] }, component: "consumers")
        #expect(try Self.manifestProblems(noBot, namespace: nil).contains { $0.contains("bot") })
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/kubectl"),
                   "kubectl is not a Debian package; the resolver above checks the same files"),
          arguments: ["base", "overlays/production"])
    func kubectlKustomizeAgreesWithTheResolver(_ path: String) throws {
        let folder = Self.deploy.appendingPathComponent("kubernetes/\(path)")
        let (status, output) = try Self.run("/usr/bin/kubectl", ["kustomize", folder.path])
        try #require(status == 0, "kubectl kustomize \(path): \(output)")
        let documents = try Kustomization.documents(in: output)
        let problems = try Self.manifestProblems(documents, namespace: path == "base" ? nil : "switchboard")
        #expect(problems.isEmpty, "\(path):\n\(problems.joined(separator: "\n"))")
        let ours = try Kustomization.build(folder)
        func summary(_ documents: [[String: Any]]) -> [String] {
            documents.map { document in
                let images = Self.containers(of: document).compactMap { $0["image"] as? String }.joined(separator: ",")
                return ["\(document["kind"] ?? "")", Self.name(of: document), "\(Self.dig(document, "metadata", "namespace") ?? "-")",
                        "\(Self.dig(document, "spec", "replicas") ?? "-")", images].joined(separator: " ")
            }.sorted()
        }
        #expect(summary(ours) == summary(documents))
    }

    @Test func theTopologyInTheKustomizationIsTheRepositorysOwn() throws {
        let copy = try Data(contentsOf: Self.deploy.appendingPathComponent("kubernetes/base/topology.yaml"))
        let original = try Data(contentsOf: Self.repository.appendingPathComponent("Topology/topology.yaml"))
        #expect(copy == original, "cp Topology/topology.yaml deploy/kubernetes/base/topology.yaml")
    }

    /// The paths the manifests probe, on the listeners they name, answered by a real gateway
    /// (api, webhooks and a metrics listener): `servedPaths` is what each listener answers 200.
    @Test func theProbedPathsAreWhatTheRealListenersAnswer() async throws {
        try await ScratchVirtualHost.with { scratch in
            try await TestGateway.withDirectory { directory in
                let configuration = try TestGateway.configuration([.api, .webhooks, .normalizer], scratch: scratch,
                                                                  directory: directory) {
                    $0.metricsListener = (host: "127.0.0.1", port: 0)
                }
                try await TestGateway.with(configuration) { gateway in
                    let listeners: [(Listener, Gateway.Listener)] = [(.api, .api), (.webhooks, .webhooks), (.metrics, .metrics)]
                    for (listener, real) in listeners {
                        let port = try await gateway.port(of: real)
                        var answered: Set<String> = []
                        for path in ["/healthz", "/readyz", "/livez", "/metrics"] {
                            if try await TestAPI.request(port: port, .GET, path).status == 200 { answered.insert(path) }
                        }
                        #expect(answered == Self.servedPaths[listener], "\(listener)")
                    }
                }
            }
        }
    }

    // MARK: Container image

    @Test func theContainerfileBuildsWithTheToolchainAndRunsAsNonRootOnSlimDebian() throws {
        let text = try String(contentsOf: Self.deploy.appendingPathComponent("container/Containerfile"), encoding: .utf8)
        let problems = Self.containerfileProblems(text)
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
        // And the check fails where it should.
        #expect(Self.containerfileProblems(text.replacingOccurrences(of: "USER 10001:10001", with: "USER root"))
            .contains { $0.contains("USER") })
        #expect(Self.containerfileProblems(text.replacingOccurrences(of: " librabbitmq4", with: ""))
            .contains { $0.contains("librabbitmq4") })
    }

    /// The shared libraries the built binary needs, found by ldd and traced to their Debian
    /// packages: each outside the Swift toolchain (which --static-swift-stdlib links in)
    /// is installed by the runtime stage or is part of debian:bookworm-slim.
    @Test func theRuntimeStageInstallsEveryLibraryTheBinaryLinks() throws {
        let binary = Self.repository.appendingPathComponent(".build/debug/switchboard")
        try #require(FileManager.default.isExecutableFile(atPath: binary.path), "swift build first")
        let (status, ldd) = try Self.run("/usr/bin/ldd", [binary.path])
        try #require(status == 0, "\(ldd)")
        var packages: Set<String> = []
        var libraries: [String] = []
        for line in ldd.split(separator: "\n") {
            guard let arrow = line.range(of: "=> ") else { continue }
            let path = String(line[arrow.upperBound...].split(separator: " ").first ?? "")
            guard path.hasPrefix("/"), !path.contains("/usr/lib/swift/") else { continue }
            libraries.append(path)
            // dpkg knows a file by the path its package ships (/lib or /usr/lib, merged here).
            let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
            var candidates: Set<String> = [path, resolved]
            for candidate in candidates {
                if candidate.hasPrefix("/usr/lib/") { candidates.insert(String(candidate.dropFirst(4))) }
                if candidate.hasPrefix("/lib/") { candidates.insert("/usr" + candidate) }
            }
            let (_, owners) = try Self.run("/usr/bin/dpkg", ["-S"] + candidates.sorted())
            let owner = owners.split(separator: "\n").first { !$0.hasPrefix("dpkg-query:") }
                .flatMap { $0.split(separator: ":").first.map(String.init) }
            #expect(owner != nil, "no Debian package holds \(path)")
            if let owner { packages.insert(owner) }
        }
        #expect(libraries.contains { $0.contains("librabbitmq") }, "\(libraries)")
        let text = try String(contentsOf: Self.deploy.appendingPathComponent("container/Containerfile"), encoding: .utf8)
        let runtime = Self.aptPackages(inStage: 1, of: text)
        let slim: Set<String> = ["libc6", "libgcc-s1", "libstdc++6", "zlib1g"]
        for package in packages {
            #expect(runtime.contains(package) || slim.contains(package),
                    "the binary links a library of \(package), which the runtime stage does not install")
        }
    }
}

// MARK: - Listeners and what they serve

extension DeploymentTests {
    enum Listener: Hashable { case api, webhooks, metrics }

    /// What each listener answers with 200 (checked against a real gateway above). The
    /// metrics listener of a process without api or webhooks has no /readyz.
    static let servedPaths: [Listener: Set<String>] = [
        .api: ["/healthz", "/readyz", "/metrics"],
        .webhooks: ["/healthz", "/readyz", "/metrics"],
        .metrics: ["/healthz", "/readyz", "/metrics"],
    ]
}

// MARK: - Manifest checks

extension DeploymentTests {
    /// Every problem of a set of resolved documents, as readable lines.
    static func manifestProblems(_ documents: [[String: Any]], namespace: String?) throws -> [String] {
        var problems: [String] = []
        func of(_ kind: String) -> [[String: Any]] { documents.filter { $0["kind"] as? String == kind } }
        for kind in ["Deployment", "Service", "PodDisruptionBudget", "Secret", "ConfigMap", "RabbitmqCluster", "Job"]
            where of(kind).isEmpty {
            problems.append("no \(kind)")
        }
        if let namespace {
            for document in documents where dig(document, "metadata", "namespace") as? String != namespace {
                problems.append("\(document["kind"] ?? "") \(name(of: document)) is not in namespace \(namespace)")
            }
        }
        let configMaps = Dictionary(of("ConfigMap").map { (name(of: $0), $0) }, uniquingKeysWith: { a, _ in a })
        let secrets = Dictionary(of("Secret").map { (name(of: $0), $0) }, uniquingKeysWith: { a, _ in a })

        // Which Deployment runs which service, and the listeners of its process.
        var runBy: [String: [String]] = [:]
        var listenersOf: [String: [Int: Listener]] = [:]
        for deployment in of("Deployment") {
            let deploymentName = name(of: deployment)
            let replicas = dig(deployment, "spec", "replicas") as? Int ?? 1
            let podLabels = dig(deployment, "spec", "template", "metadata", "labels") as? [String: Any] ?? [:]
            let pod = dig(deployment, "spec", "template", "spec") as? [String: Any] ?? [:]
            let containers = containers(of: deployment)
            if containers.isEmpty { problems.append("\(deploymentName): no container") }
            for container in containers {
                let label = "\(deploymentName)/\(container["name"] ?? "?")"
                let args = container["args"] as? [String] ?? []
                guard args.first == "serve" else { problems.append("\(label): does not run `serve`: \(args)"); continue }
                let services = args.dropFirst().prefix { !$0.hasPrefix("-") }
                for service in services {
                    if GatewayService(rawValue: service) == nil || service == "simulator" {
                        problems.append("\(label): serve \(service) is not a gateway service")
                    }
                    runBy[service, default: []].append(deploymentName)
                }
                let environment = try self.environment(of: container, configMaps: configMaps, secrets: secrets,
                                                       problems: &problems, label: label)
                // The process's listeners, by port.
                var listeners: [Int: Listener] = [:]
                func listen(_ key: String, _ listener: Listener, _ fallback: String?) {
                    guard let address = environment[key] ?? fallback else { return }
                    guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...])
                    else { problems.append("\(label): \(key)=\(address) is not host:port"); return }
                    let host = address[..<colon]
                    if host.hasPrefix("127.") || host == "localhost" {
                        problems.append("\(label): \(key)=\(address) listens on loopback, out of the kubelet's reach")
                    }
                    listeners[port] = listener
                }
                if services.contains("api") { listen("SWITCHBOARD_API_LISTEN", .api, Settings.Default.apiListen) }
                if services.contains("webhooks") {
                    listen("SWITCHBOARD_WEBHOOKS_LISTEN", .webhooks, Settings.Default.webhooksListen)
                }
                listen("SWITCHBOARD_METRICS_LISTEN", .metrics, nil)
                listenersOf[deploymentName] = listeners
                let ports = Dictionary((container["ports"] as? [[String: Any]] ?? []).compactMap { port -> (String, Int)? in
                    guard let name = port["name"] as? String, let number = port["containerPort"] as? Int else { return nil }
                    return (name, number)
                }, uniquingKeysWith: { a, _ in a })
                for probe in ["readinessProbe", "livenessProbe"] {
                    guard let get = dig(container, probe, "httpGet") as? [String: Any], let path = get["path"] as? String
                    else { problems.append("\(label): no \(probe) with httpGet"); continue }
                    let port = get["port"] as? Int ?? (get["port"] as? String).flatMap { ports[$0] }
                    guard let port, let listener = listeners[port] else {
                        problems.append("\(label): \(probe) port \(get["port"] ?? "?") is none of the process's listeners \(listeners)")
                        continue
                    }
                    if servedPaths[listener]?.contains(path) != true {
                        problems.append("\(label): \(probe) \(path) is not served by the \(listener) listener")
                    }
                }
                problems += resourceAndSecurityProblems(container, pod: pod, label: label)
                let shutdown = args.firstIndex(of: "--shutdown-timeout").flatMap { Int(args[$0 + 1]) } ?? 10
                if (pod["terminationGracePeriodSeconds"] as? Int ?? 30) <= shutdown {
                    problems.append("\(label): terminationGracePeriodSeconds must outlast --shutdown-timeout \(shutdown)")
                }
            }
            if replicas > 1, !of("PodDisruptionBudget").contains(where: { selects($0, dig: ["spec", "selector", "matchLabels"], podLabels) }) {
                problems.append("\(deploymentName): \(replicas) replicas and no PodDisruptionBudget")
            }
        }
        for service in GatewayService.gateway.map(\.rawValue).sorted() where runBy[service]?.count != 1 {
            problems.append("\(service) runs in \(runBy[service] ?? []) (wanted: exactly one Deployment)")
        }

        // The api and the webhooks receiver behind Services, on their listeners' ports.
        for component in ["api", "webhooks"] {
            let listener: Listener = component == "api" ? .api : .webhooks
            let backends = of("Service").filter { service in
                of("Deployment").contains { deployment in
                    selects(service, dig: ["spec", "selector"],
                            dig(deployment, "spec", "template", "metadata", "labels") as? [String: Any] ?? [:])
                        && (runBy[component] ?? []).contains(name(of: deployment))
                        && listenersOf[name(of: deployment)]?.values.contains(listener) == true
                }
            }
            if backends.isEmpty { problems.append("no Service selects the Deployment running \(component)") }
        }

        // The Job applies the topology.
        for job in of("Job") {
            for container in containers(of: job) {
                let label = "Job \(name(of: job))/\(container["name"] ?? "?")"
                if (container["args"] as? [String] ?? []).prefix(2) != ["topology", "apply"] {
                    problems.append("\(label): does not run `topology apply`")
                }
                _ = try environment(of: container, configMaps: configMaps, secrets: secrets, problems: &problems, label: label)
                problems += resourceAndSecurityProblems(container, pod: dig(job, "spec", "template", "spec") as? [String: Any] ?? [:],
                                                        label: label)
            }
        }

        // The broker: three nodes, the plugins the gateway uses.
        for cluster in of("RabbitmqCluster") {
            if cluster["apiVersion"] as? String != "rabbitmq.com/v1beta1" { problems.append("RabbitmqCluster apiVersion") }
            if dig(cluster, "spec", "replicas") as? Int != 3 { problems.append("RabbitmqCluster: not 3 replicas") }
            let plugins = dig(cluster, "spec", "rabbitmq", "additionalPlugins") as? [String] ?? []
            for plugin in ["rabbitmq_management", "rabbitmq_prometheus"] where !plugins.contains(plugin) {
                problems.append("RabbitmqCluster: no \(plugin)")
            }
        }

        // The topology in its ConfigMap is the repository's, and it loads.
        let topology = configMaps.values.compactMap { dig($0, "data", "topology.yaml") as? String }.first
        if let topology {
            let original = try String(contentsOf: repository.appendingPathComponent("Topology/topology.yaml"), encoding: .utf8)
            if topology != original { problems.append("the topology ConfigMap is not Topology/topology.yaml") }
        } else {
            problems.append("no ConfigMap holds topology.yaml")
        }
        return problems
    }

    /// The container's environment as the kubelet builds it (ConfigMaps, then its own
    /// `env`), checking that every Secret and ConfigMap it names exists, and that the files
    /// SWITCHBOARD_TOPOLOGY and SWITCHBOARD_MASTER_KEY_FILE name are mounted.
    static func environment(of container: [String: Any], configMaps: [String: [String: Any]],
                            secrets: [String: [String: Any]], problems: inout [String], label: String) throws -> [String: String] {
        var environment: [String: String] = [:]
        for source in container["envFrom"] as? [[String: Any]] ?? [] {
            if let name = dig(source, "configMapRef", "name") as? String {
                guard let map = configMaps[name] else { problems.append("\(label): no ConfigMap \(name)"); continue }
                for (key, value) in dig(map, "data") as? [String: Any] ?? [:] { environment[key] = "\(value)" }
            }
            if let name = dig(source, "secretRef", "name") as? String, secrets[name] == nil {
                problems.append("\(label): no Secret \(name)")
            }
        }
        for variable in container["env"] as? [[String: Any]] ?? [] {
            if let name = variable["name"] as? String, let value = variable["value"] { environment[name] = "\(value)" }
        }
        return environment
    }

    static func resourceAndSecurityProblems(_ container: [String: Any], pod: [String: Any], label: String) -> [String] {
        var problems: [String] = []
        for kind in ["requests", "limits"] {
            for resource in ["cpu", "memory"] where dig(container, "resources", kind, resource) == nil {
                problems.append("\(label): resources.\(kind).\(resource) is not set")
            }
        }
        let security = container["securityContext"] as? [String: Any] ?? [:]
        if (security["runAsNonRoot"] ?? dig(pod, "securityContext", "runAsNonRoot")) as? Bool != true {
            problems.append("\(label): runAsNonRoot is not true")
        }
        if security["readOnlyRootFilesystem"] as? Bool != true { problems.append("\(label): readOnlyRootFilesystem is not true") }
        if security["allowPrivilegeEscalation"] as? Bool != false {
            problems.append("\(label): allowPrivilegeEscalation is not false")
        }
        if !((dig(security, "capabilities", "drop") as? [String]) ?? []).contains("ALL") {
            problems.append("\(label): capabilities do not drop ALL")
        }
        return problems
    }

    /// Whether the label selector at `path` in `document` selects `labels`.
    static func selects(_ document: [String: Any], dig path: [String], _ labels: [String: Any]) -> Bool {
        var node: Any? = document
        for key in path { node = (node as? [String: Any])?[key] }
        guard let selector = node as? [String: Any], !selector.isEmpty else { return false }
        return selector.allSatisfy { key, value in labels[key].map { "\($0)" } == "\(value)" }
    }

    static func containers(of document: [String: Any]) -> [[String: Any]] {
        dig(document, "spec", "template", "spec", "containers") as? [[String: Any]] ?? []
    }

    static func replacingContainer(_ container: [String: Any], in document: [String: Any]) -> [String: Any] {
        var document = document
        var spec = document["spec"] as? [String: Any] ?? [:]
        var template = spec["template"] as? [String: Any] ?? [:]
        var pod = template["spec"] as? [String: Any] ?? [:]
        pod["containers"] = [container]
        template["spec"] = pod
        spec["template"] = template
        document["spec"] = spec
        return document
    }

    static func name(of document: [String: Any]) -> String { dig(document, "metadata", "name") as? String ?? "" }

    static func dig(_ node: Any?, _ path: String...) -> Any? {
        var node = node
        for key in path { node = (node as? [String: Any])?[key] }
        return node
    }
}

// MARK: - Containerfile checks

extension DeploymentTests {
    /// The C libraries Package.swift links, as the Debian packages that build with them
    /// and the ones that run with them.
    static let libraries: [(development: String, runtime: String)] = [
        ("librabbitmq-dev", "librabbitmq4"), ("libsqlite3-dev", "libsqlite3-0"), ("libssl-dev", "libssl3"),
    ]

    static func containerfileProblems(_ text: String) -> [String] {
        var problems: [String] = []
        let lines = instructions(text)
        let froms = lines.filter { $0.hasPrefix("FROM ") }
        if froms.count != 2 { problems.append("FROM: \(froms.count) stages, wanted 2 (build, runtime)") }
        if froms.first?.hasPrefix("FROM swift:6.3-bookworm AS ") != true { problems.append("FROM: the build stage is not swift:6.3-bookworm") }
        if froms.last?.hasPrefix("FROM debian:bookworm-slim") != true { problems.append("FROM: the runtime stage is not debian:bookworm-slim") }
        let runtime = Array(lines.drop { !($0 == froms.last) })
        let users = runtime.filter { $0.hasPrefix("USER ") }
        if let user = users.last?.dropFirst(5).split(separator: ":").first, user != "root", user != "0" {
            // Non-root.
        } else {
            problems.append("USER: the runtime stage does not end as a non-root user")
        }
        if !runtime.contains(where: { $0.hasPrefix("ENTRYPOINT ") && $0.contains("switchboard") }) {
            problems.append("ENTRYPOINT: not switchboard")
        }
        if !runtime.contains(where: { $0.hasPrefix("COPY --from=build ") }) { problems.append("COPY: nothing from the build stage") }
        if !runtime.contains(where: { $0.hasPrefix("COPY Topology/topology.yaml ") }) { problems.append("COPY: no topology") }
        if !lines.contains(where: { $0.contains("swift build -c release --static-swift-stdlib") }) {
            problems.append("RUN: no static release build")
        }
        if !lines.contains(where: { $0.contains(".resources") }) { problems.append("RUN: the resource bundles are not copied") }
        let build = aptPackages(inStage: 0, of: text), run = aptPackages(inStage: 1, of: text)
        for library in libraries {
            if !build.contains(library.development) { problems.append("build stage: no \(library.development)") }
            if !run.contains(library.runtime) { problems.append("runtime stage: no \(library.runtime)") }
        }
        if !run.contains("ca-certificates") { problems.append("runtime stage: no ca-certificates") }
        // What Package.swift links is what the list above covers.
        if let package = try? String(contentsOf: repository.appendingPathComponent("Package.swift"), encoding: .utf8) {
            for provider in aptProviders(package) where !libraries.contains(where: { $0.development == provider }) {
                problems.append("Package.swift links \(provider), which the image does not cover")
            }
        }
        return problems
    }

    /// The Containerfile's instructions, continuation lines joined, comments dropped.
    static func instructions(_ text: String) -> [String] {
        var result: [String] = []
        var current = ""
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("#") || (line.isEmpty && current.isEmpty) { continue }
            if line.hasSuffix("\\") {
                current += line.dropLast() + " "
            } else {
                current += line
                if !current.isEmpty { result.append(current) }
                current = ""
            }
        }
        return result
    }

    /// The packages `apt-get install` names in the given stage (0: the first).
    static func aptPackages(inStage stage: Int, of text: String) -> Set<String> {
        var index = -1
        var packages: Set<String> = []
        for line in instructions(text) {
            if line.hasPrefix("FROM ") { index += 1; continue }
            guard index == stage, line.hasPrefix("RUN "), let install = line.range(of: "apt-get install") else { continue }
            let rest = line[install.upperBound...].components(separatedBy: "&&").first ?? ""
            packages.formUnion(rest.split(separator: " ").map(String.init).filter { !$0.hasPrefix("-") })
        }
        return packages
    }

    /// The apt packages Package.swift's system libraries name, plus the SQLite GRDB links.
    static func aptProviders(_ package: String) -> [String] {
        let pattern = try! NSRegularExpression(pattern: #"\.apt\(\[([^\]]*)\]\)"#)
        var names: [String] = []
        for match in pattern.matches(in: package, range: NSRange(package.startIndex..., in: package)) {
            guard let range = Range(match.range(at: 1), in: package) else { continue }
            names += package[range].split(separator: ",").map {
                $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
        }
        if package.contains("GRDB") { names.append("libsqlite3-dev") }
        return names
    }
}

// MARK: - Staging, processes, unit files

extension DeploymentTests {
    /// A staging folder with a stand-in binary and resource bundle in `build/`, and
    /// install.sh run into `root/`.
    static func withStaging(_ body: (URL, URL) throws -> Void) throws {
        let staging = FileManager.default.temporaryDirectory.appendingPathComponent("sbdeploy-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: staging) }
        let build = staging.appendingPathComponent("build")
        try FileManager.default.createDirectory(at: build.appendingPathComponent("switchboard_SwitchboardAPI.resources"),
                                                withIntermediateDirectories: true)
        try "openapi: 3.1.0\n".write(to: build.appendingPathComponent("switchboard_SwitchboardAPI.resources/openapi.yaml"),
                                     atomically: true, encoding: .utf8)
        let binary = build.appendingPathComponent("switchboard")
        try "#!/bin/sh\nexit 0\n".write(to: binary, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: binary.path)
        let root = staging.appendingPathComponent("root")
        try install(root: root, binary: binary)
        try body(staging, root)
    }

    @discardableResult
    static func install(root: URL, binary: URL, extra: [String] = []) throws -> String {
        let (status, output) = try run(deploy.appendingPathComponent("systemd/install.sh").path,
                                       ["--root", root.path, "--binary", binary.path] + extra)
        try #require(status == 0, "install.sh: \(output)")
        return output
    }

    /// What `systemd-analyze verify` says of units installed under `root`, one problem a
    /// line (nothing when they are fine). The staging root gets the system's own units
    /// (sysinit.target and the rest) so that dependencies resolve.
    static func verifyUnits(root: URL, _ units: [String]) throws -> [String] {
        let system = root.appendingPathComponent("usr/lib/systemd/system")
        if !FileManager.default.fileExists(atPath: system.path) {
            try FileManager.default.createDirectory(at: system.deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: "/usr/lib/systemd/system", toPath: system.path)
        }
        let (status, output) = try run("/usr/bin/systemd-analyze",
                                       ["--root=\(root.path)", "verify"] + units.map { "/etc/systemd/system/\($0)" })
        var problems = output.split(separator: "\n").map(String.init)
        if status != 0 { problems.append("exit status \(status)") }
        return problems
    }

    /// A unit file's settings in order (a key may repeat), sections ignored.
    static func unitSettings(_ file: URL) throws -> [(key: String, value: String)] {
        try String(contentsOf: file, encoding: .utf8).split(separator: "\n").compactMap { line in
            guard !line.hasPrefix("#"), !line.hasPrefix("["), let equals = line.firstIndex(of: "=") else { return nil }
            return (String(line[..<equals]), String(line[line.index(after: equals)...]))
        }
    }

    static func mode(_ file: URL) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: file.path)[.posixPermissions] as? Int ?? 0) & 0o777
    }

    static func run(_ executable: String, _ arguments: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}

// MARK: - The kustomize subset

/// The part of kustomize deploy/kubernetes uses, resolved in Swift: `resources` (files and
/// folders), `configMapGenerator` (files, literals; fixed names only), `patches` (by path,
/// merged as strategic merge patches: maps key by key, lists of named items by name),
/// `replicas`, `images`, `namespace`. Anything else in a kustomization is an error, so
/// that a file using more is not checked by halves.
enum Kustomization {
    struct Unsupported: Error, CustomStringConvertible { let description: String }

    static let understood: Set<String> = ["apiVersion", "kind", "resources", "configMapGenerator", "generatorOptions",
                                          "images", "namespace", "replicas", "patches"]

    static func build(_ folder: URL) throws -> [[String: Any]] {
        let file = folder.appendingPathComponent("kustomization.yaml")
        guard let kustomization = try documents(in: String(contentsOf: file, encoding: .utf8)).first else {
            throw Unsupported(description: "\(file.path) is empty")
        }
        let unknown = Set(kustomization.keys).subtracting(understood)
        guard unknown.isEmpty else { throw Unsupported(description: "\(file.path): \(unknown.sorted()) not resolved here") }
        var resolved: [[String: Any]] = []
        for entry in kustomization["resources"] as? [String] ?? [] {
            let url = folder.appendingPathComponent(entry).standardized
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) else {
                throw Unsupported(description: "\(file.path): no resource \(entry)")
            }
            resolved += isFolder.boolValue ? try build(url) : try documents(in: String(contentsOf: url, encoding: .utf8))
        }
        if let generators = kustomization["configMapGenerator"] as? [[String: Any]] {
            guard DeploymentTests.dig(kustomization, "generatorOptions", "disableNameSuffixHash") as? Bool == true else {
                throw Unsupported(description: "\(file.path): name suffix hashes are not emulated")
            }
            for generator in generators {
                guard let name = generator["name"] as? String else { throw Unsupported(description: "a generator with no name") }
                var data: [String: Any] = [:]
                for entry in generator["files"] as? [String] ?? [] {
                    let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
                    let path = parts.last!, key = parts.count == 2 ? parts[0] : URL(fileURLWithPath: path).lastPathComponent
                    data[key] = try String(contentsOf: folder.appendingPathComponent(path), encoding: .utf8)
                }
                for literal in generator["literals"] as? [String] ?? [] {
                    let parts = literal.split(separator: "=", maxSplits: 1).map(String.init)
                    data[parts[0]] = parts.count == 2 ? parts[1] : ""
                }
                if generator["behavior"] as? String == "merge",
                   let index = resolved.firstIndex(where: { $0["kind"] as? String == "ConfigMap" && DeploymentTests.name(of: $0) == name }) {
                    resolved[index] = merge(resolved[index], ["data": data]) as! [String: Any]
                } else {
                    resolved.append(["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": name], "data": data])
                }
            }
        }
        for patch in kustomization["patches"] as? [[String: Any]] ?? [] {
            guard let path = patch["path"] as? String, patch.count == 1 else {
                throw Unsupported(description: "\(file.path): only `path:` patches are resolved here")
            }
            for document in try documents(in: String(contentsOf: folder.appendingPathComponent(path), encoding: .utf8)) {
                guard let index = resolved.firstIndex(where: {
                    $0["kind"] as? String == document["kind"] as? String && DeploymentTests.name(of: $0) == DeploymentTests.name(of: document)
                }) else { throw Unsupported(description: "\(path) patches nothing") }
                resolved[index] = merge(resolved[index], document) as! [String: Any]
            }
        }
        for replicas in kustomization["replicas"] as? [[String: Any]] ?? [] {
            guard let index = resolved.firstIndex(where: { DeploymentTests.name(of: $0) == replicas["name"] as? String
                && $0["kind"] as? String == "Deployment" }) else {
                throw Unsupported(description: "replicas: no Deployment \(replicas["name"] ?? "")")
            }
            resolved[index] = merge(resolved[index], ["spec": ["replicas": replicas["count"] as? Int ?? 0]]) as! [String: Any]
        }
        for image in kustomization["images"] as? [[String: Any]] ?? [] {
            guard let name = image["name"] as? String else { continue }
            resolved = resolved.map { document in
                let containers = DeploymentTests.containers(of: document)
                guard !containers.isEmpty else { return document }
                let renamed = containers.map { container -> [String: Any] in
                    guard let current = container["image"] as? String else { return container }
                    let parts = current.split(separator: ":", maxSplits: 1).map(String.init)
                    guard parts[0] == name else { return container }
                    var container = container
                    let tag = (image["newTag"] as? String) ?? (parts.count == 2 ? parts[1] : nil)
                    container["image"] = ((image["newName"] as? String) ?? name) + (tag.map { ":" + $0 } ?? "")
                    return container
                }
                return merge(document, ["spec": ["template": ["spec": ["containers": renamed]]]]) as! [String: Any]
            }
        }
        if let namespace = kustomization["namespace"] as? String {
            resolved = resolved.map { merge($0, ["metadata": ["namespace": namespace]]) as! [String: Any] }
        }
        return resolved
    }

    /// The YAML documents in `text`, maps with string keys all the way down.
    static func documents(in text: String) throws -> [[String: Any]] {
        var sequence = try Yams.load_all(yaml: text)
        var documents: [[String: Any]] = []
        while let node = sequence.next() {
            if let document = plain(node) as? [String: Any] { documents.append(document) }
        }
        if let error = sequence.error { throw error }
        return documents
    }

    static func plain(_ node: Any) -> Any {
        if let map = node as? [AnyHashable: Any] {
            return Dictionary(map.map { ("\($0.key.base)", plain($0.value)) }, uniquingKeysWith: { a, _ in a })
        }
        if let list = node as? [Any] { return list.map(plain) }
        return node
    }

    /// A strategic merge patch, as far as these files need it: maps merged key by key,
    /// lists of maps with a `name` merged item by item, anything else replaced.
    static func merge(_ base: Any, _ patch: Any) -> Any {
        if let base = base as? [String: Any], let patch = patch as? [String: Any] {
            var merged = base
            for (key, value) in patch { merged[key] = merged[key].map { merge($0, value) } ?? value }
            return merged
        }
        if let base = base as? [[String: Any]], let patch = patch as? [[String: Any]],
           base.allSatisfy({ $0["name"] is String }), patch.allSatisfy({ $0["name"] is String }) {
            var merged = base
            for item in patch {
                if let index = merged.firstIndex(where: { $0["name"] as? String == item["name"] as? String }) {
                    merged[index] = merge(merged[index], item) as! [String: Any]
                } else {
                    merged.append(item)
                }
            }
            return merged
        }
        return patch
    }
}
