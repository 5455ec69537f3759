import Foundation
public import Logging
public import ServiceLifecycle
public import SwitchboardAMQP
public import SwitchboardCore

/// Says on `sb.control` every `interval` that this process is alive and which services
/// it runs (`InstanceHeartbeat`), until graceful shutdown. A heartbeat the broker does
/// not confirm is only logged: the next one follows.
public struct HeartbeatPublisher: Service {
    let publisher: AMQPConnection
    let exchange: String
    let heartbeat: InstanceHeartbeat
    let interval: Duration
    let logger: Logger

    public init(publisher: AMQPConnection, exchange: String, services: [String], interval: Duration = .seconds(15),
                logger: Logger) {
        self.publisher = publisher
        self.exchange = exchange
        self.interval = interval
        self.logger = logger
        // Read once: resolving the host name may block.
        let host = ProcessInfo.processInfo.hostName
        let pid = Int(ProcessInfo.processInfo.processIdentifier)
        heartbeat = InstanceHeartbeat(
            instance: "\(host)-\(pid)-\(UUID().uuidString.prefix(6).lowercased())", services: services.sorted(),
            version: SwitchboardVersion.current, host: host, pid: pid, startedAt: Date())
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            repeat {
                do {
                    var properties = AMQPMessageProperties(contentType: "application/json")
                    properties.type = InstanceHeartbeat.messageType
                    try await publisher.publish(try WireJSON.sharedEncoder.encode(heartbeat), exchange: exchange,
                                                routingKey: "", properties: properties)
                } catch {
                    logger.debug("heartbeat not published", metadata: [LogKey.error: "\(error)"])
                }
            } while (try? await Task.sleep(for: interval)) != nil
        }
    }
}
