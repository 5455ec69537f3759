import CAMQPShim
import CRabbitMQ
import DequeModule
import Foundation
import Glibc
import Logging

/// Owns one librabbitmq connection and everything on it. It lives on its own thread
/// (librabbitmq blocks and is not thread-safe); async callers reach it only through
/// the `Mailbox`, and it answers through their promises and consumer streams.
///
/// Channels: 1 publishes in confirm mode, 2 carries synchronous methods (declare,
/// bind, get, …), and each consumer has a channel of its own so that its prefetch
/// and any channel error stay its own.
final class ConnectionDriver {
    private struct ConsumerState {
        let subscription: ConsumerSubscription
        var channel: amqp_channel_t?
        var unsettled: Set<UInt64> = []
        var isCancelled = false
    }

    private static let publishChannel: amqp_channel_t = 1
    private static let rpcChannel: amqp_channel_t = 2
    private static let firstConsumerChannel: amqp_channel_t = 3

    private let configuration: AMQPConfiguration
    private var logger: Logger
    private let mailbox: Mailbox
    private let status: ConnectionStatusBox
    private let arena: OpaquePointer

    private var connection: amqp_connection_state_t?
    /// Set when the connection failed mid-operation; torn down at the next safe point.
    private var lostError: AMQPError?
    private var generation: UInt64 = 0
    private var incarnations: [amqp_channel_t: UInt64] = [:]
    private var incarnationCounter: UInt64 = 0
    private var freeChannels: [amqp_channel_t] = []
    private var nextChannel = ConnectionDriver.firstConsumerChannel

    private var confirms = PublishConfirmTracker<Promise<Void>>()
    private var waitingPublishes: Deque<(OutboundPublish, Promise<Void>)> = []
    private var consumers: [UInt64: ConsumerState] = [:]
    private var consumerByChannel: [amqp_channel_t: UInt64] = [:]
    private var topology = TopologyRegistry()

    private var backoff: ReconnectBackoff
    /// The endpoint the next connection attempt goes to: every failed attempt and every
    /// lost connection moves on to the next node (round robin).
    private var endpointIndex = 0
    private var endpoint: AMQPConfiguration.Endpoint { configuration.endpoints[endpointIndex] }
    private var reconnectAt: ContinuousClock.Instant?
    private var reconnectAttempts = 0
    private var closeRequests: [Promise<Void>?] = []
    private var isBlocked = false
    /// Since when every confirm on the publish channel has been a nack (nil after an ack).
    private var nackedSince: ContinuousClock.Instant?
    private var publishChannelNeedsRecycling = false
    /// RabbitMQ 3.10 leaves a channel that published to a quorum queue while its leader
    /// was being elected nacking every later publish to it, for minutes (measured in
    /// ClusterTests); a new channel is served at once. So a publish channel that has
    /// only nacked for this long is closed and opened again.
    static let nackStreakBeforeRecycling: Duration = .seconds(3)

    init(configuration: AMQPConfiguration, logger: Logger, mailbox: Mailbox, status: ConnectionStatusBox) {
        self.configuration = configuration
        self.logger = logger
        self.mailbox = mailbox
        self.status = status
        self.arena = CAMQPShim_arena_create()!
        self.backoff = ReconnectBackoff(policy: configuration.recovery)
    }

    deinit {
        CAMQPShim_arena_destroy(arena)
    }

    // MARK: Lifecycle

    /// The first connection attempt; its failure is the caller's `connect` error.
    /// Each endpoint is tried once, in order; the last failure is the answer.
    func connectFirstTime() -> Result<Void, AMQPError> {
        var failure: AMQPError?
        for index in configuration.endpoints.indices {
            endpointIndex = index
            switch open() {
            case .success(let conn):
                connection = conn
                generation += 1
                status.setEndpoint(endpoint)
                status.set(.connected)
                logger.info("amqp connected", metadata: [AMQPLogKey.url: "\(configuration.redactedURL(of: endpoint))"])
                return .success(())
            case .failure(let error):
                // Credentials and vhost are the same on every node: no use trying the next.
                if error.code == .authenticationFailed || error.code == .accessRefused { return .failure(error) }
                if configuration.endpoints.count > 1 {
                    logger.warning("amqp node unreachable; trying the next", metadata: [
                        AMQPLogKey.url: "\(configuration.redactedURL(of: endpoint))", AMQPLogKey.error: "\(error)",
                    ])
                }
                failure = error
            }
        }
        endpointIndex = 0
        return .failure(failure!)
    }

    /// Moves the next attempt to the next endpoint.
    private func advanceEndpoint() {
        endpointIndex = (endpointIndex + 1) % configuration.endpoints.count
    }

    /// Runs until `close`, or until the connection fails with recovery disabled.
    func run() {
        while true {
            if !closeRequests.isEmpty {
                finishClosing()
                return
            }
            if connection == nil {
                guard configuration.recovery.isEnabled else {
                    shutDown(with: AMQPError(.connectionLost, "the connection was lost and recovery is disabled"))
                    return
                }
                waitForReconnect()
                continue
            }
            let executed = executeCommands()
            if connection != nil, lostError == nil {
                pumpEvents(block: !executed)
            }
            // Once everything sent on it is settled, so that no confirm of the old
            // channel can be taken for one of the new.
            if publishChannelNeedsRecycling, confirms.isEmpty { recyclePublishChannel() }
            tearDownIfLost()
        }
    }

    // MARK: Connecting

    private func open() -> Result<amqp_connection_state_t, AMQPError> {
        guard let conn = amqp_new_connection() else {
            return .failure(AMQPError(.protocolError, "amqp_new_connection failed"))
        }
        func fail(_ error: AMQPError) -> Result<amqp_connection_state_t, AMQPError> {
            amqp_destroy_connection(conn)
            return .failure(error)
        }
        let socket: OpaquePointer?
        if let tls = configuration.tls {
            socket = amqp_ssl_socket_new(conn)
            guard let socket else { return fail(AMQPError(.tlsFailed, "cannot create a TLS socket")) }
            if let ca = tls.caFile, amqp_ssl_socket_set_cacert(socket, ca) != AMQP_STATUS_OK.rawValue {
                return fail(AMQPError(.tlsFailed, "cannot read CA file \(ca)"))
            }
            if let cert = tls.certificateFile, let key = tls.keyFile,
               amqp_ssl_socket_set_key(socket, cert, key) != AMQP_STATUS_OK.rawValue
            {
                return fail(AMQPError(.tlsFailed, "cannot read client certificate \(cert) or key \(key)"))
            }
            amqp_ssl_socket_set_verify_peer(socket, tls.verifyPeer ? 1 : 0)
            amqp_ssl_socket_set_verify_hostname(socket, tls.verifyHostname ? 1 : 0)
        } else {
            socket = amqp_tcp_socket_new(conn)
        }
        guard let socket else { return fail(AMQPError(.connectFailed, "cannot create a socket")) }

        var connectTimeout = timeval(configuration.connectTimeout)
        var rpcTimeout = timeval(configuration.rpcTimeout)
        _ = amqp_set_handshake_timeout(conn, &connectTimeout)
        _ = amqp_set_rpc_timeout(conn, &rpcTimeout)

        let opened = amqp_socket_open_noblock(socket, endpoint.host, Int32(endpoint.port), &connectTimeout)
        guard opened == AMQP_STATUS_OK.rawValue else {
            let code: AMQPError.Code = Self.isTLSStatus(opened) ? .tlsFailed : .connectFailed
            return fail(AMQPError(code, "cannot connect to \(endpoint): " + Self.describe(opened)))
        }

        let heartbeat = Int32(configuration.heartbeat.components.seconds)
        let login = CAMQPShim_login_plain(conn, configuration.virtualHost, 2047, Int32(configuration.frameMax),
                                          heartbeat, configuration.connectionName, configuration.user,
                                          configuration.password)
        if login.reply_type != AMQP_RESPONSE_NORMAL {
            return fail(loginError(conn, login))
        }
        // The lower of ours (2047) and the broker's `channel_max`; channels above it
        // make the broker close the whole connection.
        status.setChannelMax(Int(amqp_get_channel_max(conn)))
        for (channel, confirm) in [(Self.publishChannel, true), (Self.rpcChannel, false)] {
            if let error = openChannel(conn, channel, confirmMode: confirm) {
                return fail(error)
            }
        }
        return .success(conn)
    }

    private func loginError(_ conn: amqp_connection_state_t, _ reply: amqp_rpc_reply_t) -> AMQPError {
        var code: UInt16 = 0, classID: UInt16 = 0, methodID: UInt16 = 0
        var text = amqp_bytes_t()
        if CAMQPShim_server_exception(conn, 0, reply, &code, &text, &classID, &methodID) != 0 {
            let message = WireCodec.string(text)
            if code == 530 || code == 403 && message.contains("vhost") {
                return AMQPError(.accessRefused, "virtual host '\(configuration.virtualHost)' refused: \(message)",
                                 replyCode: code)
            }
            return AMQPError.brokerClose(replyCode: code, text: message, duringLogin: true)
        }
        if reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION {
            let status = reply.library_error
            if status == AMQP_STATUS_CONNECTION_CLOSED.rawValue || status == AMQP_STATUS_SOCKET_CLOSED.rawValue {
                // Brokers without authentication_failure_close just drop the socket.
                return AMQPError(.authenticationFailed, "the broker closed the connection during login "
                    + "(wrong user or password?)")
            }
            let code: AMQPError.Code = status == AMQP_STATUS_TIMEOUT.rawValue ? .connectFailed : .protocolError
            return AMQPError(code, "login failed: " + Self.describe(status))
        }
        return AMQPError(.protocolError, "login failed without a reply")
    }

    /// Opens a channel (and confirm mode); nil on success.
    private func openChannel(_ conn: amqp_connection_state_t, _ channel: amqp_channel_t,
                             confirmMode: Bool) -> AMQPError?
    {
        if amqp_channel_open(conn, channel) == nil {
            return replyError(conn, channel: channel, doing: "channel.open")
        }
        if confirmMode, amqp_confirm_select(conn, channel) == nil {
            return replyError(conn, channel: channel, doing: "confirm.select")
        }
        incarnationCounter += 1
        incarnations[channel] = incarnationCounter
        return nil
    }

    private func waitForReconnect() {
        let clock = ContinuousClock()
        let now = clock.now
        if let at = reconnectAt, now < at {
            // Sleep until the attempt is due, waking for commands (which fail fast).
            var fds = pollfd(fd: mailbox.wakeDescriptor, events: Int16(POLLIN), revents: 0)
            _ = poll(&fds, 1, Int32(min(1000, (at - now).milliseconds)))
            if fds.revents & Int16(POLLIN) != 0 {
                var counter: UInt64 = 0
                _ = read(mailbox.wakeDescriptor, &counter, 8)
            }
            for command in mailbox.takeAll() { executeWhileDisconnected(command) }
            return
        }
        reconnectAttempts += 1
        status.set(.reconnecting(attempt: reconnectAttempts))
        switch open() {
        case .success(let conn):
            connection = conn
            generation += 1
            reconnectAt = nil
            status.setEndpoint(endpoint)
            logger.info("amqp reconnected", metadata: [
                AMQPLogKey.url: "\(configuration.redactedURL(of: endpoint))", AMQPLogKey.attempts: "\(reconnectAttempts)",
            ])
            reconnectAttempts = 0
            backoff.reset()
            recover()
            tearDownIfLost()
            if connection != nil {
                status.countRecovery()
                status.set(.connected)
            }
        case .failure(let error):
            let delay = backoff.nextDelay()
            reconnectAt = clock.now + delay
            logger.warning("amqp reconnect failed", metadata: [
                AMQPLogKey.url: "\(configuration.redactedURL(of: endpoint))",
                AMQPLogKey.error: "\(error)", AMQPLogKey.attempts: "\(reconnectAttempts)",
                AMQPLogKey.retryIn: "\(delay)",
            ])
            advanceEndpoint()
        }
    }

    /// Declares the recorded topology again and restores every consumer.
    private func recover() {
        guard let conn = connection else { return }
        let replay = topology.replayOrder
        for exchange in replay.exchanges where lostError == nil {
            if let error = declare(conn, exchange) {
                logger.error("amqp recovery: exchange declaration failed",
                             metadata: [AMQPLogKey.exchange: "\(exchange.name)", AMQPLogKey.error: "\(error)"])
            }
        }
        for queue in replay.queues where lostError == nil {
            if case .failure(let error) = declare(conn, queue, passive: false) {
                logger.error("amqp recovery: queue declaration failed",
                             metadata: [AMQPLogKey.queue: "\(queue.name)", AMQPLogKey.error: "\(error)"])
            }
        }
        for binding in replay.bindings where lostError == nil {
            if let error = bind(conn, binding, unbind: false) {
                logger.error("amqp recovery: binding failed",
                             metadata: [AMQPLogKey.exchange: "\(binding.source)", AMQPLogKey.error: "\(error)"])
            }
        }
        for id in consumers.keys.sorted() where lostError == nil {
            if let error = startConsumer(id) {
                logger.error("amqp recovery: consumer could not resubscribe", metadata: [
                    AMQPLogKey.queue: "\(consumers[id]?.subscription.queue ?? "?")", AMQPLogKey.error: "\(error)",
                ])
                if !error.isRetryable { endConsumer(id, with: error) }
            }
        }
        if lostError == nil {
            logger.info("amqp recovered topology and consumers", metadata: [
                AMQPLogKey.exchanges: "\(replay.exchanges.count)", AMQPLogKey.queues: "\(replay.queues.count)",
                AMQPLogKey.bindings: "\(replay.bindings.count)", AMQPLogKey.consumers: "\(consumers.count)",
            ])
        }
    }

    // MARK: Losing the connection

    private func markLost(_ error: AMQPError) {
        if lostError == nil { lostError = error }
    }

    private func tearDownIfLost() {
        guard let error = lostError, let conn = connection else { return }
        lostError = nil
        connection = nil
        isBlocked = false
        amqp_destroy_connection(conn)
        incarnations.removeAll()
        nackedSince = nil
        publishChannelNeedsRecycling = false
        logger.warning("amqp connection lost", metadata: [
            AMQPLogKey.url: "\(configuration.redactedURL(of: endpoint))", AMQPLogKey.error: "\(error)",
        ])
        // The node may be gone: the first attempt goes to the next one (with one
        // endpoint, the same node again).
        advanceEndpoint()

        let inFlight = AMQPError(.connectionLost, "the connection was lost before the broker confirmed: \(error.message)",
                                 replyCode: error.replyCode)
        for pending in confirms.removeAll() { pending.token.resume(returning: .failure(inFlight)) }
        status.setUnconfirmed(0)
        let unsent = AMQPError(.notConnected, "the connection was lost before the message was sent")
        while let (_, promise) = waitingPublishes.popFirst() { promise.resume(returning: .failure(unsent)) }
        for id in consumers.keys {
            consumers[id]?.channel = nil
            consumers[id]?.unsettled.removeAll()
            if consumers[id]?.isCancelled == true { consumers[id] = nil }
        }
        consumerByChannel.removeAll()
        freeChannels.removeAll()
        nextChannel = Self.firstConsumerChannel

        status.set(.reconnecting(attempt: 0))
        reconnectAt = ContinuousClock().now  // first attempt at once
    }

    private func shutDown(with error: AMQPError) {
        for command in mailbox.close() { command.fail(error) }
        for pending in confirms.removeAll() { pending.token.resume(returning: .failure(error)) }
        status.setUnconfirmed(0)
        while let (_, promise) = waitingPublishes.popFirst() { promise.resume(returning: .failure(error)) }
        for (_, consumer) in consumers {
            if error.code != .closed { consumer.subscription.continuation.yield(.failure(error)) }
            consumer.subscription.continuation.finish()
        }
        consumers.removeAll()
        if let conn = connection {
            connection = nil
            amqp_destroy_connection(conn)
        }
        status.set(.closed)
        for promise in closeRequests { promise?.resume(returning: .success(())) }
        closeRequests.removeAll()
    }

    /// Waits (briefly) for outstanding confirms, then closes the connection politely.
    private func finishClosing() {
        let deadline = ContinuousClock().now + .seconds(5)
        for command in mailbox.close() { command.fail(AMQPError(.closed, "the connection is closing")) }
        while connection != nil, lostError == nil, !confirms.isEmpty || !waitingPublishes.isEmpty,
              ContinuousClock().now < deadline
        {
            pumpEvents(block: true)
        }
        if let conn = connection, lostError == nil {
            for (channel, _) in incarnations.sorted(by: { $0.key > $1.key }) {
                _ = amqp_channel_close(conn, channel, Int32(AMQP_REPLY_SUCCESS))
            }
            _ = amqp_connection_close(conn, Int32(AMQP_REPLY_SUCCESS))
        }
        logger.info("amqp connection closed", metadata: [AMQPLogKey.url: "\(configuration.redactedURL(of: endpoint))"])
        shutDown(with: AMQPError(.closed, "the connection was closed"))
    }

    // MARK: Commands

    /// Runs every queued command; true if there were any. A batch of several publishes
    /// and settlements is written corked, so its frames leave in as few segments as
    /// possible; a batch with an RPC is not, since the kernel holds corked frames back
    /// for up to 200 ms while the RPC waits for its answer. Single acks are settled
    /// last, together (see `acknowledge`).
    private func executeCommands() -> Bool {
        let commands = mailbox.takeAll()
        let corked = commands.count > 1 && commands.allSatisfy(\.isFireAndForget) ? connection : nil
        if let corked { CAMQPShim_cork(corked, 1) }
        var acks: [(DeliveryHandle, Promise<Void>)] = []
        for command in commands {
            if connection == nil || lostError != nil {
                executeWhileDisconnected(command)
            } else if case .settle(let handle, .ack(multiple: false), let promise) = command, commands.count > 1 {
                acks.append((handle, promise))
            } else {
                execute(command)
            }
        }
        if !acks.isEmpty { acknowledge(acks) }
        if let corked, corked == connection { CAMQPShim_cork(corked, 0) }
        return !commands.isEmpty
    }

    /// Settles single acks that arrived together. On each channel, the acked deliveries
    /// older than every delivery still unsettled there go out as one `multiple` ack of
    /// the newest of them (the broker handles one frame instead of several: under load,
    /// most of its work per message is per frame); the others are acked one by one.
    /// A multiple ack covers exactly these deliveries: any older one is settled already.
    private func acknowledge(_ acks: [(DeliveryHandle, Promise<Void>)]) {
        var byChannel: [amqp_channel_t: [(DeliveryHandle, Promise<Void>)]] = [:]
        for ack in acks { byChannel[ack.0.channel, default: []].append(ack) }
        for (channel, group) in byChannel {
            var single = group
            if group.count > 1, let id = consumerByChannel[channel], let state = consumers[id],
               let incarnation = incarnations[channel], group.allSatisfy({ $0.0.incarnation == incarnation })
            {
                let tags = Set(group.map(\.0.deliveryTag))
                let oldestOther = state.unsettled.lazy.filter { !tags.contains($0) }.min() ?? .max
                let covered = group.filter { $0.0.deliveryTag < oldestOther }
                if covered.count > 1, let newest = covered.max(by: { $0.0.deliveryTag < $1.0.deliveryTag }) {
                    let result = settleWhileConnected(newest.0, .ack(multiple: true))
                    for (_, promise) in covered { promise.resume(returning: result) }
                    single = group.filter { $0.0.deliveryTag >= oldestOther }
                }
            }
            for (handle, promise) in single {
                promise.resume(returning: settleWhileConnected(handle, .ack(multiple: false)))
            }
        }
    }

    private func settleWhileConnected(_ handle: DeliveryHandle, _ settlement: Settlement) -> Result<Void, AMQPError> {
        guard let conn = connection, lostError == nil else {
            return .failure(AMQPError(.staleDelivery, "the channel of this delivery is gone; the broker will redeliver it"))
        }
        return settle(conn, handle, settlement)
    }

    private func executeWhileDisconnected(_ command: Command) {
        switch command {
        case .close(let promise):
            closeRequests.append(promise)
        case .consume(let subscription, let promise):
            // Kept: it subscribes once the connection is back.
            consumers[subscription.id] = ConsumerState(subscription: subscription)
            promise.resume(returning: .success(()))
        case .cancel(let id, let promise):
            endConsumer(id, with: nil)
            promise?.resume(returning: .success(()))
        case .settle(_, _, let promise):
            promise.resume(returning: .failure(AMQPError(
                .staleDelivery, "the channel of this delivery is gone; the broker will redeliver it")))
        default:
            command.fail(AMQPError(.notConnected, "not connected to the broker (reconnecting)"))
        }
    }

    private func execute(_ command: Command) {
        guard let conn = connection else { return executeWhileDisconnected(command) }
        defer { CAMQPShim_arena_reset(arena) }
        logger.trace("amqp command", metadata: [AMQPLogKey.command: "\(command.name)"])
        switch command {
        case .publish(let message, let promise):
            // While the broker blocks the connection it stops reading: writing would
            // stall this thread (and with it acks and heartbeats), so publishes wait.
            if isBlocked || publishChannelNeedsRecycling || confirms.count >= configuration.maximumUnconfirmedPublishes
                || !waitingPublishes.isEmpty
            {
                waitingPublishes.append((message, promise))
            } else {
                send(conn, message, promise)
            }
        case .declareExchange(let declaration, let promise):
            if let error = declare(conn, declaration) {
                promise.resume(returning: .failure(error))
            } else {
                topology.record(declaration)
                promise.resume(returning: .success(()))
            }
        case .deleteExchange(let name, let ifUnused, let promise):
            let result = Result { () throws(AMQPError) in try wire(name) }.flatMap { exchange in
                rpc(conn, "exchange.delete \(name)") {
                    amqp_exchange_delete($0, Self.rpcChannel, exchange, ifUnused ? 1 : 0)
                }
            }
            if case .success = result { topology.forget(exchange: name) }
            promise.resume(returning: result.map { _ in () })
        case .declareQueue(let declaration, let passive, let promise):
            let result = declare(conn, declaration, passive: passive)
            if case .success = result, !passive { topology.record(declaration) }
            promise.resume(returning: result)
        case .deleteQueue(let name, let ifUnused, let ifEmpty, let promise):
            let result = Result { () throws(AMQPError) in try wire(name) }.flatMap { queue in
                rpc(conn, "queue.delete \(name)") {
                    amqp_queue_delete($0, Self.rpcChannel, queue, ifUnused ? 1 : 0, ifEmpty ? 1 : 0)
                }
            }
            if case .success = result { topology.forget(queue: name) }
            promise.resume(returning: result.map { $0.pointee.message_count })
        case .purgeQueue(let name, let promise):
            let result = Result { () throws(AMQPError) in try wire(name) }.flatMap { queue in
                rpc(conn, "queue.purge \(name)") { amqp_queue_purge($0, Self.rpcChannel, queue) }
            }
            promise.resume(returning: result.map { $0.pointee.message_count })
        case .bind(let binding, let promise):
            if let error = bind(conn, binding, unbind: false) {
                promise.resume(returning: .failure(error))
            } else {
                topology.record(binding)
                promise.resume(returning: .success(()))
            }
        case .unbind(let binding, let promise):
            if let error = bind(conn, binding, unbind: true) {
                promise.resume(returning: .failure(error))
            } else {
                topology.forget(binding: binding)
                promise.resume(returning: .success(()))
            }
        case .get(let queue, let autoAck, let promise):
            promise.resume(returning: get(conn, queue: queue, autoAck: autoAck))
        case .consume(let subscription, let promise):
            consumers[subscription.id] = ConsumerState(subscription: subscription)
            if let error = startConsumer(subscription.id) {
                if !error.isRetryable { endConsumer(subscription.id, with: nil) }
                promise.resume(returning: error.isRetryable ? .success(()) : .failure(error))
            } else {
                promise.resume(returning: .success(()))
            }
        case .cancel(let id, let promise):
            cancelConsumer(conn, id)
            promise?.resume(returning: .success(()))
        case .settle(let handle, let settlement, let promise):
            promise.resume(returning: settle(conn, handle, settlement))
        case .close(let promise):
            closeRequests.append(promise)
        }
    }

    // MARK: Publishing

    private func send(_ conn: amqp_connection_state_t, _ message: OutboundPublish, _ promise: Promise<Void>) {
        defer { CAMQPShim_arena_reset(arena) }
        let status: Int32
        do {
            var properties = try WireCodec.encode(message.properties, arena: arena)
            let exchange = try WireCodec.bytes(message.exchange, in: arena)
            let routingKey = try WireCodec.bytes(message.routingKey, in: arena)
            status = message.body.withUnsafeBytes { body in
                amqp_basic_publish(conn, Self.publishChannel, exchange, routingKey, message.mandatory ? 1 : 0, 0,
                                   &properties, amqp_bytes_t(len: body.count, bytes: UnsafeMutableRawPointer(
                                       mutating: body.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!)))
            }
        } catch {
            promise.resume(returning: .failure(error))
            return
        }
        guard status == AMQP_STATUS_OK.rawValue else {
            let error = Self.statusError(status, doing: "basic.publish")
            promise.resume(returning: .failure(AMQPError(.connectionLost, error.message)))
            markLost(error)
            return
        }
        confirms.record(promise, exchange: message.exchange, routingKey: message.routingKey,
                        messageID: message.properties.messageID)
        self.status.setUnconfirmed(confirms.count)
    }

    private func sendWaitingPublishes() {
        while let conn = connection, lostError == nil, !isBlocked, !publishChannelNeedsRecycling,
              confirms.count < configuration.maximumUnconfirmedPublishes,
              let (message, promise) = waitingPublishes.popFirst()
        {
            send(conn, message, promise)
        }
    }

    private func settleConfirms(deliveryTag: UInt64, multiple: Bool, nacked: Bool) {
        if nacked {
            let now = ContinuousClock.now
            if let since = nackedSince {
                if now - since >= Self.nackStreakBeforeRecycling { publishChannelNeedsRecycling = true }
            } else {
                nackedSince = now
            }
        } else {
            nackedSince = nil
        }
        for pending in confirms.settle(deliveryTag: deliveryTag, multiple: multiple) {
            if nacked {
                status.countNack()
                pending.token.resume(returning: .failure(AMQPError(
                    .publishNacked, "the broker refused the message (queue full with reject-publish, or an "
                        + "internal error)")))
            } else if let returned = pending.returned {
                status.countReturn()
                pending.token.resume(returning: .failure(AMQPError(
                    .publishReturned, "unroutable: \(returned.text) (exchange '\(pending.exchange)', key "
                        + "'\(pending.routingKey)')", replyCode: returned.code)))
            } else {
                pending.token.resume(returning: .success(()))
            }
        }
        sendWaitingPublishes()
        status.setUnconfirmed(confirms.count)
    }

    /// Closes the publish channel, once nothing sent on it waits for a confirm, and
    /// opens a new one; publishes held meanwhile go on the new one.
    private func recyclePublishChannel() {
        publishChannelNeedsRecycling = false
        nackedSince = nil
        guard let conn = connection, lostError == nil else { return }
        logger.warning("amqp publish channel only nacked for \(Self.nackStreakBeforeRecycling); opening a new one",
                       metadata: [AMQPLogKey.url: "\(configuration.redactedURL(of: endpoint))",
                                  AMQPLogKey.channel: "\(Self.publishChannel)"])
        incarnations[Self.publishChannel] = nil
        CAMQPShim_cork(conn, 0)
        let reply = amqp_channel_close(conn, Self.publishChannel, Int32(AMQP_REPLY_SUCCESS))
        _ = confirms.removeAll()  // empty; restarts the sequence for the new channel
        if reply.reply_type != AMQP_RESPONSE_NORMAL {
            markLost(replyError(conn, channel: Self.publishChannel, doing: "channel.close", reply: reply))
            return
        }
        if let error = openChannel(conn, Self.publishChannel, confirmMode: true) {
            markLost(error)
            return
        }
        sendWaitingPublishes()
    }

    // MARK: Synchronous methods

    private func rpc<T>(_ conn: amqp_connection_state_t, _ what: @autoclosure () -> String,
                        _ call: (amqp_connection_state_t) -> UnsafeMutablePointer<T>?)
        -> Result<UnsafeMutablePointer<T>, AMQPError>
    {
        if let ok = call(conn) { return .success(ok) }
        return .failure(replyError(conn, channel: Self.rpcChannel, doing: what()))
    }

    private func declare(_ conn: amqp_connection_state_t, _ exchange: AMQPExchangeDeclaration) -> AMQPError? {
        defer { CAMQPShim_arena_reset(arena) }
        var arguments = amqp_table_t()
        let name: amqp_bytes_t, kind: amqp_bytes_t
        do {
            try WireCodec.encode(exchange.arguments, into: &arguments, arena: arena)
            name = try wire(exchange.name)
            kind = try wire(exchange.kind.description)
        } catch { return error }
        let result = rpc(conn, "exchange.declare \(exchange.name)") {
            amqp_exchange_declare($0, Self.rpcChannel, name, kind, 0, exchange.durable ? 1 : 0,
                                  exchange.autoDelete ? 1 : 0, exchange.isInternal ? 1 : 0, arguments)
        }
        if case .failure(let error) = result { return error }
        return nil
    }

    private func declare(_ conn: amqp_connection_state_t, _ queue: AMQPQueueDeclaration, passive: Bool)
        -> Result<AMQPQueueState, AMQPError>
    {
        defer { CAMQPShim_arena_reset(arena) }
        var arguments = amqp_table_t()
        let name: amqp_bytes_t
        do {
            try WireCodec.encode(queue.arguments, into: &arguments, arena: arena)
            name = try wire(queue.name)
        } catch {
            return .failure(error)
        }
        return rpc(conn, "queue.declare \(queue.name)") {
            amqp_queue_declare($0, Self.rpcChannel, name, passive ? 1 : 0,
                               queue.durable ? 1 : 0, queue.exclusive ? 1 : 0, queue.autoDelete ? 1 : 0, arguments)
        }.map { ok in
            AMQPQueueState(name: WireCodec.string(ok.pointee.queue), messageCount: ok.pointee.message_count,
                           consumerCount: ok.pointee.consumer_count)
        }
    }

    private func bind(_ conn: amqp_connection_state_t, _ binding: AMQPBinding, unbind: Bool) -> AMQPError? {
        defer { CAMQPShim_arena_reset(arena) }
        var arguments = amqp_table_t()
        let source: amqp_bytes_t, key: amqp_bytes_t, destination: amqp_bytes_t
        do {
            try WireCodec.encode(binding.arguments, into: &arguments, arena: arena)
            source = try wire(binding.source)
            key = try wire(binding.routingKey)
            switch binding.destination {
            case .queue(let name), .exchange(let name): destination = try wire(name)
            }
        } catch { return error }
        let verb = unbind ? "unbind" : "bind"
        let failure: AMQPError?
        switch binding.destination {
        case .queue(let queue):
            let q = destination
            if unbind {
                failure = rpc(conn, "queue.\(verb) \(queue)") {
                    amqp_queue_unbind($0, Self.rpcChannel, q, source, key, arguments)
                }.failure
            } else {
                failure = rpc(conn, "queue.\(verb) \(queue)") {
                    amqp_queue_bind($0, Self.rpcChannel, q, source, key, arguments)
                }.failure
            }
        case .exchange(let exchange):
            let d = destination
            if unbind {
                failure = rpc(conn, "exchange.\(verb) \(exchange)") {
                    amqp_exchange_unbind($0, Self.rpcChannel, d, source, key, arguments)
                }.failure
            } else {
                failure = rpc(conn, "exchange.\(verb) \(exchange)") {
                    amqp_exchange_bind($0, Self.rpcChannel, d, source, key, arguments)
                }.failure
            }
        }
        return failure
    }

    private func get(_ conn: amqp_connection_state_t, queue: String, autoAck: Bool)
        -> Result<AMQPDelivery?, AMQPError>
    {
        let name: amqp_bytes_t
        do { name = try wire(queue) } catch { return .failure(error) }
        let reply = amqp_basic_get(conn, Self.rpcChannel, name, autoAck ? 1 : 0)
        guard reply.reply_type == AMQP_RESPONSE_NORMAL else {
            return .failure(replyError(conn, channel: Self.rpcChannel, doing: "basic.get \(queue)", reply: reply))
        }
        if reply.reply.id == AMQP_BASIC_GET_EMPTY_METHOD { return .success(nil) }
        guard reply.reply.id == AMQP_BASIC_GET_OK_METHOD,
              let ok = reply.reply.decoded?.assumingMemoryBound(to: amqp_basic_get_ok_t.self).pointee
        else {
            return .failure(AMQPError(.protocolError, "unexpected answer to basic.get"))
        }
        var message = amqp_message_t()
        let read = amqp_read_message(conn, Self.rpcChannel, &message, 0)
        guard read.reply_type == AMQP_RESPONSE_NORMAL else {
            let error = replyError(conn, channel: Self.rpcChannel, doing: "basic.get body", reply: read)
            markLost(error)
            return .failure(error)
        }
        defer {
            amqp_destroy_message(&message)
            amqp_maybe_release_buffers_on_channel(conn, Self.rpcChannel)
        }
        return .success(AMQPDelivery(
            body: WireCodec.data(message.body), properties: WireCodec.decode(message.properties),
            exchange: WireCodec.string(ok.exchange), routingKey: WireCodec.string(ok.routing_key),
            redelivered: ok.redelivered != 0, deliveryTag: ok.delivery_tag, messageCount: ok.message_count,
            handle: DeliveryHandle(channel: Self.rpcChannel, incarnation: incarnations[Self.rpcChannel] ?? 0,
                                   deliveryTag: ok.delivery_tag),
            mailbox: autoAck ? nil : mailbox))
    }

    /// Turns a failed synchronous reply into an error, repairing what it broke: a
    /// closed channel is opened again, a closed or broken connection is marked lost.
    private func replyError(_ conn: amqp_connection_state_t, channel: amqp_channel_t, doing what: String,
                            reply given: amqp_rpc_reply_t? = nil) -> AMQPError
    {
        let reply = given ?? amqp_get_rpc_reply(conn)
        switch reply.reply_type {
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            var code: UInt16 = 0, classID: UInt16 = 0, methodID: UInt16 = 0
            var text = amqp_bytes_t()
            let which = CAMQPShim_server_exception(conn, channel, reply, &code, &text, &classID, &methodID)
            let error = AMQPError.brokerClose(replyCode: code, text: "\(what): \(WireCodec.string(text))")
            if which == 1 {
                channelClosedByBroker(conn, channel, error)
            } else {
                markLost(error)
            }
            return error
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            let error = Self.statusError(reply.library_error, doing: what)
            markLost(error)
            return error
        default:
            let error = AMQPError(.protocolError, "\(what): no reply")
            markLost(error)
            return error
        }
    }

    /// After the broker closed `channel` (close-ok already sent): reopen the channels
    /// the driver owns, fail what was in flight on them, resubscribe a consumer.
    private func channelClosedByBroker(_ conn: amqp_connection_state_t, _ channel: amqp_channel_t,
                                       _ error: AMQPError)
    {
        incarnations[channel] = nil
        switch channel {
        case Self.publishChannel:
            for pending in confirms.removeAll() { pending.token.resume(returning: .failure(error)) }
            status.setUnconfirmed(0)
            if let reopenError = openChannel(conn, channel, confirmMode: true) { markLost(reopenError) }
            sendWaitingPublishes()
        case Self.rpcChannel:
            if let reopenError = openChannel(conn, channel, confirmMode: false) { markLost(reopenError) }
        default:
            guard let id = consumerByChannel.removeValue(forKey: channel) else {
                freeChannels.append(channel)
                return
            }
            freeChannels.append(channel)
            consumers[id]?.channel = nil
            consumers[id]?.unsettled.removeAll()
            logger.warning("amqp consumer channel closed by the broker; resubscribing", metadata: [
                AMQPLogKey.queue: "\(consumers[id]?.subscription.queue ?? "?")", AMQPLogKey.error: "\(error)",
            ])
            if consumers[id]?.isCancelled == true {
                consumers[id] = nil
            } else if let resubscribeError = startConsumer(id), !resubscribeError.isRetryable {
                endConsumer(id, with: resubscribeError)
            }
        }
    }

    // MARK: Consumers

    private func allocateChannel() -> amqp_channel_t {
        if let channel = freeChannels.popLast() { return channel }
        defer { nextChannel += 1 }
        return nextChannel
    }

    /// Opens the consumer's channel, sets its prefetch and subscribes; nil on success.
    private func startConsumer(_ id: UInt64) -> AMQPError? {
        guard let conn = connection, lostError == nil, let state = consumers[id] else { return nil }
        let subscription = state.subscription
        // Encoded before the channel opens, so that a failure leaves no channel behind.
        defer { CAMQPShim_arena_reset(arena) }
        var arguments = amqp_table_t()
        let queue: amqp_bytes_t, consumerTag: amqp_bytes_t
        do {
            try WireCodec.encode(subscription.options.arguments, into: &arguments, arena: arena)
            queue = try wire(subscription.queue)
            consumerTag = try wire(subscription.consumerTag)
        } catch {
            return error
        }
        let channel = allocateChannel()
        if let error = openChannel(conn, channel, confirmMode: false) {
            freeChannels.append(channel)
            return error
        }
        func failed(_ doing: String) -> AMQPError {
            let error = replyError(conn, channel: channel, doing: doing)
            if incarnations[channel] != nil {
                _ = amqp_channel_close(conn, channel, Int32(AMQP_REPLY_SUCCESS))
                incarnations[channel] = nil
            }
            freeChannels.append(channel)
            return error
        }
        if amqp_basic_qos(conn, channel, 0, subscription.options.prefetch, 0) == nil {
            return failed("basic.qos")
        }
        consumerByChannel[channel] = id
        if amqp_basic_consume(conn, channel, queue, consumerTag, 0, subscription.options.autoAck ? 1 : 0,
                              subscription.options.exclusive ? 1 : 0, arguments) == nil
        {
            consumerByChannel[channel] = nil
            return failed("basic.consume \(subscription.queue)")
        }
        consumers[id]?.channel = channel
        return nil
    }

    private func cancelConsumer(_ conn: amqp_connection_state_t, _ id: UInt64) {
        guard var state = consumers[id], !state.isCancelled else { return }
        state.isCancelled = true
        consumers[id] = state
        state.subscription.continuation.finish()
        guard let channel = state.channel else {
            consumers[id] = nil
            return
        }
        let consumerTag: amqp_bytes_t
        do { consumerTag = try wire(state.subscription.consumerTag) } catch {
            // Without its tag the consumer cannot be cancelled on its own; dropping the
            // connection ends it (recovery does not resubscribe a cancelled consumer),
            // and the broker redelivers whatever it still held.
            logger.error("amqp basic.cancel could not be encoded; dropping the connection",
                         metadata: [AMQPLogKey.error: "\(error)"])
            markLost(error)
            return
        }
        if amqp_basic_cancel(conn, channel, consumerTag) == nil {
            _ = replyError(conn, channel: channel, doing: "basic.cancel")
            return
        }
        closeConsumerChannelIfDone(conn, id)
    }

    /// A cancelled consumer keeps its channel until its last delivery is settled,
    /// because closing the channel would requeue deliveries still being worked on.
    private func closeConsumerChannelIfDone(_ conn: amqp_connection_state_t, _ id: UInt64) {
        guard let state = consumers[id], state.isCancelled, state.unsettled.isEmpty else { return }
        consumers[id] = nil
        guard let channel = state.channel else { return }
        consumerByChannel[channel] = nil
        incarnations[channel] = nil
        // An RPC: frames corked by a batch of settlements must leave before it waits.
        CAMQPShim_cork(conn, 0)
        let reply = amqp_channel_close(conn, channel, Int32(AMQP_REPLY_SUCCESS))
        if reply.reply_type != AMQP_RESPONSE_NORMAL {
            _ = replyError(conn, channel: channel, doing: "channel.close", reply: reply)
        } else {
            freeChannels.append(channel)
        }
    }

    /// Ends a consumer's stream, with an error for its reader when there is one.
    private func endConsumer(_ id: UInt64, with error: AMQPError?) {
        guard let state = consumers.removeValue(forKey: id) else { return }
        if let channel = state.channel { consumerByChannel[channel] = nil }
        if let error { state.subscription.continuation.yield(.failure(error)) }
        state.subscription.continuation.finish()
    }

    private func settle(_ conn: amqp_connection_state_t, _ handle: DeliveryHandle, _ settlement: Settlement)
        -> Result<Void, AMQPError>
    {
        guard incarnations[handle.channel] == handle.incarnation else {
            return .failure(AMQPError(.staleDelivery,
                                      "the channel of this delivery is gone; the broker will redeliver it"))
        }
        let status: Int32
        var multiple = false
        switch settlement {
        case .ack(let m):
            multiple = m
            status = amqp_basic_ack(conn, handle.channel, handle.deliveryTag, m ? 1 : 0)
        case .nack(let m, let requeue):
            multiple = m
            status = amqp_basic_nack(conn, handle.channel, handle.deliveryTag, m ? 1 : 0, requeue ? 1 : 0)
        case .reject(let requeue):
            status = amqp_basic_reject(conn, handle.channel, handle.deliveryTag, requeue ? 1 : 0)
        }
        guard status == AMQP_STATUS_OK.rawValue else {
            let error = Self.statusError(status, doing: "settling a delivery")
            markLost(error)
            return .failure(error)
        }
        if let id = consumerByChannel[handle.channel] {
            if multiple, var state = consumers.removeValue(forKey: id) {
                state.unsettled = state.unsettled.filter { $0 > handle.deliveryTag }
                consumers[id] = state
            } else {
                consumers[id]?.unsettled.remove(handle.deliveryTag)
            }
            closeConsumerChannelIfDone(conn, id)
        }
        return .success(())
    }

    // MARK: Events

    /// Handles what the broker sent: waits up to the poll interval when `block`,
    /// then drains everything already readable (bounded, so commands get a turn).
    private func pumpEvents(block: Bool) {
        guard let conn = connection else { return }
        // Wake at least four times per heartbeat interval so librabbitmq can send ours
        // and notice the broker's missing; once a second without heartbeats.
        let heartbeat = configuration.heartbeat.milliseconds
        let pollInterval = Int32(heartbeat > 0 ? max(50, min(1000, heartbeat / 4)) : 1000)
        var event = CAMQPShim_event()
        var handled = 0
        while handled < 1024, lostError == nil {
            let status = CAMQPShim_next_event(conn, mailbox.wakeDescriptor, handled == 0 && block ? pollInterval : 0,
                                              &event)
            guard status == AMQP_STATUS_OK.rawValue else {
                markLost(Self.statusError(status, doing: "reading from the broker"))
                return
            }
            if event.kind == CAMQPShim_EVENT_NONE || event.kind == CAMQPShim_EVENT_WAKE { return }
            handle(conn, &event)
            CAMQPShim_event_finish(conn, &event)
            handled += 1
        }
    }

    private func handle(_ conn: amqp_connection_state_t, _ event: inout CAMQPShim_event) {
        logger.trace("amqp event", metadata: [
            AMQPLogKey.event: "\(event.kind.rawValue)", AMQPLogKey.channel: "\(event.channel)",
            AMQPLogKey.deliveryTag: "\(event.delivery_tag)", AMQPLogKey.multiple: "\(event.multiple)",
        ])
        switch event.kind {
        case CAMQPShim_EVENT_ACK where event.channel == Self.publishChannel:
            settleConfirms(deliveryTag: event.delivery_tag, multiple: event.multiple != 0, nacked: false)
        case CAMQPShim_EVENT_NACK where event.channel == Self.publishChannel:
            settleConfirms(deliveryTag: event.delivery_tag, multiple: event.multiple != 0, nacked: true)
        case CAMQPShim_EVENT_RETURN:
            let messageID = WireCodec.decode(event.message.properties).messageID
            let matched = confirms.markReturned(
                exchange: WireCodec.string(event.exchange), routingKey: WireCodec.string(event.routing_key),
                messageID: messageID, code: event.reply_code, text: WireCodec.string(event.reply_text))
            if !matched {
                logger.warning("amqp return matched no publish", metadata: [
                    AMQPLogKey.exchange: "\(WireCodec.string(event.exchange))",
                    AMQPLogKey.routingKey: "\(WireCodec.string(event.routing_key))",
                ])
            }
        case CAMQPShim_EVENT_DELIVER:
            deliver(conn, event)
        case CAMQPShim_EVENT_CANCEL:
            let tag = WireCodec.string(event.consumer_tag)
            if let (id, _) = consumers.first(where: { $0.value.subscription.consumerTag == tag }) {
                logger.warning("amqp consumer cancelled by the broker", metadata: [
                    AMQPLogKey.queue: "\(consumers[id]?.subscription.queue ?? "?")",
                ])
                consumers[id]?.isCancelled = true
                consumers[id]?.subscription.continuation.yield(.failure(AMQPError(
                    .consumerCancelled, "the broker cancelled the consumer (queue deleted?)")))
                consumers[id]?.subscription.continuation.finish()
                closeConsumerChannelIfDone(conn, id)
            }
        case CAMQPShim_EVENT_CHANNEL_CLOSE:
            let error = AMQPError.brokerClose(replyCode: event.reply_code, text: WireCodec.string(event.reply_text))
            channelClosedByBroker(conn, event.channel, error)
        case CAMQPShim_EVENT_CONNECTION_CLOSE:
            markLost(AMQPError.brokerClose(replyCode: event.reply_code, text: WireCodec.string(event.reply_text)))
        case CAMQPShim_EVENT_BLOCKED:
            isBlocked = true
            logger.warning("amqp connection blocked by the broker (resource alarm); publishes wait",
                           metadata: [AMQPLogKey.reason: "\(WireCodec.string(event.reply_text))"])
        case CAMQPShim_EVENT_UNBLOCKED:
            isBlocked = false
            logger.info("amqp connection unblocked")
            sendWaitingPublishes()
        default:
            logger.debug("amqp ignored frame", metadata: [AMQPLogKey.method: "\(event.method_id)",
                                                          AMQPLogKey.channel: "\(event.channel)"])
        }
    }

    private func deliver(_ conn: amqp_connection_state_t, _ event: CAMQPShim_event) {
        // Read what is needed, then mutate in place: holding `consumers[id]` in a local
        // while inserting would copy the whole `unsettled` set on every delivery.
        guard let id = consumerByChannel[event.channel], let incarnation = incarnations[event.channel],
              let (isCancelled, subscription) = consumers[id].map({ ($0.isCancelled, $0.subscription) })
        else { return }
        let autoAck = subscription.options.autoAck
        if isCancelled {
            // Arrived after our basic.cancel: hand it straight back.
            if !autoAck { _ = amqp_basic_reject(conn, event.channel, event.delivery_tag, 1) }
            return
        }
        if !autoAck { consumers[id]!.unsettled.insert(event.delivery_tag) }
        let delivery = AMQPDelivery(
            body: WireCodec.data(event.message.body), properties: WireCodec.decode(event.message.properties),
            exchange: WireCodec.string(event.exchange), routingKey: WireCodec.string(event.routing_key),
            redelivered: event.redelivered != 0, deliveryTag: event.delivery_tag, messageCount: nil,
            handle: DeliveryHandle(channel: event.channel, incarnation: incarnation, deliveryTag: event.delivery_tag),
            mailbox: autoAck ? nil : mailbox)
        subscription.continuation.yield(.success(delivery))
    }

    /// A string as AMQP bytes in the arena. Never pass a Swift string through
    /// `amqp_cstring_bytes`: the C string it bridges to dies when that call returns.
    /// A failed allocation throws: sending empty bytes instead would name "the last
    /// queue declared on this channel" and delete, purge or bind another queue.
    private func wire(_ string: String) throws(AMQPError) -> amqp_bytes_t {
        try WireCodec.bytes(string, in: arena)
    }

    // MARK: Status codes

    static func describe(_ status: Int32) -> String {
        String(cString: amqp_error_string2(status))
    }

    static func isTLSStatus(_ status: Int32) -> Bool {
        // amqp_status_enum's SSL errors live in 0x0200…0x02FF (negated).
        (-status & 0xFF00) == 0x0200
    }

    static func statusError(_ status: Int32, doing what: String) -> AMQPError {
        let code: AMQPError.Code
        switch status {
        case AMQP_STATUS_TIMEOUT.rawValue: code = .timeout
        case AMQP_STATUS_HEARTBEAT_TIMEOUT.rawValue: code = .connectionLost
        case _ where isTLSStatus(status): code = .tlsFailed
        default: code = .connectionLost
        }
        return AMQPError(code, "\(what): \(describe(status))")
    }
}

extension Result {
    fileprivate var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}

extension timeval {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self.init(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }
}
