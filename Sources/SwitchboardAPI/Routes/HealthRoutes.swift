import Hummingbird
import SwitchboardAMQP
import SwitchboardHTTP
import SwitchboardStore

/// `/healthz` (the process answers) and `/readyz` (it can do its work: the broker
/// connection is up and the store answers), for orchestrators and load balancers.
struct HealthRoutes: Sendable {
    let publisher: AMQPConnection
    let store: any GatewayStore

    struct Health: Encodable, Sendable {
        var status: String
        var checks: [String: String]
    }

    func addRoutes(to router: Router<APIRequestContext>) {
        router.get("healthz") { _, _ in JSONResponse(value: Health(status: "ok", checks: [:])) }
        router.get("readyz", use: ready)
    }

    @Sendable func ready(_ request: Request, context: APIRequestContext) async throws -> JSONResponse<Health> {
        let broker = switch publisher.status {
        case .connected: "connected"
        case .reconnecting(let attempt): "reconnecting (attempt \(attempt))"
        case .closed: "closed"
        }
        let storeReachable = await store.isReachable()
        let checks = ["broker": broker, "store": storeReachable ? "reachable" : "unreachable"]
        guard broker == "connected", storeReachable else {
            var problem = Problem(.serviceUnavailable, kind: "not-ready", title: "Not ready",
                                  detail: checks.sorted(by: { $0.key < $1.key }).map { "\($0.key): \($0.value)" }
                                      .joined(separator: ", "))
            problem.extensions = checks
            throw problem
        }
        return JSONResponse(value: Health(status: "ready", checks: checks))
    }
}
