public import CoreMetrics

/// Every metric name the gateway emits, in one place: docs/observability.md, the alert
/// rules and the dashboard are written against these.
public enum MetricName {
    public static let httpRequests = "http_server_requests_total"
    public static let httpDuration = "http_server_request_duration_seconds"
    public static let apiMessages = "switchboard_api_messages_total"
    public static let deliveries = "switchboard_deliveries_total"
    public static let providerCall = "switchboard_provider_call_duration_seconds"
    public static let slotWait = "switchboard_session_slot_wait_seconds"
    public static let sendLag = "switchboard_send_lag_seconds"
    public static let activeTenants = "switchboard_dispatcher_active_tenants"
    public static let inFlight = "switchboard_dispatcher_in_flight"
    public static let webhooks = "switchboard_webhooks_total"
    public static let webhookConfirm = "switchboard_webhook_confirm_duration_seconds"
    public static let events = "switchboard_events_published_total"
    public static let inboundDuplicates = "switchboard_inbound_duplicates_total"
    public static let inboundDeadLettered = "switchboard_inbound_dead_lettered_total"
    public static let consumerDeliveries = "switchboard_consumer_deliveries_total"
    public static let consumerLag = "switchboard_consumer_lag_seconds"
    public static let deadLettersArchived = "switchboard_dead_letters_archived_total"
    public static let sessionConnected = "switchboard_session_connected"
    public static let amqpUp = "switchboard_amqp_connection_up"
    public static let amqpRecoveries = "switchboard_amqp_recoveries_total"
    public static let amqpUnconfirmed = "switchboard_amqp_unconfirmed_publishes"
    public static let amqpNacked = "switchboard_amqp_publishes_nacked_total"
    public static let amqpReturned = "switchboard_amqp_publishes_returned_total"
    public static let storeBatchSize = "switchboard_store_batch_size"
    public static let storeCommit = "switchboard_store_commit_duration_seconds"
    public static let queueReady = "switchboard_queue_messages_ready"
    public static let queueUnacked = "switchboard_queue_messages_unacked"
    public static let brokerReadErrors = "switchboard_broker_view_errors_total"
}

/// The gateway's metric families, made once per `Telemetry` and shared by the services
/// of the process. Each service records into the families of its own stage.
public final class GatewayMetrics: Sendable {
    /// Metrics that go nowhere: for code run without a process's telemetry (unit tests,
    /// tools).
    public static let off = GatewayMetrics(factory: NOOPMetricsHandler.instance)

    // MARK: HTTP (api, webhooks, metrics listener)

    /// Requests by service, route template (`/v1/tenants/{tenant}`, `unmatched`), method, status.
    public let httpRequests: MetricFamily<Counter>
    public let httpDuration: MetricFamily<CoreMetrics.Timer>

    // MARK: api

    /// Messages the api took or refused, by tenant, outcome (`accepted`, `replayed`,
    /// `refused`) and reason (the problem's kind when refused, else empty).
    public let apiMessages: MetricFamily<Counter>

    // MARK: dispatcher

    /// Settled deliveries by tenant and outcome (`sent`, `retried`, `dead_lettered`,
    /// `suppressed`, `already_sent`, `requeued`).
    public let deliveries: MetricFamily<Counter>
    /// Provider send calls by provider and result (`accepted`, `transient`, `permanent`,
    /// `session_down`).
    public let providerCall: MetricFamily<CoreMetrics.Timer>
    /// Time a message waited for its session's slot, by class.
    public let slotWait: MetricFamily<CoreMetrics.Timer>
    /// Accepted (the envelope's timestamp) to sent, by class.
    public let sendLag: MetricFamily<CoreMetrics.Timer>
    public let activeTenants: Meter
    /// Deliveries between fetch and settlement, over every tenant.
    public let inFlight: Meter

    // MARK: webhooks and normalizer

    /// Provider webhooks by provider and answered status code.
    public let webhooks: MetricFamily<Counter>
    /// Receipt to broker confirm (what the provider waits for), by provider.
    public let webhookConfirm: MetricFamily<CoreMetrics.Timer>
    /// Normalized events published, by type.
    public let events: MetricFamily<Counter>
    public let inboundDuplicates: MetricFamily<Counter>
    /// Raw webhooks the normalizer could not use, by provider and reason.
    public let inboundDeadLettered: MetricFamily<Counter>

    // MARK: consumers (normalizer, logger, inbox, bot, dead-letters, monitor)

    /// Deliveries by service and outcome (`handled`, `failed`).
    public let consumerDeliveries: MetricFamily<Counter>
    /// Publish (the message's timestamp) to handled, by service.
    public let consumerLag: MetricFamily<CoreMetrics.Timer>
    /// Dead letters archived, by tenant (`-` when none) and reason.
    public let deadLettersArchived: MetricFamily<Counter>
    /// 1 when the session's last known state is connected, else 0; by tenant and session.
    public let sessionConnected: MetricFamily<Meter>

    // MARK: AMQP client, by connection (its service's name)

    public let amqpUp: MetricFamily<Meter>
    public let amqpRecoveries: MetricFamily<Counter>
    public let amqpUnconfirmed: MetricFamily<Meter>
    public let amqpNacked: MetricFamily<Counter>
    public let amqpReturned: MetricFamily<Counter>

    // MARK: store

    /// Writes per group-committed transaction.
    public let storeBatchSize: Recorder
    public let storeCommit: CoreMetrics.Timer

    // MARK: broker view (read from the management API by one service)

    /// Ready and unacknowledged messages by queue, kind (`tenant`, `retry`,
    /// `dead-letter`, `inbound`, `events`, `other`) and tenant (`-` when not a tenant's).
    public let queueReady: MetricFamily<Meter>
    public let queueUnacked: MetricFamily<Meter>
    public let brokerReadErrors: Counter

    public init(factory: any MetricsFactory) {
        httpRequests = .init(counter: MetricName.httpRequests, labels: ["service", "route", "method", "status"],
                             factory: factory)
        httpDuration = .init(timer: MetricName.httpDuration, labels: ["service", "route", "method"], factory: factory)
        apiMessages = .init(counter: MetricName.apiMessages, labels: ["tenant", "outcome", "reason"], factory: factory)
        deliveries = .init(counter: MetricName.deliveries, labels: ["tenant", "outcome"], factory: factory)
        providerCall = .init(timer: MetricName.providerCall, labels: ["provider", "result"], factory: factory)
        slotWait = .init(timer: MetricName.slotWait, labels: ["class"], factory: factory)
        sendLag = .init(timer: MetricName.sendLag, labels: ["class"], factory: factory)
        activeTenants = Meter(label: MetricName.activeTenants, dimensions: [], factory: factory)
        inFlight = Meter(label: MetricName.inFlight, dimensions: [], factory: factory)
        webhooks = .init(counter: MetricName.webhooks, labels: ["provider", "status"], factory: factory)
        webhookConfirm = .init(timer: MetricName.webhookConfirm, labels: ["provider"], factory: factory)
        events = .init(counter: MetricName.events, labels: ["type"], factory: factory)
        inboundDuplicates = .init(counter: MetricName.inboundDuplicates, labels: ["provider"], factory: factory)
        inboundDeadLettered = .init(counter: MetricName.inboundDeadLettered, labels: ["provider", "reason"],
                                    factory: factory)
        consumerDeliveries = .init(counter: MetricName.consumerDeliveries, labels: ["service", "outcome"],
                                   factory: factory)
        consumerLag = .init(timer: MetricName.consumerLag, labels: ["service"], factory: factory)
        deadLettersArchived = .init(counter: MetricName.deadLettersArchived, labels: ["tenant", "reason"],
                                    factory: factory)
        sessionConnected = .init(gauge: MetricName.sessionConnected, labels: ["tenant", "session"], factory: factory)
        amqpUp = .init(gauge: MetricName.amqpUp, labels: ["connection"], factory: factory)
        amqpRecoveries = .init(counter: MetricName.amqpRecoveries, labels: ["connection"], factory: factory)
        amqpUnconfirmed = .init(gauge: MetricName.amqpUnconfirmed, labels: ["connection"], factory: factory)
        amqpNacked = .init(counter: MetricName.amqpNacked, labels: ["connection"], factory: factory)
        amqpReturned = .init(counter: MetricName.amqpReturned, labels: ["connection"], factory: factory)
        storeBatchSize = Recorder(label: MetricName.storeBatchSize, dimensions: [], aggregate: true, factory: factory)
        storeCommit = CoreMetrics.Timer(label: MetricName.storeCommit, dimensions: [], preferredDisplayUnit: .seconds,
                                        factory: factory)
        queueReady = .init(gauge: MetricName.queueReady, labels: ["queue", "kind", "tenant"], factory: factory)
        queueUnacked = .init(gauge: MetricName.queueUnacked, labels: ["queue", "kind", "tenant"], factory: factory)
        brokerReadErrors = Counter(label: MetricName.brokerReadErrors, dimensions: [], factory: factory)
    }
}
