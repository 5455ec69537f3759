import CAMQPShim
import Glibc
import Synchronization
import struct Foundation.Data

/// A continuation that is always resumed with a result, never by throwing: the
/// connection thread resumes it, the awaiting task rethrows the typed error.
typealias Promise<Value: Sendable> = CheckedContinuation<Result<Value, AMQPError>, Never>

/// A message handed to the connection thread for publishing.
struct OutboundPublish: Sendable {
    let exchange: String
    let routingKey: String
    let body: Data
    let properties: AMQPMessageProperties
    let mandatory: Bool
}

/// Identifies a delivery on one incarnation of one channel: delivery tags mean
/// nothing once that channel (or its connection) has gone.
struct DeliveryHandle: Sendable, Hashable {
    let channel: UInt16
    let incarnation: UInt64
    let deliveryTag: UInt64
}

/// How a consumer settles a delivery.
enum Settlement: Sendable {
    case ack(multiple: Bool)
    case nack(multiple: Bool, requeue: Bool)
    case reject(requeue: Bool)
}

/// A consumer as its owner asked for it; the thread keeps it across reconnects.
struct ConsumerSubscription: Sendable {
    let id: UInt64
    let queue: String
    let consumerTag: String
    let options: AMQPConsumeOptions
    let continuation: AsyncStream<Result<AMQPDelivery, AMQPError>>.Continuation
}

/// Work for the connection thread. Each carries the promise its caller awaits.
enum Command: Sendable {
    case publish(OutboundPublish, Promise<Void>)
    case declareExchange(AMQPExchangeDeclaration, Promise<Void>)
    case deleteExchange(name: String, ifUnused: Bool, Promise<Void>)
    case declareQueue(AMQPQueueDeclaration, passive: Bool, Promise<AMQPQueueState>)
    case deleteQueue(name: String, ifUnused: Bool, ifEmpty: Bool, Promise<UInt32>)
    case purgeQueue(name: String, Promise<UInt32>)
    case bind(AMQPBinding, Promise<Void>)
    case unbind(AMQPBinding, Promise<Void>)
    case get(queue: String, autoAck: Bool, Promise<AMQPDelivery?>)
    case consume(ConsumerSubscription, Promise<Void>)
    case cancel(consumerID: UInt64, Promise<Void>?)
    case settle(DeliveryHandle, Settlement, Promise<Void>)
    /// Closes the connection; nil when nobody waits (the owner dropped it).
    case close(Promise<Void>?)

    /// The command's name, for logs.
    var name: String {
        switch self {
        case .publish: "publish"
        case .declareExchange: "exchange.declare"
        case .deleteExchange: "exchange.delete"
        case .declareQueue: "queue.declare"
        case .deleteQueue: "queue.delete"
        case .purgeQueue: "queue.purge"
        case .bind: "bind"
        case .unbind: "unbind"
        case .get: "basic.get"
        case .consume: "basic.consume"
        case .cancel: "basic.cancel"
        case .settle(_, let settlement, _): "\(settlement)"
        case .close: "close"
        }
    }

    /// Writes frames and waits for no reply (confirms are read later): only such
    /// commands may be written corked. Anything else is an RPC that waits for the
    /// broker's answer, which corked frames would hold back for up to 200 ms.
    var isFireAndForget: Bool {
        switch self {
        case .publish, .settle: true
        default: false
        }
    }

    /// Resumes the caller with `error` without doing the work.
    func fail(_ error: AMQPError) {
        switch self {
        case .publish(_, let p), .declareExchange(_, let p), .deleteExchange(_, _, let p), .bind(_, let p),
             .unbind(_, let p), .consume(_, let p), .settle(_, _, let p):
            p.resume(returning: .failure(error))
        case .declareQueue(_, _, let p): p.resume(returning: .failure(error))
        case .deleteQueue(_, _, _, let p), .purgeQueue(_, let p): p.resume(returning: .failure(error))
        case .get(_, _, let p): p.resume(returning: .failure(error))
        case .cancel(_, let p): p?.resume(returning: .success(()))
        case .close(let p): p?.resume(returning: .success(()))
        }
        if case .consume(let subscription, _) = self {
            subscription.continuation.finish()
        }
    }
}

/// The queue of commands from any task to the one connection thread, with an eventfd
/// that wakes the thread out of its poll. Only the first command of a batch writes to
/// the eventfd; the thread takes the whole batch at once.
final class Mailbox: Sendable {
    private struct State {
        var commands: [Command] = []
        var isClosed = false
    }

    private let state = Mutex(State())
    let wakeDescriptor: Int32

    init() throws(AMQPError) {
        let fd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard fd >= 0 else {
            throw AMQPError(.protocolError, "eventfd failed: errno \(errno)")
        }
        wakeDescriptor = fd
    }

    deinit {
        Glibc.close(wakeDescriptor)
    }

    /// Queues a command; once the mailbox is closed the command fails at once.
    func submit(_ command: Command) {
        let wasEmpty: Bool? = state.withLock { state in
            if state.isClosed { return nil }
            state.commands.append(command)
            return state.commands.count == 1
        }
        switch wasEmpty {
        case nil: command.fail(AMQPError(.closed, "the connection is closed"))
        case true?: wake()
        case false?: break
        }
    }

    func wake() {
        var one: UInt64 = 1
        _ = Glibc.write(wakeDescriptor, &one, MemoryLayout<UInt64>.size)
    }

    func takeAll() -> [Command] {
        state.withLock { state in
            guard !state.commands.isEmpty else { return [] }
            defer { state.commands.removeAll(keepingCapacity: true) }
            return state.commands
        }
    }

    /// Refuses further commands and returns those still queued.
    func close() -> [Command] {
        state.withLock { state in
            state.isClosed = true
            defer { state.commands.removeAll() }
            return state.commands
        }
    }

    /// Sends a request and waits for the thread's answer.
    func request<Value: Sendable>(_ make: (Promise<Value>) -> Command) async throws(AMQPError) -> Value {
        let result: Result<Value, AMQPError> = await withCheckedContinuation { promise in
            submit(make(promise))
        }
        return try result.get()
    }
}
