import Crypto
import Foundation
import Logging
import NIOHTTP1
import SwitchboardAMQP
import SwitchboardAPI
import SwitchboardApp
import SwitchboardBroker
import SwitchboardCore
import SwitchboardRegistry
import SwitchboardStore
import Testing

@Suite("The api service: isolation at the door, validation, idempotency, publishing with confirm")
struct APITests {
    @Test func aTenantKeyReachesNothingOfAnotherTenantAndNoAdminRoute() async throws {
        try await TestAPI.with { api in
            let acme = try await api.makeTenant("acme")
            let globex = try await api.makeTenant("globex")
            let sent = try await api.request(.POST, "/v1/messages", key: globex, json: #"{"to":"+14155550123","text":"hi"}"#)
            #expect(sent.status == 202)
            let globexMessage = try #require(sent.json["id"] as? String)
            let globexKeyID = try #require(
                (try await api.request(.GET, "/v1/tenants/globex/keys", key: globex).json["keys"] as? [[String: Any]])?
                    .first?["id"] as? String)

            // Another tenant's tenant, sessions, keys and messages do not exist for acme's key.
            for (method, path, body) in [
                (HTTPMethod.GET, "/v1/tenants/globex", nil),
                (.GET, "/v1/tenants/globex/sessions", nil),
                (.GET, "/v1/sessions/globex-main", nil),
                (.PATCH, "/v1/sessions/globex-main", #"{"status":"disconnected"}"#),
                (.GET, "/v1/tenants/globex/keys", nil),
                (.POST, "/v1/tenants/globex/keys", "{}"),
                (.DELETE, "/v1/keys/\(globexKeyID)", nil),
                (.GET, "/v1/messages/\(globexMessage)", nil),
                (.GET, "/v1/messages/\(globexMessage)?tenant=globex", nil),
                (.POST, "/v1/messages", #"{"to":"+14155550123","text":"hi","session":"globex-main"}"#),
                (.POST, "/v1/messages", #"{"to":"+14155550123","text":"hi","tenant":"globex"}"#),
            ] as [(HTTPMethod, String, String?)] {
                let answer = try await api.request(method, path, key: acme, json: body)
                #expect(answer.status == 404, "\(method) \(path) answered \(answer.status) \(answer.text)")
                #expect(answer.isProblem, "\(method) \(path): \(answer.contentType) \(answer.text)")
            }
            // Admin routes are forbidden, even about its own tenant.
            for (method, path, body) in [
                (HTTPMethod.POST, "/v1/tenants", #"{"id":"evil","name":"Evil"}"#),
                (.GET, "/v1/tenants", nil),
                (.PATCH, "/v1/tenants/acme", #"{"backlog_quota":null}"#),
                (.DELETE, "/v1/tenants/acme", nil),
                (.DELETE, "/v1/tenants/globex", nil),
                (.POST, "/v1/tenants/acme/sessions", #"{"id":"acme-2","provider":"simulator","phone_number":"+14155550101"}"#),
                (.DELETE, "/v1/sessions/acme-main", nil),
                (.POST, "/v1/keys", "{}"),
                (.GET, "/v1/keys", nil),
            ] as [(HTTPMethod, String, String?)] {
                let answer = try await api.request(method, path, key: acme, json: body)
                #expect(answer.status == 403, "\(method) \(path) answered \(answer.status) \(answer.text)")
                #expect(answer.isProblem)
            }
            // Its own things are reachable.
            #expect(try await api.request(.GET, "/v1/tenants/acme", key: acme).status == 200)
            #expect(try await api.request(.GET, "/v1/sessions/acme-main", key: acme).status == 200)
            #expect(try await api.request(.GET, "/v1/messages/\(globexMessage)", key: globex).status == 200)
            // Nothing reached globex's queue from acme; globex still has its one message.
            #expect(try await api.depth(of: "globex") == 1)
            #expect(try await api.depth(of: "acme") == 0)
            #expect(try await api.request(.GET, "/v1/tenants/globex", key: api.adminToken).status == 200)
        }
    }

    @Test func withoutAValidKeyEveryV1RouteIs401() async throws {
        try await TestAPI.with { api in
            let missing = try await api.request(.GET, "/v1/tenants")
            #expect(missing.status == 401)
            #expect(missing.isProblem)
            #expect(missing.headers.first(name: "WWW-Authenticate")?.hasPrefix("Bearer") == true)
            let forged = try await api.request(.GET, "/v1/tenants", key: "sb_aaaaaaaaaaaa_" + String(repeating: "b", count: 43))
            #expect(forged.status == 401)
            let revokedKey = try await api.store.createKey(scope: .admin, label: "short-lived")
            #expect(try await api.request(.GET, "/v1/tenants", key: revokedKey.token).status == 200)
            #expect(try await api.request(.DELETE, "/v1/keys/\(revokedKey.key.id)", key: api.adminToken).status == 204)
            #expect(try await api.request(.GET, "/v1/tenants", key: revokedKey.token).status == 401)
            // Open routes need no key; an unknown route is a problem too.
            #expect(try await api.request(.GET, "/healthz").status == 200)
            let unknown = try await api.request(.GET, "/nowhere")
            #expect(unknown.status == 404)
            #expect(unknown.isProblem)
        }
    }

    @Test func badInputIsA4xxProblemAndPublishesNothing() async throws {
        try await TestAPI.with { api in
            let key = try await api.makeTenant("acme")
            let past = WireJSON.format(Date().addingTimeInterval(-60))
            let cases: [(String, Data, String, Int, String?)] = [
                ("malformed JSON", Data(#"{"to":"+14155550123","text":"hi""#.utf8), "application/json", 400, nil),
                ("not an object", Data("[1,2]".utf8), "application/json", 400, nil),
                ("wrong type", Data(#"{"to":14155550123,"text":"hi"}"#.utf8), "application/json", 400, nil),
                ("wrong enum", Data(#"{"to":"+14155550123","text":"hi","class":"urgent"}"#.utf8), "application/json", 400, nil),
                ("missing to", Data(#"{"text":"hi"}"#.utf8), "application/json", 400, nil),
                ("not JSON", Data("to=+14155550123".utf8), "application/x-www-form-urlencoded", 415, nil),
                ("over 1 MiB", Data(#"{"to":"+14155550123","text":"\#(String(repeating: "x", count: 1 << 20))"}"#.utf8),
                 "application/json", 413, nil),
                ("unknown session", Data(#"{"to":"+14155550123","text":"hi","session":"nope"}"#.utf8), "application/json", 404, nil),
                ("invalid number", Data(#"{"to":"0041 79 555","text":"hi"}"#.utf8), "application/json", 422, "to"),
                ("expired", Data(#"{"to":"+14155550123","text":"hi","expires_at":"\#(past)"}"#.utf8), "application/json", 422,
                 "expires_at"),
                ("bad date", Data(#"{"to":"+14155550123","text":"hi","expires_at":"tomorrow"}"#.utf8), "application/json", 400, nil),
                ("text too long", Data(#"{"to":"+14155550123","text":"\#(String(repeating: "é", count: 4097))"}"#.utf8),
                 "application/json", 422, "text"),
                ("image without media", Data(#"{"to":"+14155550123","type":"image"}"#.utf8), "application/json", 422, "media"),
                ("bad id", Data(#"{"to":"+14155550123","text":"hi","id":"has space"}"#.utf8), "application/json", 422, "id"),
            ]
            for (name, body, contentType, status, field) in cases {
                let answer = try await api.request(.POST, "/v1/messages", key: key, body: body,
                                                   headers: [("Content-Type", contentType)])
                #expect(answer.status == status, "\(name): \(answer.status) \(answer.text.prefix(300))")
                #expect(answer.isProblem, "\(name): \(answer.contentType) \(answer.text.prefix(300))")
                if let field {
                    let fields = (answer.json["errors"] as? [[String: Any]])?.compactMap { $0["field"] as? String }
                    #expect(fields?.contains(field) == true, "\(name): \(answer.text)")
                }
            }
            let badKey = try await api.request(.POST, "/v1/messages", key: key, json: #"{"to":"+14155550123","text":"hi"}"#,
                                               headers: [("Idempotency-Key", "spaces are not allowed")])
            #expect(badKey.status == 422)
            #expect(try await api.depth(of: "acme") == 0)
            // The service is still fine.
            #expect(try await api.request(.POST, "/v1/messages", key: key, json: #"{"to":"+14155550123","text":"hi"}"#)
                .status == 202)
            #expect(try await api.depth(of: "acme") == 1)
        }
    }

    @Test func anAcceptedMessageIsInTheTenantQueueWithTheContractsProperties() async throws {
        try await TestAPI.with { api in
            let key = try await api.makeTenant("acme")
            let answer = try await api.request(.POST, "/v1/messages", key: key, json: """
                {"to":"+14155550123","text":"Your code is 123456","metadata":{"order":"A-17"}}
                """)
            #expect(answer.status == 202)
            let id = try #require(answer.json["id"] as? String)
            #expect(answer.json["session"] as? String == "acme-main")
            #expect(answer.json["state"] as? String == "queued")
            #expect(answer.headers.first(name: "Location") == "/v1/messages/\(id)")

            let delivery = try #require(try await api.scratch.connection.get(queue: "sb.outbound.acme", autoAck: true))
            #expect(delivery.properties.messageID == id)
            #expect(delivery.properties.contentType == "application/json")
            #expect(delivery.properties.deliveryMode == .persistent)
            #expect(delivery.properties.priority == 9)
            #expect(delivery.properties.timestamp != nil)
            #expect(delivery.properties.headers?["sb-tenant"] == .string("acme"))
            #expect(delivery.properties.headers?["sb-attempt"] == .int32(1))
            let envelope = try WireJSON.decoder().decode(OutboundEnvelope.self, from: delivery.body)
            #expect(envelope.id == id)
            #expect(envelope.tenant.rawValue == "acme")
            #expect(envelope.session?.rawValue == "acme-main")
            #expect(envelope.messageClass == .transactional)
            #expect(envelope.metadata == ["order": "A-17"])

            let status = try await api.request(.GET, "/v1/messages/\(id)", key: key)
            #expect(status.status == 200)
            #expect(status.json["state"] as? String == "queued")
            #expect((status.json["history"] as? [[String: Any]])?.first?["state"] as? String == "queued")
            // An admin reads it by naming the tenant.
            #expect(try await api.request(.GET, "/v1/messages/\(id)?tenant=acme", key: api.adminToken).status == 200)
            #expect(try await api.request(.GET, "/v1/messages/\(id)", key: api.adminToken).status == 422)
            #expect(try await api.request(.GET, "/v1/messages/01JUNKNOWN", key: key).status == 404)
        }
    }

    @Test func idempotencyHoldsAcrossARestartOfTheService() async throws {
        try await TestAPI.with { api in
            let key = try await api.makeTenant("acme")
            let body = #"{"to":"+14155550123","text":"order 17 shipped","class":"bulk"}"#
            let first = try await api.request(.POST, "/v1/messages", key: key, json: body,
                                              headers: [("Idempotency-Key", "order-17-shipped")])
            #expect(first.status == 202)
            let id = try #require(first.json["id"] as? String)

            try await api.restart()

            // Same key, same request (re-serialized): the first answer, nothing published.
            let again = try await api.request(.POST, "/v1/messages", key: key,
                                              json: #"{ "class": "bulk", "text": "order 17 shipped", "to": "+14155550123" }"#,
                                              headers: [("Idempotency-Key", "order-17-shipped")])
            #expect(again.status == 202)
            #expect(again.json["id"] as? String == id)
            #expect(again.json["accepted_at"] as? String == first.json["accepted_at"] as? String)
            #expect(again.headers.first(name: "Idempotent-Replayed") == "true")
            // Same key, another request: 409.
            let other = try await api.request(.POST, "/v1/messages", key: key,
                                              json: #"{"to":"+14155550123","text":"order 18 shipped","class":"bulk"}"#,
                                              headers: [("Idempotency-Key", "order-17-shipped")])
            #expect(other.status == 409)
            #expect(other.isProblem)
            // The envelope's own id is a key too.
            let byID = #"{"id":"invoice-99","to":"+14155550123","text":"invoice 99"}"#
            #expect(try await api.request(.POST, "/v1/messages", key: key, json: byID).status == 202)
            try await api.restart()
            let byIDAgain = try await api.request(.POST, "/v1/messages", key: key, json: byID)
            #expect(byIDAgain.status == 202)
            #expect(byIDAgain.json["id"] as? String == "invoice-99")
            // Another tenant may use the same key for its own message.
            let globex = try await api.makeTenant("globex")
            #expect(try await api.request(.POST, "/v1/messages", key: globex, json: byID).status == 202)

            #expect(try await api.depth(of: "acme") == 2)
            #expect(try await api.depth(of: "globex") == 1)
        }
    }

    @Test func concurrentRetriesOfOneRequestPublishItOnce() async throws {
        try await TestAPI.with { api in
            let key = try await api.makeTenant("acme")
            let statuses = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        let answer = try await api.request(
                            .POST, "/v1/messages", key: key, json: #"{"to":"+14155550123","text":"once"}"#,
                            headers: [("Idempotency-Key", "only-once")])
                        return (answer.status, answer.json["id"] as? String)
                    }
                }
                var all: [(Int, String?)] = []
                for try await answer in group { all.append(answer) }
                return all
            }
            // Each is either the first answer or "in progress"; one id throughout.
            #expect(statuses.allSatisfy { $0.0 == 202 || $0.0 == 409 }, "\(statuses)")
            #expect(Set(statuses.compactMap(\.1)).count == 1)
            #expect(try await api.depth(of: "acme") == 1)
        }
    }

    @Test func aFullBacklogIs429AndFreesTheKey() async throws {
        try await TestAPI.with { api in
            let key = try await api.makeTenant("acme", backlogQuota: 2)
            for index in 0..<2 {
                #expect(try await api.request(.POST, "/v1/messages", key: key, json: #"{"to":"+14155550123","text":"\#(index)"}"#)
                    .status == 202)
            }
            let refused = try await api.request(.POST, "/v1/messages", key: key, json: #"{"to":"+14155550123","text":"3"}"#,
                                                headers: [("Idempotency-Key", "third")])
            #expect(refused.status == 429)
            #expect(refused.isProblem)
            #expect(refused.headers.first(name: "Retry-After") != nil)
            // Once the backlog drains, the same request goes through.
            _ = try await api.scratch.connection.purgeQueue("sb.outbound.acme")
            let retried = try await api.request(.POST, "/v1/messages", key: key, json: #"{"to":"+14155550123","text":"3"}"#,
                                                headers: [("Idempotency-Key", "third")])
            #expect(retried.status == 202)
            #expect(retried.headers.first(name: "Idempotent-Replayed") == nil)
        }
    }

    @Test func aBatchAnswersPerItemAndPublishesOnlyTheGoodOnes() async throws {
        try await TestAPI.with { api in
            let key = try await api.makeTenant("acme")
            let answer = try await api.request(.POST, "/v1/messages/batch", key: key, json: """
                {"messages":[
                  {"to":"+14155550123","text":"one"},
                  {"to":"not a number","text":"two"},
                  {"to":4155550123,"text":"three"},
                  {"to":"+14155550123","text":"four","session":"elsewhere"},
                  {"to":"+14155550124","text":"five","class":"bulk"}
                ]}
                """)
            #expect(answer.status == 200)
            let results = try #require(answer.json["results"] as? [[String: Any]])
            #expect(results.map { $0["status"] as? Int } == [202, 422, 400, 404, 202])
            #expect(results.map { $0["index"] as? Int } == [0, 1, 2, 3, 4])
            #expect(answer.json["accepted"] as? Int == 2)
            #expect(try await api.depth(of: "acme") == 2)

            let many = (0...APIServer.maximumBatchSize).map { _ in #"{"to":"+14155550123","text":"x"}"# }
            let tooMany = try await api.request(.POST, "/v1/messages/batch", key: key,
                                                json: #"{"messages":[\#(many.joined(separator: ","))]}"#)
            #expect(tooMany.status == 422)
            #expect(try await api.depth(of: "acme") == 2)

            // A full batch of 1,000 goes through, a result each.
            let thousand = (0..<1000).map { #"{"to":"+14155550123","text":"bulk \#($0)","class":"bulk"}"# }
            let full = try await api.request(.POST, "/v1/messages/batch", key: key,
                                             json: #"{"messages":[\#(thousand.joined(separator: ","))]}"#)
            #expect(full.json["accepted"] as? Int == 1000)
            #expect(try await api.depth(of: "acme") == 1002)
        }
    }

    @Test func adminsManageTenantsSessionsAndKeysAndTheBrokerFollows() async throws {
        try await TestAPI.with { api in
            let admin = api.adminToken
            let created = try await api.request(.POST, "/v1/tenants", key: admin,
                                                json: #"{"id":"acme","name":"Acme","session_rate":20,"bulk_share":0.25}"#)
            #expect(created.status == 201)
            #expect(created.json["backlog_quota"] is NSNull)
            #expect(try await api.depth(of: "acme") == 0)  // provisioned
            #expect(try await api.request(.POST, "/v1/tenants", key: admin, json: #"{"id":"acme","name":"Again"}"#).status == 409)
            #expect(try await api.request(.POST, "/v1/tenants", key: admin, json: #"{"id":"Bad Id","name":"x"}"#).status == 422)
            #expect(try await api.request(.POST, "/v1/tenants", key: admin,
                                          json: #"{"id":"fast","name":"x","session_rate":0}"#).status == 422)

            let patched = try await api.request(.PATCH, "/v1/tenants/acme", key: admin, json: #"{"backlog_quota":5,"name":"Acme Inc"}"#)
            #expect(patched.status == 200)
            #expect(patched.json["backlog_quota"] as? Int == 5)
            #expect(patched.json["session_rate"] as? Double == 20)
            let cleared = try await api.request(.PATCH, "/v1/tenants/acme", key: admin, json: #"{"backlog_quota":null}"#)
            #expect(cleared.json["backlog_quota"] is NSNull)
            #expect(cleared.json["name"] as? String == "Acme Inc")

            let session = try await api.request(.POST, "/v1/tenants/acme/sessions", key: admin, json: """
                {"id":"acme-main","provider":"wasender","phone_number":"+14155550100","credentials":{"api_key":"wsk-live-0123456789"}}
                """)
            #expect(session.status == 201)
            #expect(session.json["primary"] as? Bool == true)
            #expect((session.json["webhook_secret"] as? String)?.count ?? 0 >= 32)
            #expect(!session.text.contains("wsk-live"))
            let second = try await api.request(.POST, "/v1/tenants/acme/sessions", key: admin, json: """
                {"id":"acme-two","provider":"meta","phone_number":"+14155550101","webhook_secret":"a-secret-of-our-own"}
                """)
            #expect(second.json["primary"] as? Bool == false)
            #expect(second.json["webhook_secret"] == nil)
            #expect(try await api.request(.POST, "/v1/tenants/acme/sessions", key: admin, json: """
                {"id":"acme-two","provider":"meta","phone_number":"+14155550101"}
                """).status == 409)
            let unknown = try await api.request(.POST, "/v1/tenants/acme/sessions", key: admin, json: """
                {"id":"acme-fax","provider":"fax","phone_number":"+14155550102"}
                """)
            #expect(unknown.status == 422, "\(unknown.text)")
            #expect(unknown.isProblem && unknown.text.contains("provider"))
            #expect(try await api.request(.POST, "/v1/tenants/nobody/sessions", key: admin, json: """
                {"id":"nobody-1","provider":"meta","phone_number":"+14155550101"}
                """).status == 404)
            let promoted = try await api.request(.PATCH, "/v1/sessions/acme-two", key: admin,
                                                 json: #"{"primary":true,"credentials":{"access_token":"EAAG-rotated"}}"#)
            #expect(promoted.json["primary"] as? Bool == true)
            #expect(try await api.store.secrets(of: try SessionID("acme-two")).credentials == ["access_token": "EAAG-rotated"])
            let sessions = try await api.request(.GET, "/v1/tenants/acme/sessions", key: admin)
            #expect((sessions.json["sessions"] as? [[String: Any]])?.compactMap { $0["primary"] as? Bool } == [false, true])

            let tenantKey = try await api.request(.POST, "/v1/tenants/acme/keys", key: admin, json: #"{"label":"crm"}"#)
            #expect(tenantKey.status == 201)
            let token = try #require(tenantKey.json["token"] as? String)
            #expect(try await api.request(.GET, "/v1/tenants/acme", key: token).status == 200)
            let listed = try await api.request(.GET, "/v1/keys", key: admin)
            #expect(!listed.text.contains(token))

            // A tenant with queued messages is not deleted unless forced; then its queue goes.
            #expect(try await api.request(.POST, "/v1/messages", key: token, json: #"{"to":"+14155550123","text":"x"}"#)
                .status == 202)
            let refused = try await api.request(.DELETE, "/v1/tenants/acme", key: admin)
            #expect(refused.status == 409)
            #expect(refused.isProblem)
            // A flag that is not true or false is refused, not read as false.
            let mistyped = try await api.request(.DELETE, "/v1/tenants/acme?force=yes", key: admin)
            #expect(mistyped.status == 422 && mistyped.text.contains("force"), "\(mistyped.text)")
            #expect(try await api.request(.DELETE, "/v1/tenants/acme?force=true&force=false", key: admin).status == 422)
            #expect(try await api.request(.DELETE, "/v1/tenants/acme?force=true", key: admin).status == 204)
            await #expect(throws: AMQPError.self) { _ = try await api.depth(of: "acme") }
            #expect(try await api.request(.GET, "/v1/tenants/acme", key: admin).status == 404)
            #expect(try await api.request(.GET, "/v1/tenants/acme", key: token).status == 401)
        }
    }

    @Test func credentialsAreNotReadableInTheSQLiteFiles() async throws {
        try await TestAPI.with { api in
            let admin = api.adminToken
            #expect(try await api.request(.POST, "/v1/tenants", key: admin, json: #"{"id":"acme","name":"Acme"}"#).status == 201)
            let token = "EAAGm0PX4ZCpsBAKZBsecret\(UUID().uuidString.prefix(8))"
            let created = try await api.request(.POST, "/v1/tenants/acme/sessions", key: admin, json: """
                {"id":"acme-meta","provider":"meta","phone_number":"+14155550100",
                 "credentials":{"access_token":"\(token)","app_secret":"app-secret-\(token)"},
                 "webhook_secret":"hook-\(token)"}
                """)
            #expect(created.status == 201)
            #expect(!created.text.contains(token))
            #expect(!(try await api.request(.GET, "/v1/sessions/acme-meta", key: admin)).text.contains(token))
            // The provider code can still read them.
            #expect(try await api.store.secrets(of: try SessionID("acme-meta")).credentials["access_token"] == token)
            await api.stop()
            for suffix in ["", "-wal"] {
                let path = api.databasePath + suffix
                guard FileManager.default.fileExists(atPath: path) else { continue }
                let output = try await runProgram("/usr/bin/strings", ["-n", "6", path])
                #expect(!output.contains(token), "\(path) shows the token")
                #expect(!output.contains(String(token.prefix(12))), "\(path) shows part of the token")
            }
            try await api.restart()
        }
    }

    @Test func theOpenAPIDocumentDescribesExactlyTheRoutes() async throws {
        try await TestAPI.with { api in
            // openapi.yaml is served as committed, and as the same document in JSON.
            let yaml = try await api.request(.GET, "/openapi.yaml")
            #expect(yaml.status == 200)
            #expect(yaml.contentType == "application/yaml")
            #expect(yaml.text == OpenAPIDocument.bundled.yaml)
            let document = try APIContract(yaml: yaml.text).document
            let json = try await api.request(.GET, "/openapi.json")
            #expect(json.status == 200)
            #expect(json.contentType == "application/json")
            #expect(try JSONValue(json: json.body) == document, "/openapi.json is not /openapi.yaml")

            #expect(document["openapi"]?.string == "3.1.0")
            let paths = try #require(document["paths"]?.object)
            let methods: Set<String> = ["get", "put", "post", "delete", "patch", "head", "options"]
            let documented = Set(paths.flatMap { path, item in
                (item.object ?? [:]).keys.filter(methods.contains).map { "\($0.uppercased()) \(path)" }
            })
            let router = APIServer.router(
                APIServer.Configuration(),
                APIServer.Dependencies(store: api.store, registry: .init(store: api.store, broker: api.scratch.applier),
                                       publisher: api.scratch.connection),
                logger: TestBroker.logger)
            let routed = Set(router.routes.map { "\($0.method) \($0.path)" })
            #expect(documented == routed, "only documented: \(documented.subtracting(routed)); only routed: \(routed.subtracting(documented))")
            // Every $ref resolves (APIContractTests checks each one).
            let schemas = try #require(document["components"]?["schemas"]?.object)
            #expect(!schemas.isEmpty)
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func theBrokerDownIs503AndReadinessFollowsIt() async throws {
        try await withDisposableNode(name: "sbtest-api", port: 5712) { node in
            let management = RabbitMQManagement(configuration: try .init(url: "http://guest:guest@127.0.0.1:16712"))
            let connection = try await AMQPConnection.connect(
                try TestBroker.configuration("test-api-down", url: node.url), logger: TestBroker.logger)
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sbapi-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            // The api as `serve api` builds it; it applies the topology to the fresh node itself.
            let server = try await TestGateway.Running(GatewayConfiguration(
                services: [.api], amqp: try TestBroker.configuration("test-api-down", url: node.url),
                topology: try TestTopology.load(), management: management,
                database: try TestStore.database(in: directory),
                connectTimeout: .seconds(10), api: .init(port: 0)))
            let port = try await server.gateway.port(of: .api)
            let store = server.gateway.store
            let applier = TopologyApplier(topology: try TestTopology.load(), connection: connection,
                                          management: management, logger: TestBroker.logger)
            let registry = TenantRegistry(store: store, broker: applier, logger: TestBroker.logger)
            let acme = try TenantID("acme")
            _ = try await registry.create(Tenant(id: acme, name: "Acme"))
            _ = try await connection.purgeQueue("sb.outbound.acme")  // the node's data outlives a run
            try await store.addSession(
                Session(id: try SessionID("acme-main"), tenant: acme, provider: .simulator,
                        phoneNumber: try PhoneNumber("+14155550100")),
                secrets: SessionSecrets(credentials: [:], webhookSecret: "0123456789abcdef"))
            let key = try await store.createKey(scope: .tenant(acme), label: nil).token
            func send(_ text: String) async throws -> TestResponse {
                try await TestAPI.request(port: port, .POST, "/v1/messages", key: key,
                                          json: #"{"to":"+14155550123","text":"\#(text)"}"#)
            }
            do {
                #expect(try await send("before").status == 202)
                try await node.stop()
                let down = try await send("while down")
                #expect(down.status == 503)
                #expect(down.isProblem)
                #expect(down.headers.first(name: "Retry-After") != nil)
                let unready = try await TestAPI.request(port: port, .GET, "/readyz")
                #expect(unready.status == 503)
                #expect(unready.json["broker"] as? String != "connected")
                #expect(try await TestAPI.request(port: port, .GET, "/healthz").status == 200)

                try await node.script("start")
                #expect(try await eventually(timeout: .seconds(60)) {
                    try await TestAPI.request(port: port, .GET, "/readyz").status == 200
                })
                #expect(try await send("after").status == 202)
                // "before" survived the restart (persistent, confirmed), "after" joined it.
                try await connection.waitUntilConnected(timeout: .seconds(30))
                let depth = try await connection.inspectQueue("sb.outbound.acme").messageCount
                #expect(depth == 2, "sb.outbound.acme holds \(depth)")
                await server.stop()
                await connection.close()
            } catch {
                await server.stop()
                await connection.close()
                throw error
            }
        }
    }
}
