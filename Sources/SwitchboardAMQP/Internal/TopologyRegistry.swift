/// The exchanges, queues and bindings declared through one connection, in declaration
/// order, so that recovery can declare them again on a new connection.
struct TopologyRegistry: Sendable {
    private var order = 0
    private var exchanges: [String: (order: Int, declaration: AMQPExchangeDeclaration)] = [:]
    private var queues: [String: (order: Int, declaration: AMQPQueueDeclaration)] = [:]
    private var bindings: [AMQPBinding: Int] = [:]

    mutating func record(_ exchange: AMQPExchangeDeclaration) {
        order += 1
        exchanges[exchange.name] = (exchanges[exchange.name]?.order ?? order, exchange)
    }

    mutating func record(_ queue: AMQPQueueDeclaration) {
        // A server-named queue gets a new name on every declaration: nothing to replay.
        guard !queue.name.isEmpty else { return }
        order += 1
        queues[queue.name] = (queues[queue.name]?.order ?? order, queue)
    }

    mutating func record(_ binding: AMQPBinding) {
        order += 1
        if bindings[binding] == nil { bindings[binding] = order }
    }

    mutating func forget(binding: AMQPBinding) {
        bindings[binding] = nil
    }

    /// Forgets the exchange and every binding it is part of.
    mutating func forget(exchange name: String) {
        exchanges[name] = nil
        bindings = bindings.filter { binding, _ in
            binding.source != name && binding.destination != .exchange(name)
        }
    }

    /// Forgets the queue and every binding to it.
    mutating func forget(queue name: String) {
        queues[name] = nil
        bindings = bindings.filter { binding, _ in binding.destination != .queue(name) }
    }

    /// What to declare again, in an order the broker accepts: exchanges, queues, bindings.
    var replayOrder: (exchanges: [AMQPExchangeDeclaration], queues: [AMQPQueueDeclaration], bindings: [AMQPBinding]) {
        (
            exchanges.values.sorted { $0.order < $1.order }.map(\.declaration),
            queues.values.sorted { $0.order < $1.order }.map(\.declaration),
            bindings.sorted { $0.value < $1.value }.map(\.key)
        )
    }

    var isEmpty: Bool { exchanges.isEmpty && queues.isEmpty && bindings.isEmpty }
}
