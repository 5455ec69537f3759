public import CoreMetrics

/// Every metric name the gateway emits, in one place: docs/observability.md, the alert
/// rules and the dashboard are written against these.
public enum MetricName: String, CaseIterable, Sendable {
    case httpRequests = "http_server_requests_total"
    case httpDuration = "http_server_request_duration_seconds"
    case apiMessages = "switchboard_api_messages_total"
    case deliveries = "switchboard_deliveries_total"
    case providerCall = "switchboard_provider_call_duration_seconds"
    case slotWait = "switchboard_session_slot_wait_seconds"
    case sendLag = "switchboard_send_lag_seconds"
    case activeTenants = "switchboard_dispatcher_active_tenants"
    case inFlight = "switchboard_dispatcher_in_flight"
    case webhooks = "switchboard_webhooks_total"
    case webhookConfirm = "switchboard_webhook_confirm_duration_seconds"
    case events = "switchboard_events_published_total"
    case inboundDuplicates = "switchboard_inbound_duplicates_total"
    case inboundDeadLettered = "switchboard_inbound_dead_lettered_total"
    case consumerDeliveries = "switchboard_consumer_deliveries_total"
    case consumerLag = "switchboard_consumer_lag_seconds"
    case deadLettersArchived = "switchboard_dead_letters_archived_total"
    case sessionConnected = "switchboard_session_connected"
    case amqpUp = "switchboard_amqp_connection_up"
    case amqpRecoveries = "switchboard_amqp_recoveries_total"
    case amqpUnconfirmed = "switchboard_amqp_unconfirmed_publishes"
    case amqpNacked = "switchboard_amqp_publishes_nacked_total"
    case amqpReturned = "switchboard_amqp_publishes_returned_total"
    case storeBatchSize = "switchboard_store_batch_size"
    case storeCommit = "switchboard_store_commit_duration_seconds"
    case queueReady = "switchboard_queue_messages_ready"
    case queueUnacked = "switchboard_queue_messages_unacked"
    case brokerReadErrors = "switchboard_broker_view_errors_total"
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
    /// Receipt to a 200 (after the broker's confirm: what the provider waits for), by provider.
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
        httpRequests = .init(counter: MetricName.httpRequests.rawValue, labels: ["service", "route", "method", "status"],
                             factory: factory)
        httpDuration = .init(timer: MetricName.httpDuration.rawValue, labels: ["service", "route", "method"], factory: factory)
        apiMessages = .init(counter: MetricName.apiMessages.rawValue, labels: ["tenant", "outcome", "reason"], factory: factory)
        deliveries = .init(counter: MetricName.deliveries.rawValue, labels: ["tenant", "outcome"], factory: factory)
        providerCall = .init(timer: MetricName.providerCall.rawValue, labels: ["provider", "result"], factory: factory)
        slotWait = .init(timer: MetricName.slotWait.rawValue, labels: ["class"], factory: factory)
        sendLag = .init(timer: MetricName.sendLag.rawValue, labels: ["class"], factory: factory)
        activeTenants = Meter(label: MetricName.activeTenants.rawValue, dimensions: [], factory: factory)
        inFlight = Meter(label: MetricName.inFlight.rawValue, dimensions: [], factory: factory)
        webhooks = .init(counter: MetricName.webhooks.rawValue, labels: ["provider", "status"], factory: factory)
        webhookConfirm = .init(timer: MetricName.webhookConfirm.rawValue, labels: ["provider"], factory: factory)
        events = .init(counter: MetricName.events.rawValue, labels: ["type"], factory: factory)
        inboundDuplicates = .init(counter: MetricName.inboundDuplicates.rawValue, labels: ["provider"], factory: factory)
        inboundDeadLettered = .init(counter: MetricName.inboundDeadLettered.rawValue, labels: ["provider", "reason"],
                                    factory: factory)
        consumerDeliveries = .init(counter: MetricName.consumerDeliveries.rawValue, labels: ["service", "outcome"],
                                   factory: factory)
        consumerLag = .init(timer: MetricName.consumerLag.rawValue, labels: ["service"], factory: factory)
        deadLettersArchived = .init(counter: MetricName.deadLettersArchived.rawValue, labels: ["tenant", "reason"],
                                    factory: factory)
        sessionConnected = .init(gauge: MetricName.sessionConnected.rawValue, labels: ["tenant", "session"], factory: factory)
        amqpUp = .init(gauge: MetricName.amqpUp.rawValue, labels: ["connection"], factory: factory)
        amqpRecoveries = .init(counter: MetricName.amqpRecoveries.rawValue, labels: ["connection"], factory: factory)
        amqpUnconfirmed = .init(gauge: MetricName.amqpUnconfirmed.rawValue, labels: ["connection"], factory: factory)
        amqpNacked = .init(counter: MetricName.amqpNacked.rawValue, labels: ["connection"], factory: factory)
        amqpReturned = .init(counter: MetricName.amqpReturned.rawValue, labels: ["connection"], factory: factory)
        storeBatchSize = Recorder(label: MetricName.storeBatchSize.rawValue, dimensions: [], aggregate: true, factory: factory)
        storeCommit = CoreMetrics.Timer(label: MetricName.storeCommit.rawValue, dimensions: [], preferredDisplayUnit: .seconds,
                                        factory: factory)
        queueReady = .init(gauge: MetricName.queueReady.rawValue, labels: ["queue", "kind", "tenant"], factory: factory)
        queueUnacked = .init(gauge: MetricName.queueUnacked.rawValue, labels: ["queue", "kind", "tenant"], factory: factory)
        brokerReadErrors = Counter(label: MetricName.brokerReadErrors.rawValue, dimensions: [], factory: factory)
    }
}
