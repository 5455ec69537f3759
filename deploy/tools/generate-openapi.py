#!/usr/bin/env python3
# Writes Sources/SwitchboardAPI/OpenAPIDocument.swift: the OpenAPI 3.1 description of the
# api service. Edit the paths and schemas here, run it, and commit both; a test checks
# that the document's paths and methods are exactly the router's.
import json
def ref(n): return {"$ref": f"#/components/schemas/{n}"}
def problem(desc): return {"description": desc, "content": {"application/problem+json": {"schema": ref("Problem")}}}
def js(schema, desc): return {"description": desc, "content": {"application/json": {"schema": schema}}}
def body(schema, required=True): return {"required": required, "content": {"application/json": {"schema": schema}}}
P = lambda name, desc: {"name": name, "in": "path", "required": True, "schema": {"type": "string"}, "description": desc}
TENANT = P("tenant", "The tenant's id (a slug).")
SESSION = P("session", "The session's id (a slug).")
common = {"400": problem("Malformed JSON or wrong types."), "401": problem("No valid API key."),
          "415": problem("The body is not JSON."), "503": problem("The broker or the store is unreachable.")}
def op(opid, summary, tag, responses, request=None, params=None, security=True, desc=None):
    o = {"operationId": opid, "summary": summary, "tags": [tag]}
    if desc: o["description"] = desc
    if params: o["parameters"] = params
    if request: o["requestBody"] = request
    r = dict(responses)
    if security:
        r.setdefault("401", common["401"])
    o["responses"] = r
    if not security: o["security"] = []
    return o
admin403 = {"403": problem("A tenant key on an admin route.")}
nf = lambda what: {"404": problem(f"No such {what}, or another tenant's.")}
s = {
 "Problem": {"type": "object", "description": "RFC 9457 problem details.", "required": ["type", "title", "status"],
   "properties": {"type": {"type": "string", "description": "urn:switchboard:problem:<kind>", "examples": ["urn:switchboard:problem:validation"]},
     "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"},
     "errors": {"type": "array", "items": {"type": "object", "required": ["field", "detail"], "properties": {"field": {"type": "string"}, "detail": {"type": "string"}}}},
     "message_id": {"type": "string", "description": "On a 503 whose publish is unconfirmed: the id a retry with the same key resumes."}}},
 "Tenant": {"type": "object", "required": ["id", "name", "session_rate", "bulk_share", "backlog_quota", "created_at"],
   "properties": {"id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,62}$"}, "name": {"type": "string"},
     "session_rate": {"type": "number", "description": "Messages per second per session.", "exclusiveMinimum": 0, "maximum": 1000},
     "bulk_share": {"type": "number", "minimum": 0, "maximum": 1, "description": "The share of the rate bulk may use."},
     "backlog_quota": {"type": ["integer", "null"], "minimum": 1, "description": "Ready messages the tenant's queue may hold; null: unlimited."},
     "created_at": {"type": "string", "format": "date-time"}}},
 "CreateTenant": {"type": "object", "required": ["id", "name"], "properties": {
     "id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,62}$"}, "name": {"type": "string", "minLength": 1, "maxLength": 200},
     "session_rate": {"type": "number", "default": 1}, "bulk_share": {"type": "number", "default": 0.5},
     "backlog_quota": {"type": ["integer", "null"], "minimum": 1}}},
 "UpdateTenant": {"type": "object", "description": "A merge patch: absent fields stay, backlog_quota null removes the quota.", "properties": {
     "name": {"type": "string"}, "session_rate": {"type": "number"}, "bulk_share": {"type": "number"},
     "backlog_quota": {"type": ["integer", "null"], "minimum": 1}}},
 "Session": {"type": "object", "required": ["id", "tenant", "provider", "phone_number", "status", "primary", "created_at"], "properties": {
     "id": {"type": "string"}, "tenant": {"type": "string"}, "provider": {"type": "string", "enum": ["wasender", "meta", "simulator"]},
     "phone_number": {"type": "string", "description": "E.164."},
     "status": {"type": "string", "enum": ["connected", "connecting", "need_scan", "disconnected", "logged_out", "expired"]},
     "primary": {"type": "boolean"}, "created_at": {"type": "string", "format": "date-time"},
     "webhook_secret": {"type": "string", "description": "Only in the answer that generated it."}}},
 "CreateSession": {"type": "object", "required": ["id", "provider", "phone_number"], "properties": {
     "id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,62}$"}, "provider": {"type": "string", "enum": ["wasender", "meta", "simulator"]},
     "phone_number": {"type": "string", "description": "E.164, e.g. +14155550123."},
     "credentials": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Write-only; encrypted at rest."},
     "webhook_secret": {"type": "string", "minLength": 16, "description": "Write-only; generated and shown once when absent."},
     "primary": {"type": "boolean"}, "status": {"type": "string", "enum": ["connected", "connecting", "need_scan", "disconnected", "logged_out", "expired"]}}},
 "UpdateSession": {"type": "object", "properties": {
     "primary": {"type": "boolean", "const": True}, "status": {"type": "string", "enum": ["connected", "connecting", "need_scan", "disconnected", "logged_out", "expired"]},
     "credentials": {"type": "object", "additionalProperties": {"type": "string"}}, "webhook_secret": {"type": "string", "minLength": 16}}},
 "APIKey": {"type": "object", "required": ["id", "scope", "created_at"], "properties": {
     "id": {"type": "string"}, "scope": {"type": "string", "enum": ["admin", "tenant"]}, "tenant": {"type": "string"},
     "label": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"},
     "token": {"type": "string", "description": "sb_<id>_<secret>: only in the answer that created it."}}},
 "CreateKey": {"type": "object", "properties": {"label": {"type": "string", "maxLength": 200}}},
 "MessageMedia": {"type": "object", "required": ["url"], "properties": {"url": {"type": "string", "format": "uri"}, "filename": {"type": "string"}}},
 "MessageLocation": {"type": "object", "required": ["latitude", "longitude"], "properties": {
     "latitude": {"type": "number", "minimum": -90, "maximum": 90}, "longitude": {"type": "number", "minimum": -180, "maximum": 180},
     "name": {"type": "string"}, "address": {"type": "string"}}},
 "MessageTemplate": {"type": "object", "required": ["name", "language"], "properties": {
     "name": {"type": "string"}, "language": {"type": "string"}, "parameters": {"type": "array", "items": {"type": "string"}}}},
 "SendMessage": {"type": "object", "required": ["to"], "description": "The outbound envelope of ARCHITECTURE.md; defaults are filled.", "properties": {
     "id": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$", "description": "Our message id and the idempotency key; a ULID when absent."},
     "tenant": {"type": "string", "description": "Required with an admin key; must be the key's tenant otherwise."},
     "session": {"type": "string", "description": "Defaults to the tenant's primary session."},
     "class": {"type": "string", "enum": ["transactional", "bulk"], "default": "transactional"},
     "to": {"type": "string", "description": "E.164."},
     "type": {"type": "string", "enum": ["text", "image", "document", "audio", "video", "location", "template"], "default": "text"},
     "text": {"type": "string", "maxLength": 4096, "description": "The text, or a media caption (at most 1,024)."},
     "media": {"anyOf": [ref("MessageMedia"), {"type": "null"}]}, "location": {"anyOf": [ref("MessageLocation"), {"type": "null"}]},
     "template": {"anyOf": [ref("MessageTemplate"), {"type": "null"}]}, "campaign": {"type": ["string", "null"], "maxLength": 128},
     "expires_at": {"type": ["string", "null"], "format": "date-time"},
     "metadata": {"type": ["object", "null"], "additionalProperties": {"type": "string"}}}},
 "MessageReceipt": {"type": "object", "required": ["id", "tenant", "session", "class", "state", "accepted_at"], "properties": {
     "id": {"type": "string"}, "tenant": {"type": "string"}, "session": {"type": "string"},
     "class": {"type": "string", "enum": ["transactional", "bulk"]}, "state": {"type": "string", "const": "queued"},
     "accepted_at": {"type": "string", "format": "date-time"}}},
 "MessageState": {"type": "string", "enum": ["accepting", "unconfirmed", "queued", "sent", "delivered", "read", "played", "failed", "expired", "suppressed"]},
 "Message": {"type": "object", "required": ["id", "tenant", "session", "class", "to", "type", "state", "created_at", "updated_at", "history"], "properties": {
     "id": {"type": "string"}, "tenant": {"type": "string"}, "session": {"type": "string"},
     "class": {"type": "string", "enum": ["transactional", "bulk"]}, "to": {"type": "string"},
     "type": {"type": "string", "enum": ["text", "image", "document", "audio", "video", "location", "template"]},
     "campaign": {"type": "string"}, "text": {"type": "string", "description": "The text, or a media item's caption."},
     "state": ref("MessageState"), "provider_message_id": {"type": "string"},
     "error": {"type": "string"}, "expires_at": {"type": "string", "format": "date-time"},
     "created_at": {"type": "string", "format": "date-time"}, "updated_at": {"type": "string", "format": "date-time"},
     "history": {"type": "array", "items": {"type": "object", "required": ["state", "at"], "properties": {
         "state": ref("MessageState"), "at": {"type": "string", "format": "date-time"}, "detail": {"type": "string"}}}}}},
 "ContactThread": {"type": "object", "required": ["contact", "messages"], "properties": {
     "contact": {"type": "string", "description": "The contact's number, E.164."},
     "messages": {"type": "array", "items": {"type": "object", "required": ["direction", "id", "at"], "properties": {
         "direction": {"type": "string", "enum": ["inbound", "outbound"]},
         "id": {"type": "string", "description": "Our message id (outbound) or the event id (inbound)."},
         "session": {"type": "string"}, "provider_message_id": {"type": "string"}, "type": {"type": "string"},
         "text": {"type": "string"}, "state": {**ref("MessageState"), "description": "Outbound only."},
         "at": {"type": "string", "format": "date-time"}}}},
     "next_before": {"type": "string", "format": "date-time", "description": "Pass as before for the next, older page; absent on the last page."}}},
 "SendBatch": {"type": "object", "required": ["messages"], "properties": {
     "messages": {"type": "array", "minItems": 1, "maxItems": 1000, "items": ref("SendMessage")}}},
 "BatchResult": {"type": "object", "required": ["accepted", "rejected", "results"], "properties": {
     "accepted": {"type": "integer"}, "rejected": {"type": "integer"},
     "results": {"type": "array", "items": {"type": "object", "required": ["index", "status"], "properties": {
         "index": {"type": "integer"}, "status": {"type": "integer", "description": "What POST /v1/messages would have answered."},
         "id": {"type": "string"}, "replayed": {"type": "boolean"}, "problem": ref("Problem")}}}}},
 "ContactPolicy": {"type": "object", "required": ["contact", "opted_out", "bulk_allowed"], "properties": {
     "contact": {"type": "string", "description": "E.164."},
     "opted_out": {"type": "boolean", "description": "The contact sent an opt-out keyword (or an operator set it): no bulk messages."},
     "opted_out_at": {"type": "string", "format": "date-time"},
     "paused_until": {"type": "string", "format": "date-time", "description": "Bulk messages wait until then (a reply paused them; resolving lifts it)."},
     "bulk_allowed": {"type": "boolean"}, "suppression": {"type": "string", "enum": ["opted-out", "paused"]}}},
 "ContactChange": {"type": "object", "description": "An operator's change; absent fields stay.", "properties": {
     "opted_out": {"type": "boolean"}, "paused_until": {"type": ["string", "null"], "format": "date-time", "description": "null lifts a pause."}}},
 "Conversation": {"type": "object", "required": ["contact", "state", "unread", "last_message_at", "last_message_direction", "opened_at", "updated_at"], "properties": {
     "contact": {"type": "string", "description": "E.164: one conversation per tenant and contact."},
     "session": {"type": "string", "description": "The session the contact last wrote to; replies go through it."},
     "state": {"type": "string", "enum": ["open", "waiting", "resolved"], "description": "open: the contact wrote last; waiting: an agent answered; resolved: done."},
     "unread": {"type": "integer"}, "assignee": {"type": "string"}, "contact_name": {"type": "string"},
     "last_message_at": {"type": "string", "format": "date-time"},
     "last_message_direction": {"type": "string", "enum": ["inbound", "outbound"]},
     "last_message_preview": {"type": "string"},
     "opened_at": {"type": "string", "format": "date-time"}, "updated_at": {"type": "string", "format": "date-time"},
     "contact_policy": {**ref("ContactPolicy"), "description": "When one conversation is read or resolved."},
     "messages": {"type": "array", "description": "When one conversation is read: its latest messages, both ways, newest first.",
         "items": {"type": "object"}}}},
 "ConversationPage": {"type": "object", "required": ["conversations"], "properties": {
     "conversations": {"type": "array", "items": ref("Conversation")},
     "next_before": {"type": "string", "format": "date-time", "description": "Pass as before for the next, older page."}}},
 "ConversationReplyRequest": {"type": "object", "properties": {
     "text": {"type": "string", "maxLength": 4096}, "type": {"type": "string", "enum": ["text", "image", "document", "audio", "video"], "default": "text"},
     "media": ref("MessageMedia"), "session": {"type": "string", "description": "Another session of the tenant than the conversation's."},
     "agent": {"type": "string", "maxLength": 128, "description": "Kept in the message's metadata (else the assignee)."}}},
 "ConversationReply": {"type": "object", "required": ["message", "conversation"], "properties": {
     "message": ref("MessageReceipt"), "conversation": ref("Conversation")}},
 "Assign": {"type": "object", "properties": {"assignee": {"type": ["string", "null"], "maxLength": 128, "description": "null unassigns."}}},
 "OfficeHours": {"type": "object", "required": ["time_zone", "days"], "properties": {
     "time_zone": {"type": "string", "examples": ["Europe/Berlin"]},
     "days": {"type": "object", "description": "mon…sun to intervals like 09:00-17:30; a day absent is closed.",
         "additionalProperties": {"type": "array", "items": {"type": "string", "pattern": "^\\d\\d:\\d\\d-\\d\\d:\\d\\d$"}}}}},
 "BotSettings": {"type": "object", "description": "Absent fields take their defaults (forward_secret: stays as it was).", "properties": {
     "enabled": {"type": "boolean", "default": True, "description": "false: no replies or forwards; opt-out keywords still opt out, unconfirmed."},
     "opt_out_keywords": {"type": "array", "items": {"type": "string"}, "default": ["STOP", "UNSUBSCRIBE"]},
     "opt_out_reply": {"type": ["string", "null"], "description": "The confirmation, sent once; null sends none."},
     "opt_in_keywords": {"type": "array", "items": {"type": "string"}, "default": ["START"]},
     "opt_in_reply": {"type": ["string", "null"]},
     "office_hours": ref("OfficeHours"), "out_of_hours_reply": {"type": "string"},
     "out_of_hours_cooldown_seconds": {"type": "integer", "default": 43200, "minimum": 60},
     "forward_url": {"type": "string", "format": "uri", "description": "Messages no rule answers are POSTed here, signed (Standard Webhooks); a reply (or text) member of a 2xx JSON answer is sent."},
     "forward_secret": {"type": "string", "minLength": 16, "maxLength": 256, "description": "Write-only: the HMAC key of webhook-signature."},
     "forward_timeout_seconds": {"type": "number", "default": 5, "minimum": 0.1, "maximum": 30},
     "reply_limit": {"type": "integer", "default": 5, "minimum": 1, "maximum": 100, "description": "Automatic replies per contact per window."},
     "reply_window_seconds": {"type": "integer", "default": 3600, "minimum": 10, "maximum": 86400},
     "forward_secret_set": {"type": "boolean", "readOnly": True}}},
 "BotRule": {"type": "object", "required": ["keywords", "reply"], "properties": {
     "id": {"type": "string", "pattern": "^[a-z0-9-]{1,63}$", "description": "Generated when absent."},
     "keywords": {"type": "array", "minItems": 1, "maxItems": 20, "items": {"type": "string", "maxLength": 64},
         "description": "A message that is exactly one of them (case, spaces and trailing punctuation ignored) gets the reply."},
     "reply": {"type": "string", "maxLength": 4096}, "created_at": {"type": "string", "format": "date-time", "readOnly": True}}},
 "Health": {"type": "object", "required": ["status", "checks"], "properties": {
     "status": {"type": "string"}, "checks": {"type": "object", "additionalProperties": {"type": "string"}}}},
}
lst = lambda key, item: {"type": "object", "required": [key], "properties": {key: {"type": "array", "items": ref(item)}}}
IDEM = {"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
        "description": "The same key with the same body answers as the first time; with another body, 409. Defaults to the envelope's id."}
NUMBER = P("number", "The contact's number, E.164 (the + may be left out or sent as %2B).")
TQ = {"name": "tenant", "in": "query", "required": False, "schema": {"type": "string"}, "description": "Required with an admin key."}
LIMIT = {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}}
TENANT422 = problem("An admin key that names no tenant.")
paths = {
 "/healthz": {"get": op("health", "The process answers", "health", {"200": js(ref("Health"), "Alive.")}, security=False)},
 "/readyz": {"get": op("ready", "The broker connection is up and the store answers", "health",
     {"200": js(ref("Health"), "Ready."), "503": problem("Not ready; `broker` and `store` members say why.")}, security=False)},
 "/openapi.json": {"get": op("openapi", "This document", "health", {"200": js({"type": "object"}, "OpenAPI 3.1.")}, security=False)},
 "/v1/tenants": {
   "post": op("createTenant", "Create a tenant and provision its queue", "tenants",
       {"201": js(ref("Tenant"), "Created."), "400": common["400"], **admin403, "409": problem("The tenant exists."), "415": common["415"],
        "422": problem("Invalid fields."), "503": common["503"]}, request=body(ref("CreateTenant"))),
   "get": op("listTenants", "List tenants", "tenants", {"200": js(lst("tenants", "Tenant"), "Every tenant."), **admin403})},
 "/v1/tenants/{tenant}": {
   "parameters": [TENANT],
   "get": op("getTenant", "Read a tenant", "tenants", {"200": js(ref("Tenant"), "The tenant."), **nf("tenant")}),
   "patch": op("updateTenant", "Change a tenant's name or limits (a changed quota is applied to the broker)", "tenants",
       {"200": js(ref("Tenant"), "Changed."), "400": common["400"], **admin403, **nf("tenant"), "422": problem("Invalid fields."), "503": common["503"]},
       request=body(ref("UpdateTenant"))),
   "delete": op("deleteTenant", "Delete a tenant, its queue, sessions and keys", "tenants",
       {"204": {"description": "Deleted."}, **admin403, **nf("tenant"),
        "409": problem("The tenant's queue holds messages or has consumers (use force=true)."), "503": common["503"]},
       params=[{"name": "force", "in": "query", "required": False, "schema": {"type": "boolean"}, "description": "Delete even with queued messages."}])},
 "/v1/tenants/{tenant}/sessions": {
   "parameters": [TENANT],
   "post": op("createSession", "Add a session to a tenant", "sessions",
       {"201": js(ref("Session"), "Added."), "400": common["400"], **admin403, **nf("tenant"), "409": problem("The session id exists."),
        "422": problem("Invalid fields.")}, request=body(ref("CreateSession"))),
   "get": op("listSessions", "List a tenant's sessions", "sessions", {"200": js(lst("sessions", "Session"), "The sessions."), **nf("tenant")})},
 "/v1/sessions/{session}": {
   "parameters": [SESSION],
   "get": op("getSession", "Read a session (never its credentials)", "sessions", {"200": js(ref("Session"), "The session."), **nf("session")}),
   "patch": op("updateSession", "Make primary, set status, or rotate credentials", "sessions",
       {"200": js(ref("Session"), "Changed."), "400": common["400"], **nf("session"), "422": problem("Invalid fields.")}, request=body(ref("UpdateSession"))),
   "delete": op("deleteSession", "Delete a session", "sessions", {"204": {"description": "Deleted."}, **admin403, **nf("session")})},
 "/v1/keys": {
   "post": op("createAdminKey", "Issue an admin key (the token is shown once)", "keys",
       {"201": js(ref("APIKey"), "Issued."), **admin403}, request=body(ref("CreateKey"), required=False)),
   "get": op("listKeys", "List every key", "keys", {"200": js(lst("keys", "APIKey"), "The keys (never their secrets)."), **admin403})},
 "/v1/tenants/{tenant}/keys": {
   "parameters": [TENANT],
   "post": op("createTenantKey", "Issue a key for a tenant (the token is shown once)", "keys",
       {"201": js(ref("APIKey"), "Issued."), **nf("tenant")}, request=body(ref("CreateKey"), required=False)),
   "get": op("listTenantKeys", "List a tenant's keys", "keys", {"200": js(lst("keys", "APIKey"), "The keys."), **nf("tenant")})},
 "/v1/keys/{key}": {
   "parameters": [P("key", "The key's id (the part after sb_).")],
   "delete": op("revokeKey", "Revoke a key", "keys", {"204": {"description": "Revoked."}, **nf("key")})},
 "/v1/messages": {
   "post": op("sendMessage", "Send a message: validated, published with confirm, answered 202 once the broker has it", "messages",
       {"202": js(ref("MessageReceipt"), "Queued (the header Idempotent-Replayed: true on a repeat)."),
        "400": common["400"], "404": problem("Unknown session or tenant, or another tenant's."),
        "409": problem("The idempotency key was used for another body, or the same request is in progress."),
        "413": problem("The body is over 1 MiB."), "415": common["415"], "422": problem("Invalid fields (`errors` lists them)."),
        "429": problem("The tenant's backlog quota is full."), "503": problem("The broker is unreachable.")},
       request=body(ref("SendMessage")), params=[IDEM])},
 "/v1/messages/batch": {
   "post": op("sendBatch", "Send up to 1,000 messages, a result per item", "messages",
       {"200": js(ref("BatchResult"), "A result per item, in order."), "400": common["400"],
        "413": problem("The body is over 8 MiB."), "415": common["415"], "422": problem("No messages, or more than 1,000.")},
       request=body(ref("SendBatch")),
       params=[{**IDEM, "description": "Each item's key becomes <key>:<index>."}])},
 "/v1/messages/{id}": {
   "parameters": [P("id", "The message id.")],
   "get": op("getMessage", "What is known of a message so far", "messages",
       {"200": js(ref("Message"), "The message and its history."), **nf("message"), "422": problem("An admin key must name the tenant.")},
       params=[{"name": "tenant", "in": "query", "required": False, "schema": {"type": "string"}, "description": "Required with an admin key."}])},
 "/v1/contacts/{number}/messages": {
   "parameters": [P("number", "The contact's number, E.164 (the + may be left out or sent as %2B).")],
   "get": op("getContactMessages", "The message log of one contact, both ways, newest first", "contacts",
       {"200": js(ref("ContactThread"), "One page of messages."),
        "422": problem("An invalid number, limit or before; or an admin key that names no tenant.")},
       params=[{"name": "tenant", "in": "query", "required": False, "schema": {"type": "string"}, "description": "Required with an admin key."},
               {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}},
               {"name": "before", "in": "query", "required": False, "schema": {"type": "string", "format": "date-time"}, "description": "Only messages written before this time (a page's next_before)."}])},
 "/v1/contacts/{number}": {
   "parameters": [NUMBER],
   "get": op("getContact", "A contact's opt-out and bulk pause", "contacts", {"200": js(ref("ContactPolicy"), "The policy (defaults for a contact never seen)."), **nf("contact"), "422": TENANT422}, params=[TQ]),
   "patch": op("updateContact", "Opt a contact out or in, pause or resume its bulk messages", "contacts",
       {"200": js(ref("ContactPolicy"), "Changed; the dispatcher follows at once."), **nf("contact"), "422": TENANT422},
       request=body(ref("ContactChange")), params=[TQ])},
 "/v1/conversations": {
   "get": op("listConversations", "A tenant's conversations, most recent first", "inbox",
       {"200": js(ref("ConversationPage"), "One page."), "422": problem("An invalid state, limit or before; or an admin key that names no tenant.")},
       params=[TQ, {"name": "state", "in": "query", "required": False, "schema": {"type": "string", "enum": ["open", "waiting", "resolved"]}},
               {"name": "assignee", "in": "query", "required": False, "schema": {"type": "string"}}, LIMIT,
               {"name": "before", "in": "query", "required": False, "schema": {"type": "string", "format": "date-time"}, "description": "Conversations whose last message is older (a page's next_before)."}])},
 "/v1/conversations/{number}": {
   "parameters": [NUMBER],
   "get": op("getConversation", "One conversation with its latest messages and the contact's policy", "inbox",
       {"200": js(ref("Conversation"), "The conversation."), **nf("conversation"), "422": TENANT422}, params=[TQ, LIMIT])},
 "/v1/conversations/{number}/reply": {
   "parameters": [NUMBER],
   "post": op("replyToConversation", "An agent's reply: a transactional message through sb.outbound; the conversation waits for the contact", "inbox",
       {"202": js(ref("ConversationReply"), "Queued."), **nf("conversation or session"), "409": problem("The idempotency key was used for another body."),
        "422": problem("Invalid fields."), "503": problem("The broker is unreachable.")},
       request=body(ref("ConversationReplyRequest")), params=[TQ, IDEM])},
 "/v1/conversations/{number}/assign": {
   "parameters": [NUMBER],
   "post": op("assignConversation", "Assign the conversation to an agent (null unassigns)", "inbox",
       {"200": js(ref("Conversation"), "Assigned."), **nf("conversation"), "422": problem("Invalid assignee.")}, request=body(ref("Assign")), params=[TQ])},
 "/v1/conversations/{number}/read": {
   "parameters": [NUMBER],
   "post": op("markConversationRead", "Nothing unread", "inbox", {"200": js(ref("Conversation"), "Marked."), **nf("conversation")}, params=[TQ])},
 "/v1/conversations/{number}/resolve": {
   "parameters": [NUMBER],
   "post": op("resolveConversation", "Resolve: nothing unread, the contact's bulk pause lifted", "inbox",
       {"200": js(ref("Conversation"), "Resolved."), **nf("conversation")}, params=[TQ])},
 "/v1/bot": {
   "get": op("getBotSettings", "The tenant's bot settings (the forward secret is never shown)", "bot", {"200": js(ref("BotSettings"), "The settings (defaults until set).")}, params=[TQ]),
   "put": op("putBotSettings", "Replace the tenant's bot settings", "bot",
       {"200": js(ref("BotSettings"), "Saved."), "422": problem("Invalid fields (`errors` names the one at fault).")}, request=body(ref("BotSettings")), params=[TQ])},
 "/v1/bot/rules": {
   "get": op("listBotRules", "The tenant's keyword rules, oldest first", "bot", {"200": js(lst("rules", "BotRule"), "The rules.")}, params=[TQ]),
   "post": op("addBotRule", "Add a keyword rule", "bot",
       {"201": js(ref("BotRule"), "Added."), "409": problem("A rule with this id exists."), "422": problem("Invalid fields.")}, request=body(ref("BotRule")), params=[TQ])},
 "/v1/bot/rules/{id}": {
   "parameters": [P("id", "The rule's id.")],
   "put": op("replaceBotRule", "Replace a keyword rule", "bot", {"200": js(ref("BotRule"), "Replaced."), **nf("rule"), "422": problem("Invalid fields.")}, request=body(ref("BotRule")), params=[TQ]),
   "delete": op("deleteBotRule", "Delete a keyword rule", "bot", {"204": {"description": "Deleted."}, **nf("rule")}, params=[TQ])},
}
doc = {"openapi": "3.1.0",
 "info": {"title": "Switchboard API", "version": "1.0.0",
   "description": "The REST API of the Switchboard WhatsApp gateway: tenants, sessions, API keys, sending, message status, the message log and policy of a contact, the shared inbox and the bot's rules. Errors are RFC 9457 problem details (application/problem+json)."},
 "servers": [{"url": "http://127.0.0.1:8080"}],
 "security": [{"apiKey": []}],
 "tags": [{"name": n} for n in ["health", "tenants", "sessions", "keys", "messages", "contacts", "inbox", "bot"]],
 "paths": paths,
 "components": {"schemas": s, "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer", "description": "sb_<id>_<secret>, admin or tenant scoped."}}}}
text = json.dumps(doc, indent=2, ensure_ascii=False)
assert '"""#' not in text
swift = '''import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// `GET /openapi.json`: the OpenAPI 3.1 description of every route. A test checks that
/// its paths and methods are exactly the router's.
struct OpenAPIDocument: ResponseGenerator {
    func response(from request: Request, context: some RequestContext) throws -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: Self.json)))
    }

    static let json = #"""
''' + text + '''
"""#
}
'''
import os, sys
open(os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../Sources/SwitchboardAPI/OpenAPIDocument.swift'), 'w').write(swift)
