// CAMQPShim: the few librabbitmq operations Swift cannot call or should not touch.
//
// - login: `amqp_login_with_properties` is variadic;
// - field tables: building nested `amqp_table_t` values in arena memory;
// - events: waiting on the socket and a wake descriptor together, and decoding the
//   asynchronous frames (deliveries, publisher confirms, returns, closes) into one
//   flat struct. rabbitmq-c 0.11 has no `amqp_publisher_confirm_wait`.
//
// Every exported symbol carries the `CAMQPShim_` prefix.
#ifndef CAMQP_SHIM_H
#define CAMQP_SHIM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/eventfd.h>  // the wake descriptor of a connection thread
#include <amqp.h>
#include <amqp_framing.h>

#ifdef __cplusplus
extern "C" {
#endif

// MARK: Login

/// Logs in with SASL PLAIN, announcing the capabilities the Swift client relies on
/// (publisher confirms, consumer cancel notifications, connection.blocked,
/// authentication_failure_close) and a connection name that operators see.
amqp_rpc_reply_t CAMQPShim_login_plain(amqp_connection_state_t conn,
                                       const char *vhost, int channel_max,
                                       int frame_max, int heartbeat_seconds,
                                       const char *connection_name,
                                       const char *user, const char *password);

// MARK: Arena (memory for one outgoing method's strings and tables)

typedef struct CAMQPShim_arena CAMQPShim_arena;

CAMQPShim_arena *CAMQPShim_arena_create(void);
void CAMQPShim_arena_destroy(CAMQPShim_arena *arena);
/// Frees everything allocated since the last reset, keeping the first block.
void CAMQPShim_arena_reset(CAMQPShim_arena *arena);
/// Copies `len` bytes into the arena; `.bytes` is NULL on allocation failure.
amqp_bytes_t CAMQPShim_arena_bytes(CAMQPShim_arena *arena, const void *data, size_t len);

// MARK: Field tables (headers, queue and exchange arguments)

/// Allocates `count` entries for `table`. Returns 0, or -1 when out of memory.
int CAMQPShim_table_init(CAMQPShim_arena *arena, amqp_table_t *table, size_t count);
/// Names entry `index` and returns its value slot to fill, or NULL when out of memory.
amqp_field_value_t *CAMQPShim_table_entry(CAMQPShim_arena *arena, amqp_table_t *table,
                                          size_t index, const void *key, size_t key_len);
int CAMQPShim_array_init(CAMQPShim_arena *arena, amqp_array_t *array, size_t count);
amqp_field_value_t *CAMQPShim_array_entry(amqp_array_t *array, size_t index);

void CAMQPShim_value_set_void(amqp_field_value_t *value);
void CAMQPShim_value_set_bool(amqp_field_value_t *value, int flag);
void CAMQPShim_value_set_i8(amqp_field_value_t *value, int8_t number);
void CAMQPShim_value_set_i16(amqp_field_value_t *value, int16_t number);
void CAMQPShim_value_set_i32(amqp_field_value_t *value, int32_t number);
void CAMQPShim_value_set_i64(amqp_field_value_t *value, int64_t number);
void CAMQPShim_value_set_f32(amqp_field_value_t *value, float number);
void CAMQPShim_value_set_f64(amqp_field_value_t *value, double number);
void CAMQPShim_value_set_timestamp(amqp_field_value_t *value, uint64_t seconds);
void CAMQPShim_value_set_decimal(amqp_field_value_t *value, uint8_t decimals, uint32_t number);
/// Long string (`S`) or byte array (`x`); copies into the arena. Returns 0 or -1.
int CAMQPShim_value_set_utf8(CAMQPShim_arena *arena, amqp_field_value_t *value,
                             const void *data, size_t len);
int CAMQPShim_value_set_bytes(CAMQPShim_arena *arena, amqp_field_value_t *value,
                              const void *data, size_t len);
/// Turns the slot into a table or array and returns it, for `_init` and entries.
amqp_table_t *CAMQPShim_value_set_table(amqp_field_value_t *value);
amqp_array_t *CAMQPShim_value_set_array(amqp_field_value_t *value);

// MARK: Events

typedef enum CAMQPShim_event_kind {
  CAMQPShim_EVENT_NONE = 0,          ///< nothing complete arrived before the timeout
  CAMQPShim_EVENT_WAKE = 1,          ///< the wake descriptor was signalled (and drained)
  CAMQPShim_EVENT_DELIVER = 2,       ///< basic.deliver with its message
  CAMQPShim_EVENT_RETURN = 3,        ///< basic.return with its message (mandatory, unroutable)
  CAMQPShim_EVENT_ACK = 4,           ///< publisher confirm: basic.ack
  CAMQPShim_EVENT_NACK = 5,          ///< publisher confirm: basic.nack
  CAMQPShim_EVENT_CANCEL = 6,        ///< broker cancelled a consumer (queue deleted, …)
  CAMQPShim_EVENT_CHANNEL_CLOSE = 7, ///< broker closed a channel; close-ok already sent
  CAMQPShim_EVENT_CONNECTION_CLOSE = 8, ///< broker closed the connection; close-ok sent
  CAMQPShim_EVENT_BLOCKED = 9,       ///< connection.blocked (resource alarm)
  CAMQPShim_EVENT_UNBLOCKED = 10,
  CAMQPShim_EVENT_OTHER = 11,        ///< any other frame; `method_id` says which
} CAMQPShim_event_kind;

/// One decoded asynchronous event. Byte fields point into librabbitmq's channel
/// pool or the message's own pool: copy them before `CAMQPShim_event_finish`.
typedef struct CAMQPShim_event {
  CAMQPShim_event_kind kind;
  amqp_channel_t channel;
  amqp_method_number_t method_id;
  uint64_t delivery_tag;
  int multiple;
  int requeue;
  int redelivered;
  amqp_bytes_t consumer_tag;
  amqp_bytes_t exchange;
  amqp_bytes_t routing_key;
  uint16_t reply_code;
  amqp_bytes_t reply_text;
  uint16_t failing_class_id;
  uint16_t failing_method_id;
  int has_message;
  amqp_message_t message;
} CAMQPShim_event;

/// Waits up to `timeout_ms` (0: do not wait) for the next event from the broker or
/// for `wake_fd` (an eventfd, or -1) to be signalled. Also sends heartbeats that are
/// due and notices missed ones. Returns AMQP_STATUS_OK (see `event->kind`) or a
/// negative amqp_status_enum when the connection failed.
int CAMQPShim_next_event(amqp_connection_state_t conn, int wake_fd, int timeout_ms,
                         CAMQPShim_event *event);

/// Releases the message and the channel's frame memory that `event` points into.
void CAMQPShim_event_finish(amqp_connection_state_t conn, CAMQPShim_event *event);

// MARK: Replies

/// For an AMQP_RESPONSE_SERVER_EXCEPTION reply: 1 if it is channel.close, 2 if
/// connection.close (0 otherwise), with code, text and the failing method. Answers
/// the close with its close-ok so the channel or connection can be cleaned up.
int CAMQPShim_server_exception(amqp_connection_state_t conn, amqp_channel_t channel,
                               amqp_rpc_reply_t reply, uint16_t *code,
                               amqp_bytes_t *text, uint16_t *class_id,
                               uint16_t *method_id);

// MARK: Batching

/// Holds back partial TCP segments (TCP_CORK) while a batch of publishes is written,
/// so the broker reads a few large segments instead of one per frame; uncorking
/// sends what is pending at once.
void CAMQPShim_cork(amqp_connection_state_t conn, int corked);

#ifdef __cplusplus
}
#endif
#endif
