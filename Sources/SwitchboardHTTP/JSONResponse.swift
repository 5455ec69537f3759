import Foundation
public import HTTPTypes
public import Hummingbird
import NIOCore
import SwitchboardCore

/// A JSON response with a status, for routes whose answer is not a plain 200.
public struct JSONResponse<Value: Encodable & Sendable>: ResponseGenerator {
    public var status: HTTPResponse.Status = .ok
    public var headers: HTTPFields = [:]
    public let value: Value

    public init(status: HTTPResponse.Status = .ok, headers: HTTPFields = [:], value: Value) {
        self.status = status
        self.headers = headers
        self.value = value
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = try WireJSON.sharedEncoder.encode(value)
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(data: data)))
    }
}
