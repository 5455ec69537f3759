/// The log metadata keys of the services, in one place (as postgres-nio keeps its
/// own). Plain strings, so they serve as `Logger.Metadata` keys without this module
/// depending on swift-log. Operators' log queries use these exact spellings: a key
/// is never renamed. The AMQP client's keys are `AMQPLogKey`, under `amqp.`.
public enum LogKey {
    // MARK: Identity: who and what a line is about

    /// The tenant's id.
    public static let tenant = "tenant"
    /// The session's id.
    public static let session = "session"
    /// The gateway's id of a message (its envelope's `id`).
    public static let messageID = "message_id"
    /// The provider's id of a message (its `wamid`, …).
    public static let providerMessageID = "provider_message_id"
    /// The id of a normalized event.
    public static let eventID = "event_id"
    /// A contact's phone number.
    public static let contact = "contact"

    // MARK: What happened

    /// The error (its description) behind a failure.
    public static let error = "error"
    /// Which send or try this is, from 1.
    public static let attempt = "attempt"
    /// The provider of a session (`meta`, `wasender`, …).
    public static let provider = "provider"
    /// A control event's type.
    public static let type = "type"
    /// Why a bulk message was suppressed (opted out, paused).
    public static let reason = "reason"
    /// The dead-letter code of a raw webhook.
    public static let code = "code"
    /// The dead-letter detail of a raw webhook.
    public static let detail = "detail"
    /// Why a part of a webhook was skipped.
    public static let why = "why"
    /// The retry tier a failed send waits in.
    public static let tier = "tier"
    /// Seconds until a failed bot forward is tried again.
    public static let retryInSeconds = "retry_in_s"
    /// Milliseconds a tenant's bot took to answer a forward.
    public static let elapsedMilliseconds = "elapsed_ms"
    /// The bot's reply: the rule's reason, or `sent` or `limited` for a forward's answer.
    public static let reply = "reply"
    /// The bot's change of a contact (opt-out, opt-in).
    public static let contactChange = "contact_change"
    /// `queued` when the bot forwards an event to the tenant's bot.
    public static let forward = "forward"
    /// `true` when the bot's reply was held back by the reply limit.
    public static let limited = "limited"
    /// The state a status event names.
    public static let state = "state"
    /// What the message log did with a status.
    public static let outcome = "outcome"
    /// A conversation's count of unread messages.
    public static let unread = "unread"
    /// How many dedupe memory rows were purged.
    public static let rows = "rows"

    // MARK: Broker and topology

    /// A queue's name.
    public static let queue = "queue"
    /// The RabbitMQ virtual host.
    public static let vhost = "vhost"
    /// Why a queue was declared anew (the broker's refusal of the old declaration).
    public static let was = "was"
    /// How many broker objects a topology apply declared.
    public static let declared = "declared"
    /// How many broker objects a topology apply created.
    public static let created = "created"
    /// How many policies a topology apply wrote.
    public static let policiesWritten = "policies_written"
    /// How many queues a topology apply replaced.
    public static let replaced = "replaced"
    /// How many steps of a topology apply failed.
    public static let failures = "failures"
    /// How many tenants were provisioned or created.
    public static let count = "count"
    /// How many connections (lanes) tenants were provisioned over.
    public static let connections = "connections"
    /// The dispatcher's consumer lane (1, 2, …): the connection a tenant consumer runs on.
    public static let lane = "lane"
    /// The `channel_max` a connection negotiated with the broker.
    public static let channelMax = "channel_max"
    /// A tenant's backlog quota (`none` when unbounded).
    public static let backlogQuota = "backlog_quota"
    /// Whether a tenant was deleted by force.
    public static let forced = "forced"

    // MARK: Process, servers and keys

    /// The service (api, dispatcher, normalizer, …) a logger belongs to.
    public static let service = "service"
    /// The port a server listens on.
    public static let port = "port"
    /// A URL (the simulator's webhook target).
    public static let url = "url"
    /// The id of an api key that was created.
    public static let key = "key"
    /// The scope of an api key (a tenant, or admin).
    public static let scope = "scope"
    /// The id of an api key that was revoked.
    public static let revokedKey = "revoked_key"
    /// A dead letter's archive id.
    public static let deadLetter = "dead_letter"
    /// A replay job's id.
    public static let job = "job"
    /// How many could not be done.
    public static let failed = "failed"
    /// Where the store is (a file path, or a PostgreSQL URL without its password).
    public static let database = "database"
    /// A store migration that was applied.
    public static let migration = "migration"
}
