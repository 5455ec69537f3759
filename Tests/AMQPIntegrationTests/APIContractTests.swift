import Foundation
import SwitchboardAPI
import Testing

/// The contract check itself: it must catch what breaks `openapi.yaml`, or the API tests
/// passing through it prove nothing.
@Suite("The API contract: openapi.yaml checks every request and answer of the API tests")
struct APIContractTests {
    let contract = APIContract.api

    /// A tenant as `GET /v1/tenants/{tenant}` answers it, with `change` applied.
    func tenant(_ change: (inout [String: Any]) -> Void = { _ in }) throws -> Data {
        var tenant: [String: Any] = [
            "id": "acme", "name": "Acme", "session_rate": 1, "bulk_share": 0.5, "backlog_quota": NSNull(),
            "created_at": "2025-01-01T00:00:00Z",
        ]
        change(&tenant)
        return try JSONSerialization.data(withJSONObject: tenant)
    }

    func exchange(_ method: String = "GET", _ target: String = "/v1/tenants/acme", status: Int = 200,
                  contentType: String? = "application/json; charset=utf-8", body: Data,
                  requestContentType: String? = nil, requestBody: Data? = nil) -> APIExchange {
        APIExchange(method: method, target: target, requestContentType: requestContentType, requestBody: requestBody,
                    status: status, responseContentType: contentType, responseBody: body)
    }

    @Test func anAnswerThatKeepsTheContractPasses() throws {
        #expect(contract.violations(of: exchange(body: try tenant())) == [])
        #expect(contract.violations(of: exchange(body: try tenant { $0["backlog_quota"] = 5 })) == [])
        // A documented problem, and an unknown route answered the API's way.
        let problem = Data(#"{"type":"urn:switchboard:problem:not-found","title":"Not found","status":404}"#.utf8)
        #expect(contract.violations(of: exchange(status: 404, contentType: "application/problem+json", body: problem)) == [])
        #expect(contract.violations(of: exchange("GET", "/nowhere", status: 404, contentType: "application/problem+json",
                                                 body: problem)) == [])
        // A 204 with nothing in it.
        #expect(contract.violations(of: exchange("DELETE", "/v1/keys/abc", status: 204, contentType: nil, body: Data())) == [])
    }

    @Test func aWrongTypeIsReported() throws {
        let found = contract.violations(of: exchange(body: try tenant { $0["session_rate"] = "fast" }))
        #expect(found.count == 1)
        #expect(found.first?.contains("$.session_rate: expected number") == true, "\(found)")
        // A type that admits null still refuses a string.
        #expect(contract.violations(of: exchange(body: try tenant { $0["backlog_quota"] = "none" })).count == 1)
    }

    @Test func aMissingRequiredFieldIsReported() throws {
        let found = contract.violations(of: exchange(body: try tenant { $0["created_at"] = nil }))
        #expect(found.count == 1)
        #expect(found.first?.contains("$.created_at: is required but missing") == true, "\(found)")
    }

    @Test func anUndocumentedStatusIsReported() throws {
        let problem = Data(#"{"type":"urn:switchboard:problem:x","title":"X","status":418}"#.utf8)
        let found = contract.violations(of: exchange(status: 418, contentType: "application/problem+json", body: problem))
        #expect(found.count == 1)
        #expect(found.first?.contains("GET /v1/tenants/{tenant} answered 418, which it does not document") == true,
                "\(found)")
    }

    @Test func anUndocumentedPathOrMethodIsReported() throws {
        let undocumentedPath = contract.violations(of: exchange("GET", "/v1/widgets/7", body: Data("{}".utf8)))
        #expect(undocumentedPath.count == 1)
        #expect(undocumentedPath.first?.contains("GET /v1/widgets/7 is not a documented operation") == true,
                "\(undocumentedPath)")
        let undocumentedMethod = contract.violations(of: exchange("PUT", body: try tenant()))
        #expect(undocumentedMethod.first?.contains("PUT /v1/tenants/acme is not a documented operation") == true,
                "\(undocumentedMethod)")
        // The API's 404 for an unknown route must still be a problem.
        #expect(contract.violations(of: exchange("GET", "/nowhere", status: 404, body: Data("{}".utf8))).count == 1)
    }

    @Test func aWrongContentTypeOrAnUnexpectedBodyIsReported() throws {
        let asText = contract.violations(of: exchange(contentType: "text/plain", body: try tenant()))
        #expect(asText.first?.contains("as 'text/plain', which it documents as application/json") == true, "\(asText)")
        let notJSON = contract.violations(of: exchange(body: Data("hello".utf8)))
        #expect(notJSON.first?.contains("it is not JSON") == true, "\(notJSON)")
        let bodyOn204 = contract.violations(of: exchange("DELETE", "/v1/keys/abc", status: 204, body: Data("{}".utf8)))
        #expect(bodyOn204.first?.contains("documents as empty") == true, "\(bodyOn204)")
    }

    @Test func anAcceptedRequestThatBreaksTheRequestSchemaIsReported() throws {
        func created(_ request: String, target: String = "/v1/tenants") -> [String] {
            contract.violations(of: exchange("POST", target, status: 201, body: try! tenant(),
                                             requestContentType: "application/json", requestBody: Data(request.utf8)))
        }
        #expect(created(#"{"id":"acme","name":"Acme"}"#) == [])
        #expect(created(#"{"id":"acme"}"#).first?.contains("$.name: is required but missing") == true)
        #expect(created(#"{"id":"Bad Id","name":"Acme"}"#).first?.contains("does not match") == true)
        #expect(created(#"{"id":"acme","name":"Acme"}"#, target: "/v1/tenants?dry_run=1").first?
            .contains("query parameter 'dry_run'") == true)
        // A refused request is the API doing its job: its body is not held to the schema.
        let refused = contract.violations(of: exchange(
            "POST", "/v1/tenants", status: 422, contentType: "application/problem+json",
            body: Data(#"{"type":"urn:switchboard:problem:validation","title":"Invalid","status":422}"#.utf8),
            requestContentType: "application/json", requestBody: Data(#"{"id":"Bad Id"}"#.utf8)))
        #expect(refused == [])
    }

    @Test func theSchemaKeywordsLikeOneOfAndBoundsAreChecked() throws {
        let schema = try JSONValue(json: Data(#"""
            {"oneOf": [{"type": "string", "minLength": 2, "maxLength": 3}, {"type": "integer", "minimum": 1, "maximum": 9}],
             "not": {"const": "no"}}
            """#.utf8))
        func errors(_ json: String) throws -> [String] {
            var found: [String] = []
            contract.validate(try JSONValue(json: Data(json.utf8)), against: schema, at: "$", errors: &found)
            return found
        }
        #expect(try errors(#""ab""#) == [])
        #expect(try errors("5") == [])
        #expect(try errors(#""a""#).count == 1)
        #expect(try errors("5.5").count == 1)
        #expect(try errors("10").count == 1)
        #expect(try errors(#""no""#).count == 1)
        #expect(try errors("true").count == 1)
    }

    @Test func theValidatorKnowsEveryKeywordTheDocumentUses() {
        #expect(contract.unknownKeywords() == [], "openapi.yaml uses keywords APIContract does not check")
    }

    @Test func everyReferenceResolves() {
        let text = OpenAPIDocument.bundled.yaml
        let references = text.matches(of: /\$ref: '?(#[^'\s]+)'?/).map { String($0.1) }
        #expect(references.count > 50)
        for reference in Set(references) {
            #expect(contract.resolve(reference) != nil, "\(reference) resolves to nothing")
        }
    }

    @Test func theAPITestsTrafficIsChecked() async throws {
        let before = APIContract.checked.load(ordering: .relaxed)
        try await TestAPI.with { api in
            let health = try await api.request(.GET, "/healthz")
            #expect(health.server == TestAPI.serverName)
            _ = try await api.request(.GET, "/openapi.yaml")
        }
        #expect(APIContract.checked.load(ordering: .relaxed) >= before + 2)
    }
}
