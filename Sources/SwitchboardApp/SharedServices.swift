import AsyncHTTPClient
import ServiceLifecycle
import SwitchboardBroker
import SwitchboardStore
import Synchronization

/// The process's HTTP client as a service of the group: shut down after every service
/// that calls out through it has stopped.
struct HTTPClientService: Service {
    let client: HTTPClient

    func run() async throws {
        // Returns at graceful shutdown; throws CancellationError when cancelled. Either
        // way the client is shut down.
        try? await gracefulShutdown()
        try await client.shutdown()
    }
}

/// Keeps the process's shared session directory fresh while the services run: each
/// session a control event names at once, every session at `interval`.
struct SessionDirectoryRefresher: Service {
    let directory: SessionDirectory
    let interval: Duration
    let control: ControlSubscription

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await control.follow { event in await directory.apply(event) } }
                group.addTask { await directory.refresh(every: interval) }
            }
        }
    }
}

/// The ports the process's listeners bound, for whoever asked before they listened.
final class ListeningPorts: Sendable {
    private enum Slot {
        case waiting([CheckedContinuation<Int, any Error>])
        case bound(Int)
    }

    private struct State {
        var slots: [Gateway.Listener: Slot] = [:]
        var closed = false
    }

    private let state = Mutex(State())

    func bound(_ listener: Gateway.Listener, port: Int) {
        let waiting = state.withLock { state -> [CheckedContinuation<Int, any Error>] in
            defer { state.slots[listener] = .bound(port) }
            if case .waiting(let waiting) = state.slots[listener] { return waiting }
            return []
        }
        for continuation in waiting { continuation.resume(returning: port) }
    }

    func port(of listener: Gateway.Listener) async throws(GatewayError) -> Int {
        do {
            return try await withCheckedThrowingContinuation { continuation in
                let immediate = state.withLock { state -> Result<Int, any Error>? in
                    switch state.slots[listener] {
                    case .bound(let port): return .success(port)
                    case .waiting(var waiting):
                        if state.closed { return .failure(GatewayError(description: "the process ended")) }
                        waiting.append(continuation)
                        state.slots[listener] = .waiting(waiting)
                        return nil
                    case nil:
                        if state.closed { return .failure(GatewayError(description: "the process ended")) }
                        state.slots[listener] = .waiting([continuation])
                        return nil
                    }
                }
                if let immediate { continuation.resume(with: immediate) }
            }
        } catch let error as GatewayError {
            throw error
        } catch {
            throw GatewayError(description: "\(error)")
        }
    }

    /// The process ended: whoever still waits for a port is told.
    func closeAll() {
        let waiting = state.withLock { state -> [CheckedContinuation<Int, any Error>] in
            state.closed = true
            var all: [CheckedContinuation<Int, any Error>] = []
            for (listener, slot) in state.slots {
                if case .waiting(let continuations) = slot {
                    all += continuations
                    state.slots[listener] = nil
                }
            }
            return all
        }
        for continuation in waiting {
            continuation.resume(throwing: GatewayError(description: "the process ended before it listened"))
        }
    }
}
