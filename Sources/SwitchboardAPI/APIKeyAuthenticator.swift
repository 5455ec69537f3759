import Hummingbird
import Logging
import SwitchboardHTTP
import SwitchboardStore

/// Resolves `Authorization: Bearer sb_…` to the API key it belongs to and puts it in the
/// request context; 401 without a valid key. Answers are remembered briefly: a key
/// revoked through this instance stops working at once, through another instance
/// within the cache's time to live.
struct APIKeyAuthenticator: RouterMiddleware {
    typealias Context = APIRequestContext

    let keys: any APIKeyStore
    let cache: ExpiringCache<String, APIKey>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        guard let header = request.headers[.authorization] else {
            throw Problem.unauthenticated("send the key as 'Authorization: Bearer sb_…'")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw Problem.unauthenticated("the Authorization header must be 'Bearer <key>'")
        }
        let token = String(parts[1])
        let key: APIKey?
        do {
            key = try await cache.value(for: token) { () async throws(StoreError) in try await keys.authenticate(token) }
        } catch {
            throw Problem.storeUnavailable("the key could not be checked: \(error)")
        }
        guard let key else { throw Problem.unauthenticated("the key is unknown or revoked") }
        var context = context
        context.caller = key
        // Log lines name the tenant themselves; copying the logger's metadata on every
        // request would cost more than it tells.
        return try await next(request, context)
    }
}
