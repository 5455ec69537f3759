/// The PostgreSQL schema, one entry per shipped change: append a new migration, never
/// edit one that shipped. The tables and columns are the SQLite store's (its own
/// history, v1 to v7, folded into this first one); instants are Unix seconds in
/// `double precision` as there, so both stores share their statements' shape.
enum PostgresMigrations {
    struct Migration {
        let id: String
        let statements: [String]
    }

    static let all: [Migration] = [
        Migration(id: "v1: the schema of SQLite v7", statements: [
            """
            CREATE TABLE tenants (
                id text PRIMARY KEY, name text NOT NULL, session_rate double precision NOT NULL,
                bulk_share double precision NOT NULL, backlog_quota bigint, created_at timestamptz NOT NULL)
            """,
            """
            CREATE TABLE sessions (
                id text PRIMARY KEY, tenant_id text NOT NULL REFERENCES tenants ON DELETE CASCADE,
                provider text NOT NULL, phone_number text NOT NULL, status text NOT NULL,
                is_primary boolean NOT NULL DEFAULT false, sealed_secrets bytea NOT NULL,
                created_at timestamptz NOT NULL)
            """,
            "CREATE INDEX sessions_tenant ON sessions(tenant_id)",
            "CREATE UNIQUE INDEX sessions_one_primary ON sessions(tenant_id) WHERE is_primary",
            """
            CREATE TABLE api_keys (
                id text PRIMARY KEY, tenant_id text REFERENCES tenants ON DELETE CASCADE,
                is_admin boolean NOT NULL, secret_hash bytea NOT NULL, label text, created_at timestamptz NOT NULL,
                CHECK ((is_admin AND tenant_id IS NULL) OR (NOT is_admin AND tenant_id IS NOT NULL)))
            """,
            "CREATE INDEX api_keys_tenant ON api_keys(tenant_id)",
            """
            CREATE TABLE messages (
                tenant_id text NOT NULL REFERENCES tenants ON DELETE CASCADE, id text NOT NULL,
                idempotency_key text NOT NULL, request_hash bytea NOT NULL, session_id text NOT NULL,
                class text NOT NULL, recipient text NOT NULL, type text NOT NULL, campaign text, state text NOT NULL,
                provider_message_id text, error text, expires_at double precision,
                created_at double precision NOT NULL, updated_at double precision NOT NULL, text text,
                PRIMARY KEY (tenant_id, id))
            """,
            "CREATE UNIQUE INDEX messages_idempotency ON messages(tenant_id, idempotency_key)",
            "CREATE INDEX messages_provider_id ON messages(tenant_id, provider_message_id)",
            "CREATE INDEX messages_recipient ON messages(tenant_id, recipient, created_at)",
            """
            CREATE TABLE message_events (
                seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant_id text NOT NULL,
                message_id text NOT NULL, state text NOT NULL, at double precision NOT NULL, detail text,
                FOREIGN KEY (tenant_id, message_id) REFERENCES messages ON DELETE CASCADE)
            """,
            "CREATE INDEX message_events_message ON message_events(tenant_id, message_id)",
            """
            CREATE TABLE pending_statuses (
                tenant_id text NOT NULL, provider_message_id text NOT NULL, state text NOT NULL,
                at double precision NOT NULL, detail text, received_at double precision NOT NULL,
                PRIMARY KEY (tenant_id, provider_message_id, state))
            """,
            """
            CREATE TABLE inbound_messages (
                tenant_id text NOT NULL REFERENCES tenants ON DELETE CASCADE, event_id text NOT NULL,
                session_id text, provider text, provider_message_id text, contact text, chat text, type text,
                text text, message bytea NOT NULL, occurred_at double precision NOT NULL,
                received_at double precision NOT NULL, PRIMARY KEY (tenant_id, event_id))
            """,
            "CREATE INDEX inbound_messages_contact ON inbound_messages(tenant_id, contact, occurred_at)",
            """
            CREATE TABLE inbound_dedupe (event_id text PRIMARY KEY, expires_at double precision NOT NULL)
            """,
            "CREATE INDEX inbound_dedupe_expiry ON inbound_dedupe(expires_at)",
            """
            CREATE TABLE contacts (
                tenant_id text NOT NULL REFERENCES tenants ON DELETE CASCADE, number text NOT NULL,
                opted_out boolean NOT NULL DEFAULT false, opted_out_at double precision,
                paused_until double precision, updated_at double precision NOT NULL,
                PRIMARY KEY (tenant_id, number))
            """,
            "CREATE INDEX contacts_opted_out ON contacts(opted_out) WHERE opted_out",
            "CREATE INDEX contacts_paused ON contacts(paused_until)",
            """
            CREATE TABLE conversations (
                tenant_id text NOT NULL REFERENCES tenants ON DELETE CASCADE, contact text NOT NULL,
                session_id text, state text NOT NULL, unread bigint NOT NULL, assignee text, contact_name text,
                last_message_at double precision NOT NULL, last_direction text NOT NULL, last_preview text,
                opened_at double precision NOT NULL, updated_at double precision NOT NULL,
                PRIMARY KEY (tenant_id, contact))
            """,
            "CREATE INDEX conversations_recent ON conversations(tenant_id, last_message_at)",
            """
            CREATE TABLE event_receipts (
                consumer text NOT NULL, tenant_id text NOT NULL, event_id text NOT NULL,
                at double precision NOT NULL, pending bytea, PRIMARY KEY (consumer, tenant_id, event_id))
            """,
            "CREATE INDEX event_receipts_at ON event_receipts(at)",
            """
            CREATE TABLE bot_settings (
                tenant_id text PRIMARY KEY REFERENCES tenants ON DELETE CASCADE, sealed bytea NOT NULL,
                updated_at double precision NOT NULL)
            """,
            """
            CREATE TABLE bot_rules (
                tenant_id text NOT NULL REFERENCES tenants ON DELETE CASCADE, id text NOT NULL,
                keywords text NOT NULL, reply text NOT NULL, created_at double precision NOT NULL,
                PRIMARY KEY (tenant_id, id))
            """,
            """
            CREATE TABLE bot_replies (
                tenant_id text NOT NULL REFERENCES tenants ON DELETE CASCADE, contact text NOT NULL,
                reason text NOT NULL, at double precision NOT NULL)
            """,
            "CREATE INDEX bot_replies_contact ON bot_replies(tenant_id, contact, at)",
            """
            CREATE TABLE bot_forwards (
                tenant_id text NOT NULL REFERENCES tenants ON DELETE CASCADE, event_id text NOT NULL,
                payload bytea NOT NULL, attempts bigint NOT NULL, due_at double precision NOT NULL,
                lease_until double precision, PRIMARY KEY (tenant_id, event_id))
            """,
            "CREATE INDEX bot_forwards_due ON bot_forwards(due_at)",
            """
            CREATE TABLE dead_letters (
                id text PRIMARY KEY, fingerprint text NOT NULL UNIQUE, tenant_id text NOT NULL, source text NOT NULL,
                exchange text NOT NULL, routing_key text NOT NULL, original_exchange text,
                original_routing_key text, reason text NOT NULL, error_code text NOT NULL DEFAULT '', detail text,
                attempts bigint NOT NULL, first_failed_at double precision, last_failed_at double precision,
                message_id text, session_id text NOT NULL DEFAULT '', provider text NOT NULL DEFAULT '',
                death_history bytea NOT NULL, headers bytea NOT NULL, properties bytea NOT NULL, body bytea NOT NULL,
                archived_at double precision NOT NULL, state text NOT NULL, replays bigint NOT NULL DEFAULT 0,
                replayed_at double precision, discarded_at double precision, resolved_at double precision,
                job_id text, replay_error text)
            """,
            "CREATE INDEX dead_letters_by_tenant ON dead_letters(tenant_id, state, archived_at DESC, id DESC)",
            "CREATE INDEX dead_letters_by_state ON dead_letters(state, archived_at DESC, id DESC)",
            "CREATE INDEX dead_letters_by_group ON dead_letters(tenant_id, reason, error_code, state)",
            "CREATE INDEX dead_letters_resolved ON dead_letters(resolved_at) WHERE resolved_at IS NOT NULL",
            "CREATE INDEX dead_letters_by_job ON dead_letters(job_id, archived_at) WHERE job_id IS NOT NULL",
            """
            CREATE TABLE dead_letter_groups (
                tenant_id text NOT NULL, reason text NOT NULL, error_code text NOT NULL, session_id text NOT NULL,
                provider text NOT NULL, count bigint NOT NULL, total bigint NOT NULL,
                first_seen double precision NOT NULL, last_seen double precision NOT NULL,
                PRIMARY KEY (tenant_id, reason, error_code, session_id, provider))
            """,
            """
            CREATE TABLE replay_jobs (
                id text PRIMARY KEY, tenant_id text, session_id text, state text NOT NULL, total bigint NOT NULL,
                replayed bigint NOT NULL, failed bigint NOT NULL, created_at double precision NOT NULL,
                updated_at double precision NOT NULL, lease_until double precision, actor text NOT NULL)
            """,
            """
            CREATE TABLE audit_log (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at double precision NOT NULL,
                actor_id text NOT NULL, actor_label text, tenant_id text, action text NOT NULL, target text NOT NULL,
                count bigint NOT NULL)
            """,
            "CREATE INDEX audit_log_by_tenant ON audit_log(tenant_id, id DESC)",
            """
            CREATE TABLE session_status_history (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, session_id text NOT NULL,
                tenant_id text NOT NULL, status text NOT NULL, at double precision NOT NULL, source text NOT NULL,
                report_id text NOT NULL)
            """,
            "CREATE INDEX session_status_history_by_session ON session_status_history(session_id, at)",
            """
            CREATE TABLE session_health (
                session_id text PRIMARY KEY REFERENCES sessions ON DELETE CASCADE, tenant_id text NOT NULL,
                status_at double precision, down_since double precision, alerted_at double precision,
                last_sent_at double precision, quality_rating text, messaging_limit_tier text)
            """,
            "CREATE INDEX session_health_down ON session_health(down_since) WHERE down_since IS NOT NULL",
            """
            CREATE TABLE service_instances (
                instance text PRIMARY KEY, services text NOT NULL, version text NOT NULL, host text NOT NULL,
                pid bigint NOT NULL, started_at double precision NOT NULL, last_seen double precision NOT NULL)
            """,
        ]),
        // The hot path's writes as functions, so a batch of them is one round trip whose
        // every row is found by its key: the dispatcher's record of a send (instead of
        // seven statements), and the api's queued marks (one update per message by primary
        // key, whatever the planner would make of a join with a batch).
        Migration(id: "v2: switchboard_record_message, switchboard_mark_queued", statements: [
            """
            CREATE FUNCTION switchboard_mark_queued(p_tenants text[], p_ids text[], p_at double precision[])
            RETURNS void LANGUAGE plpgsql AS $$
            BEGIN
                FOR i IN 1 .. coalesce(array_length(p_ids, 1), 0) LOOP
                    UPDATE messages SET state = 'queued', updated_at = p_at[i]
                    WHERE tenant_id = p_tenants[i] AND id = p_ids[i] AND state IN ('accepting', 'unconfirmed');
                    IF FOUND THEN
                        INSERT INTO message_events (tenant_id, message_id, state, at)
                        VALUES (p_tenants[i], p_ids[i], 'queued', p_at[i]);
                    END IF;
                END LOOP;
            END
            $$
            """,
            """
            CREATE FUNCTION switchboard_record_message(
                p_tenant text, p_id text, p_session text, p_class text, p_recipient text, p_type text,
                p_campaign text, p_state text, p_provider_id text, p_error text, p_expires_at double precision,
                p_at double precision, p_text text, p_detail text, p_touch_session boolean) RETURNS boolean
            LANGUAGE plpgsql AS $$
            DECLARE
                v_inserted boolean := false;
                v_count integer;
            BEGIN
                -- The lock of the provider id first (then the row), as a status for it takes them.
                IF p_provider_id IS NOT NULL THEN
                    PERFORM pg_advisory_xact_lock(
                        hashtextextended('provider-message:' || p_tenant || ':' || p_provider_id, 0));
                END IF;
                -- A message that came over AMQP gets its row; one whose session is unknown cannot.
                IF p_session IS NOT NULL THEN
                    INSERT INTO messages (tenant_id, id, idempotency_key, request_hash, session_id, class, recipient,
                        type, campaign, state, provider_message_id, error, expires_at, created_at, updated_at, text)
                    VALUES (p_tenant, p_id, 'amqp:' || p_id, ''::bytea, p_session, p_class, p_recipient, p_type,
                        p_campaign, p_state, p_provider_id, p_error, p_expires_at, p_at, p_at, p_text)
                    ON CONFLICT DO NOTHING;
                    GET DIAGNOSTICS v_count = ROW_COUNT;
                    v_inserted := v_count > 0;
                END IF;
                IF NOT v_inserted THEN
                    UPDATE messages SET state = p_state, provider_message_id = coalesce(p_provider_id, provider_message_id),
                        error = p_error, updated_at = p_at
                    WHERE tenant_id = p_tenant AND id = p_id
                        AND state IN ('accepting', 'unconfirmed', 'queued', 'failed', 'expired');
                    GET DIAGNOSTICS v_count = ROW_COUNT;
                    IF v_count = 0 THEN
                        -- Already further on (never backwards): only the provider id may be new.
                        IF p_provider_id IS NOT NULL THEN
                            UPDATE messages SET provider_message_id = p_provider_id
                            WHERE tenant_id = p_tenant AND id = p_id AND provider_message_id IS NULL;
                            RETURN EXISTS (SELECT 1 FROM pending_statuses
                                           WHERE tenant_id = p_tenant AND provider_message_id = p_provider_id);
                        END IF;
                        RETURN false;
                    END IF;
                END IF;
                INSERT INTO message_events (tenant_id, message_id, state, at, detail)
                VALUES (p_tenant, p_id, p_state, p_at, p_detail);
                -- The session's last send, for the health view: a batch touches each session once.
                IF p_state = 'sent' AND p_session IS NOT NULL AND p_touch_session THEN
                    INSERT INTO session_health (session_id, tenant_id, last_sent_at)
                    SELECT id, tenant_id, p_at FROM sessions WHERE id = p_session
                    ON CONFLICT (session_id) DO UPDATE SET
                        last_sent_at = greatest(coalesce(session_health.last_sent_at, 0), excluded.last_sent_at);
                END IF;
                -- True: statuses that came before the provider id wait to be applied.
                RETURN p_provider_id IS NOT NULL AND EXISTS (
                    SELECT 1 FROM pending_statuses WHERE tenant_id = p_tenant AND provider_message_id = p_provider_id);
            END
            $$
            """,
        ]),
    ]
}
