#include "CAMQPShim.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// MARK: Login

amqp_rpc_reply_t CAMQPShim_login_plain(amqp_connection_state_t conn,
                                       const char *vhost, int channel_max,
                                       int frame_max, int heartbeat_seconds,
                                       const char *connection_name,
                                       const char *user, const char *password) {
  amqp_table_entry_t capabilities[6] = {
      {.key = amqp_cstring_bytes("publisher_confirms"),
       .value = {.kind = AMQP_FIELD_KIND_BOOLEAN, .value = {.boolean = 1}}},
      {.key = amqp_cstring_bytes("consumer_cancel_notify"),
       .value = {.kind = AMQP_FIELD_KIND_BOOLEAN, .value = {.boolean = 1}}},
      {.key = amqp_cstring_bytes("basic.nack"),
       .value = {.kind = AMQP_FIELD_KIND_BOOLEAN, .value = {.boolean = 1}}},
      {.key = amqp_cstring_bytes("connection.blocked"),
       .value = {.kind = AMQP_FIELD_KIND_BOOLEAN, .value = {.boolean = 1}}},
      {.key = amqp_cstring_bytes("authentication_failure_close"),
       .value = {.kind = AMQP_FIELD_KIND_BOOLEAN, .value = {.boolean = 1}}},
      {.key = amqp_cstring_bytes("exchange_exchange_bindings"),
       .value = {.kind = AMQP_FIELD_KIND_BOOLEAN, .value = {.boolean = 1}}},
  };
  amqp_table_entry_t properties[3] = {
      {.key = amqp_cstring_bytes("product"),
       .value = {.kind = AMQP_FIELD_KIND_UTF8,
                 .value = {.bytes = amqp_cstring_bytes("switchboard")}}},
      {.key = amqp_cstring_bytes("connection_name"),
       .value = {.kind = AMQP_FIELD_KIND_UTF8,
                 .value = {.bytes = amqp_cstring_bytes(
                               connection_name ? connection_name : "switchboard")}}},
      {.key = amqp_cstring_bytes("capabilities"),
       .value = {.kind = AMQP_FIELD_KIND_TABLE,
                 .value = {.table = {.num_entries = 6, .entries = capabilities}}}},
  };
  amqp_table_t client_properties = {.num_entries = 3, .entries = properties};
  return amqp_login_with_properties(conn, vhost, channel_max, frame_max,
                                    heartbeat_seconds, &client_properties,
                                    AMQP_SASL_METHOD_PLAIN, user, password);
}

// MARK: Arena

struct CAMQPShim_arena {
  amqp_pool_t pool;
};

CAMQPShim_arena *CAMQPShim_arena_create(void) {
  CAMQPShim_arena *arena = malloc(sizeof(CAMQPShim_arena));
  if (arena != NULL) {
    init_amqp_pool(&arena->pool, 16384);
  }
  return arena;
}

void CAMQPShim_arena_destroy(CAMQPShim_arena *arena) {
  if (arena != NULL) {
    empty_amqp_pool(&arena->pool);
    free(arena);
  }
}

void CAMQPShim_arena_reset(CAMQPShim_arena *arena) { recycle_amqp_pool(&arena->pool); }

amqp_bytes_t CAMQPShim_arena_bytes(CAMQPShim_arena *arena, const void *data, size_t len) {
  amqp_bytes_t out = {.len = len, .bytes = NULL};
  if (len == 0) {
    out.bytes = (void *)"";
    return out;
  }
  out.bytes = amqp_pool_alloc(&arena->pool, len);
  if (out.bytes != NULL) {
    memcpy(out.bytes, data, len);
  }
  return out;
}

// MARK: Field tables

int CAMQPShim_table_init(CAMQPShim_arena *arena, amqp_table_t *table, size_t count) {
  table->num_entries = (int)count;
  table->entries = NULL;
  if (count == 0) {
    return 0;
  }
  table->entries = amqp_pool_alloc(&arena->pool, sizeof(amqp_table_entry_t) * count);
  if (table->entries == NULL) {
    table->num_entries = 0;
    return -1;
  }
  memset(table->entries, 0, sizeof(amqp_table_entry_t) * count);
  return 0;
}

amqp_field_value_t *CAMQPShim_table_entry(CAMQPShim_arena *arena, amqp_table_t *table,
                                          size_t index, const void *key, size_t key_len) {
  amqp_table_entry_t *entry = &table->entries[index];
  entry->key = CAMQPShim_arena_bytes(arena, key, key_len);
  if (entry->key.bytes == NULL) {
    return NULL;
  }
  entry->value.kind = AMQP_FIELD_KIND_VOID;
  return &entry->value;
}

int CAMQPShim_array_init(CAMQPShim_arena *arena, amqp_array_t *array, size_t count) {
  array->num_entries = (int)count;
  array->entries = NULL;
  if (count == 0) {
    return 0;
  }
  array->entries = amqp_pool_alloc(&arena->pool, sizeof(amqp_field_value_t) * count);
  if (array->entries == NULL) {
    array->num_entries = 0;
    return -1;
  }
  memset(array->entries, 0, sizeof(amqp_field_value_t) * count);
  return 0;
}

amqp_field_value_t *CAMQPShim_array_entry(amqp_array_t *array, size_t index) {
  return &array->entries[index];
}

void CAMQPShim_value_set_void(amqp_field_value_t *v) { v->kind = AMQP_FIELD_KIND_VOID; }
void CAMQPShim_value_set_bool(amqp_field_value_t *v, int flag) {
  v->kind = AMQP_FIELD_KIND_BOOLEAN;
  v->value.boolean = flag ? 1 : 0;
}
void CAMQPShim_value_set_i8(amqp_field_value_t *v, int8_t n) {
  v->kind = AMQP_FIELD_KIND_I8;
  v->value.i8 = n;
}
void CAMQPShim_value_set_i16(amqp_field_value_t *v, int16_t n) {
  v->kind = AMQP_FIELD_KIND_I16;
  v->value.i16 = n;
}
void CAMQPShim_value_set_i32(amqp_field_value_t *v, int32_t n) {
  v->kind = AMQP_FIELD_KIND_I32;
  v->value.i32 = n;
}
void CAMQPShim_value_set_i64(amqp_field_value_t *v, int64_t n) {
  v->kind = AMQP_FIELD_KIND_I64;
  v->value.i64 = n;
}
void CAMQPShim_value_set_f32(amqp_field_value_t *v, float n) {
  v->kind = AMQP_FIELD_KIND_F32;
  v->value.f32 = n;
}
void CAMQPShim_value_set_f64(amqp_field_value_t *v, double n) {
  v->kind = AMQP_FIELD_KIND_F64;
  v->value.f64 = n;
}
void CAMQPShim_value_set_timestamp(amqp_field_value_t *v, uint64_t seconds) {
  v->kind = AMQP_FIELD_KIND_TIMESTAMP;
  v->value.u64 = seconds;
}
void CAMQPShim_value_set_decimal(amqp_field_value_t *v, uint8_t decimals, uint32_t n) {
  v->kind = AMQP_FIELD_KIND_DECIMAL;
  v->value.decimal.decimals = decimals;
  v->value.decimal.value = n;
}
int CAMQPShim_value_set_utf8(CAMQPShim_arena *arena, amqp_field_value_t *v,
                             const void *data, size_t len) {
  v->kind = AMQP_FIELD_KIND_UTF8;
  v->value.bytes = CAMQPShim_arena_bytes(arena, data, len);
  return v->value.bytes.bytes == NULL ? -1 : 0;
}
int CAMQPShim_value_set_bytes(CAMQPShim_arena *arena, amqp_field_value_t *v,
                              const void *data, size_t len) {
  v->kind = AMQP_FIELD_KIND_BYTES;
  v->value.bytes = CAMQPShim_arena_bytes(arena, data, len);
  return v->value.bytes.bytes == NULL ? -1 : 0;
}
amqp_table_t *CAMQPShim_value_set_table(amqp_field_value_t *v) {
  v->kind = AMQP_FIELD_KIND_TABLE;
  v->value.table.num_entries = 0;
  v->value.table.entries = NULL;
  return &v->value.table;
}
amqp_array_t *CAMQPShim_value_set_array(amqp_field_value_t *v) {
  v->kind = AMQP_FIELD_KIND_ARRAY;
  v->value.array.num_entries = 0;
  v->value.array.entries = NULL;
  return &v->value.array;
}

// MARK: Events

static int read_message(amqp_connection_state_t conn, CAMQPShim_event *event) {
  amqp_rpc_reply_t reply = amqp_read_message(conn, event->channel, &event->message, 0);
  if (reply.reply_type == AMQP_RESPONSE_NORMAL) {
    event->has_message = 1;
    return AMQP_STATUS_OK;
  }
  if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && reply.library_error != 0) {
    return reply.library_error;
  }
  return AMQP_STATUS_UNEXPECTED_STATE;
}

static int decode_frame(amqp_connection_state_t conn, const amqp_frame_t *frame,
                        CAMQPShim_event *event) {
  event->channel = frame->channel;
  if (frame->frame_type != AMQP_FRAME_METHOD) {
    event->kind = CAMQPShim_EVENT_OTHER;
    return AMQP_STATUS_OK;
  }
  event->method_id = frame->payload.method.id;
  void *decoded = frame->payload.method.decoded;
  switch (frame->payload.method.id) {
    case AMQP_BASIC_DELIVER_METHOD: {
      amqp_basic_deliver_t *m = decoded;
      event->kind = CAMQPShim_EVENT_DELIVER;
      event->consumer_tag = m->consumer_tag;
      event->delivery_tag = m->delivery_tag;
      event->redelivered = m->redelivered;
      event->exchange = m->exchange;
      event->routing_key = m->routing_key;
      return read_message(conn, event);
    }
    case AMQP_BASIC_RETURN_METHOD: {
      amqp_basic_return_t *m = decoded;
      event->kind = CAMQPShim_EVENT_RETURN;
      event->reply_code = m->reply_code;
      event->reply_text = m->reply_text;
      event->exchange = m->exchange;
      event->routing_key = m->routing_key;
      return read_message(conn, event);
    }
    case AMQP_BASIC_ACK_METHOD: {
      amqp_basic_ack_t *m = decoded;
      event->kind = CAMQPShim_EVENT_ACK;
      event->delivery_tag = m->delivery_tag;
      event->multiple = m->multiple;
      return AMQP_STATUS_OK;
    }
    case AMQP_BASIC_NACK_METHOD: {
      amqp_basic_nack_t *m = decoded;
      event->kind = CAMQPShim_EVENT_NACK;
      event->delivery_tag = m->delivery_tag;
      event->multiple = m->multiple;
      event->requeue = m->requeue;
      return AMQP_STATUS_OK;
    }
    case AMQP_BASIC_CANCEL_METHOD: {
      amqp_basic_cancel_t *m = decoded;
      event->kind = CAMQPShim_EVENT_CANCEL;
      event->consumer_tag = m->consumer_tag;
      return AMQP_STATUS_OK;
    }
    case AMQP_CHANNEL_CLOSE_METHOD: {
      amqp_channel_close_t *m = decoded;
      event->kind = CAMQPShim_EVENT_CHANNEL_CLOSE;
      event->reply_code = m->reply_code;
      event->reply_text = m->reply_text;
      event->failing_class_id = m->class_id;
      event->failing_method_id = m->method_id;
      amqp_channel_close_ok_t ok = {0};
      return amqp_send_method(conn, frame->channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
    }
    case AMQP_CONNECTION_CLOSE_METHOD: {
      amqp_connection_close_t *m = decoded;
      event->kind = CAMQPShim_EVENT_CONNECTION_CLOSE;
      event->reply_code = m->reply_code;
      event->reply_text = m->reply_text;
      event->failing_class_id = m->class_id;
      event->failing_method_id = m->method_id;
      amqp_connection_close_ok_t ok = {0};
      (void)amqp_send_method(conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
      return AMQP_STATUS_OK;
    }
    case AMQP_CONNECTION_BLOCKED_METHOD: {
      amqp_connection_blocked_t *m = decoded;
      event->kind = CAMQPShim_EVENT_BLOCKED;
      event->reply_text = m->reason;
      return AMQP_STATUS_OK;
    }
    case AMQP_CONNECTION_UNBLOCKED_METHOD:
      event->kind = CAMQPShim_EVENT_UNBLOCKED;
      return AMQP_STATUS_OK;
    default:
      event->kind = CAMQPShim_EVENT_OTHER;
      return AMQP_STATUS_OK;
  }
}

static int read_ready_frame(amqp_connection_state_t conn, CAMQPShim_event *event) {
  struct timeval now = {0, 0};
  amqp_frame_t frame;
  int status = amqp_simple_wait_frame_noblock(conn, &frame, &now);
  if (status == AMQP_STATUS_TIMEOUT) {
    event->kind = CAMQPShim_EVENT_NONE;  // a partial frame, or only a heartbeat
    return AMQP_STATUS_OK;
  }
  if (status != AMQP_STATUS_OK) {
    return status;
  }
  return decode_frame(conn, &frame, event);
}

int CAMQPShim_next_event(amqp_connection_state_t conn, int wake_fd, int timeout_ms,
                         CAMQPShim_event *event) {
  memset(event, 0, sizeof(*event));
  if (amqp_frames_enqueued(conn) || amqp_data_in_buffer(conn)) {
    return read_ready_frame(conn, event);
  }
  int sockfd = amqp_get_sockfd(conn);
  if (sockfd < 0) {
    return AMQP_STATUS_SOCKET_CLOSED;
  }
  struct pollfd fds[2] = {{.fd = sockfd, .events = POLLIN},
                          {.fd = wake_fd, .events = POLLIN}};
  int ready = poll(fds, wake_fd >= 0 ? 2 : 1, timeout_ms);
  if (ready < 0) {
    if (errno == EINTR) {
      event->kind = CAMQPShim_EVENT_NONE;
      return AMQP_STATUS_OK;
    }
    return AMQP_STATUS_SOCKET_ERROR;
  }
  if (wake_fd >= 0 && (fds[1].revents & POLLIN)) {
    uint64_t counter;
    while (read(wake_fd, &counter, sizeof(counter)) > 0) {
    }
    if (!(fds[0].revents & (POLLIN | POLLERR | POLLHUP))) {
      event->kind = CAMQPShim_EVENT_WAKE;
      return AMQP_STATUS_OK;
    }
  }
  if (ready == 0 && timeout_ms == 0) {
    // A non-blocking check found nothing: the caller is busy and will wait (with a
    // timeout, which handles heartbeats below) once it runs out of work.
    event->kind = CAMQPShim_EVENT_NONE;
    return AMQP_STATUS_OK;
  }
  // Readable, or timed out: either way a zero-timeout read lets librabbitmq send a
  // heartbeat that is due and notice one the broker missed.
  return read_ready_frame(conn, event);
}

void CAMQPShim_event_finish(amqp_connection_state_t conn, CAMQPShim_event *event) {
  if (event->has_message) {
    amqp_destroy_message(&event->message);
    event->has_message = 0;
  }
  if (event->kind != CAMQPShim_EVENT_NONE && event->kind != CAMQPShim_EVENT_WAKE) {
    amqp_maybe_release_buffers_on_channel(conn, event->channel);
  }
}

// MARK: Replies

int CAMQPShim_server_exception(amqp_connection_state_t conn, amqp_channel_t channel,
                               amqp_rpc_reply_t reply, uint16_t *code,
                               amqp_bytes_t *text, uint16_t *class_id,
                               uint16_t *method_id) {
  if (reply.reply_type != AMQP_RESPONSE_SERVER_EXCEPTION) {
    return 0;
  }
  switch (reply.reply.id) {
    case AMQP_CHANNEL_CLOSE_METHOD: {
      amqp_channel_close_t *m = reply.reply.decoded;
      *code = m->reply_code;
      *text = m->reply_text;
      *class_id = m->class_id;
      *method_id = m->method_id;
      amqp_channel_close_ok_t ok = {0};
      (void)amqp_send_method(conn, channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
      return 1;
    }
    case AMQP_CONNECTION_CLOSE_METHOD: {
      amqp_connection_close_t *m = reply.reply.decoded;
      *code = m->reply_code;
      *text = m->reply_text;
      *class_id = m->class_id;
      *method_id = m->method_id;
      amqp_connection_close_ok_t ok = {0};
      (void)amqp_send_method(conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
      return 2;
    }
    default:
      return 0;
  }
}

// MARK: Batching

void CAMQPShim_cork(amqp_connection_state_t conn, int corked) {
  int fd = amqp_get_sockfd(conn);
  if (fd >= 0) {
    int value = corked ? 1 : 0;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_CORK, &value, sizeof(value));
  }
}
