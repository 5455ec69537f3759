import Foundation
import Hummingbird
import SwitchboardCore
import SwitchboardHTTP
import SwitchboardStore

/// `GET /v1/health` (admin): the gateway as an operator checks it: every session's
/// state, when it last changed and last sent, and every service instance heard on
/// `sb.control` lately.
struct GatewayHealthRoutes: Sendable {
    let store: any ServiceInstanceStore
    /// Instances heard from within this long are listed (four heartbeats).
    static let instanceWindow: TimeInterval = 60

    func addRoutes(to group: RouterGroup<APIRequestContext>) {
        group.get("health", use: show)
    }

    @Sendable func show(_ request: Request, context: APIRequestContext) async throws -> JSONResponse<GatewayHealth> {
        try context.requireAdmin()
        let (sessions, instances) = try await storeCall { () async throws(StoreError) in
            (try await store.sessionHealth(),
             try await store.serviceInstances(seenSince: Date().addingTimeInterval(-Self.instanceWindow)))
        }
        return JSONResponse(value: GatewayHealth(
            sessions: sessions.map(GatewayHealth.SessionState.init),
            instances: instances.map { GatewayHealth.Instance($0.0, lastSeen: $0.lastSeen) }))
    }
}

struct GatewayHealth: Codable, Sendable {
    struct SessionState: Codable, Sendable {
        var tenant: String
        var session: String
        var provider: String
        var status: SessionStatus
        var statusChangedAt: Date?
        var downSince: Date?
        var lastSentAt: Date?
        var qualityRating: String?
        var messagingLimitTier: String?

        enum CodingKeys: String, CodingKey {
            case tenant, session, provider, status
            case statusChangedAt = "status_changed_at", downSince = "down_since", lastSentAt = "last_sent_at"
            case qualityRating = "quality_rating", messagingLimitTier = "messaging_limit_tier"
        }

        init(_ health: SessionHealth) {
            tenant = health.tenant.rawValue
            session = health.session.rawValue
            provider = health.provider.rawValue
            status = health.status
            statusChangedAt = health.statusChangedAt
            downSince = health.downSince
            lastSentAt = health.lastSentAt
            qualityRating = health.qualityRating
            messagingLimitTier = health.messagingLimitTier
        }
    }

    struct Instance: Codable, Sendable {
        var instance: String
        var services: [String]
        var version: String
        var host: String
        var pid: Int
        var startedAt: Date
        var lastSeen: Date

        enum CodingKeys: String, CodingKey {
            case instance, services, version, host, pid
            case startedAt = "started_at", lastSeen = "last_seen"
        }

        init(_ heartbeat: InstanceHeartbeat, lastSeen: Date) {
            instance = heartbeat.instance
            services = heartbeat.services
            version = heartbeat.version
            host = heartbeat.host
            pid = heartbeat.pid
            startedAt = heartbeat.startedAt
            self.lastSeen = lastSeen
        }
    }

    var sessions: [SessionState]
    var instances: [Instance]
}
