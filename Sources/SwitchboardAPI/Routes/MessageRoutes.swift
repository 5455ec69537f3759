import Foundation
import HTTPTypes
import Hummingbird
import SwitchboardCore
import SwitchboardHTTP
import SwitchboardStore

extension HTTPField.Name {
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    /// Set on an answer that repeats the first answer to the same request.
    static let idempotentReplayed = HTTPField.Name("Idempotent-Replayed")!
}

/// `/v1/messages`: publishers send one message or a batch, and read what is known of
/// a message. A tenant key sends as its tenant; an admin key names the tenant.
struct MessageRoutes: Sendable {
    let intake: MessageIntake

    func addRoutes(to group: RouterGroup<APIRequestContext>) {
        group.post("messages", use: send)
        group.post("messages/batch", use: sendBatch)
        group.get("messages/{id}", use: show)
    }

    @Sendable func send(_ request: Request, context: APIRequestContext) async throws -> JSONResponse<MessageReceipt> {
        var request = request
        let body = try await request.decodeJSON(SendMessageRequest.self, limit: APIServer.maximumBodySize)
        let tenant = try context.actingTenant(named: body.tenant)
        let accepted = try await intake.submit(body, tenant: tenant, idempotencyKey: request.headers[.idempotencyKey])
        var headers: HTTPFields = [.location: "/v1/messages/\(accepted.receipt.id)"]
        if accepted.replayed { headers[.idempotentReplayed] = "true" }
        return JSONResponse(status: .accepted, headers: headers, value: accepted.receipt)
    }

    /// Each item is checked and published on its own (a result per item, in order);
    /// items are published concurrently, so a batch costs about one confirm round trip.
    /// An `Idempotency-Key` on the batch becomes `<key>:<index>` per item.
    @Sendable func sendBatch(_ request: Request, context: APIRequestContext) async throws -> JSONResponse<BatchResult> {
        var request = request
        let batch = try await request.decodeJSON(SendBatchRequest.self, limit: APIServer.maximumBatchBodySize)
        guard (1...APIServer.maximumBatchSize).contains(batch.messages.count) else {
            throw Problem.validation(field: "messages", "must hold 1–\(APIServer.maximumBatchSize) messages")
        }
        let batchKey = request.headers[.idempotencyKey]
        let intake = intake
        var results = [BatchItemResult?](repeating: nil, count: batch.messages.count)
        await withTaskGroup(of: BatchItemResult.self) { group in
            var next = 0
            func submitNext() {
                let index = next
                next += 1
                let item = batch.messages[index]
                group.addTask {
                    do throws(Problem) {
                        let request = try item.request.get()
                        let tenant = try context.actingTenant(named: request.tenant)
                        let accepted = try await intake.submit(request, tenant: tenant,
                                                               idempotencyKey: batchKey.map { "\($0):\(index)" })
                        return BatchItemResult(index: index, status: 202, id: accepted.receipt.id,
                                               replayed: accepted.replayed ? true : nil)
                    } catch {
                        return BatchItemResult(index: index, status: error.status.code, problem: ProblemBody(error))
                    }
                }
            }
            for _ in 0..<min(APIServer.batchConcurrency, batch.messages.count) { submitNext() }
            for await result in group {
                results[result.index] = result
                if next < batch.messages.count { submitNext() }
            }
        }
        let all = results.compactMap { $0 }
        let accepted = all.filter { $0.status == 202 }.count
        return JSONResponse(value: BatchResult(accepted: accepted, rejected: all.count - accepted, results: all))
    }

    @Sendable func show(_ request: Request, context: APIRequestContext) async throws -> JSONResponse<MessageResource> {
        let tenant = try context.actingTenant(named: request.uri.queryParameters.get("tenant"))
        guard let id = context.parameters.get("id"), MessageID.isValid(id) else {
            throw Problem.notFound("message \(context.parameters.get("id") ?? "")")
        }
        let found = try await storeCall { () async throws(StoreError) in
            try await intake.messages.message(id, of: tenant)
        }
        guard let found else { throw Problem.notFound("message \(id)") }
        return JSONResponse(value: MessageResource(found))
    }
}
