import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

extension HTTPClient {
    /// One JSON call as the benchmarks make them (a Bearer key, a JSON body): the status
    /// and the body, read through so the connection is reused.
    func benchCall(_ method: HTTPMethod, _ url: String, json: Data? = nil, bearer: String? = nil,
                   timeout: TimeAmount = .seconds(30)) async throws -> (status: Int, body: Data) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let bearer { request.headers.add(name: "Authorization", value: "Bearer \(bearer)") }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: json))
        }
        let response = try await execute(request, timeout: timeout)
        let body = try await response.body.collect(upTo: 16 << 20)
        return (Int(response.status.code), Data(buffer: body))
    }
}
