#!/usr/bin/env python3
"""Reads Switchboard's normalized events from a queue of its own bound to sb.events
(contacts' messages, sessions) and sb.statuses (message statuses).
usage: subscriber.py [AMQP_URL] [--queue NAME] [--tenant T] [--no-statuses] [--count N] [--timeout S]
AMQP_URL defaults to $SWITCHBOARD_AMQP_URL. Needs pika >= 1.0 (Debian: python3-pika)."""
import argparse, json, os, sys
from collections import OrderedDict
import pika

DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


def summary(event):  # what an event says, in a few words
    if event["type"] == "message.received":
        m = event.get("message") or {}
        what = json.dumps(m.get("text"), ensure_ascii=False) if m.get("text") else "[%s]" % m.get("type")
        return "%s -> %s %s" % (m.get("from"), m.get("to"), what)
    if event["type"] == "message.status":  # statuses may arrive out of order
        s = event.get("status") or {}
        error = " %s" % s["error_code"] if s.get("error_code") else ""
        return "%s %s%s" % (s.get("message_id") or s.get("provider_message_id"), s.get("status"), error)
    return "%s %s" % (event.get("session"), event.get("session_status"))  # session.status


def main():
    parser = argparse.ArgumentParser(description="Prints Switchboard events, one line each.")
    parser.add_argument("url", nargs="?", default=os.environ.get("SWITCHBOARD_AMQP_URL", DEFAULT_URL))
    parser.add_argument("--queue", default="crm.whatsapp-events")
    parser.add_argument("--tenant", help="handle only this tenant's events (by the sb-tenant header)")
    parser.add_argument("--no-statuses", action="store_true", help="do not bind to sb.statuses")
    parser.add_argument("--count", type=int, help="exit after N handled events")
    parser.add_argument("--timeout", type=float, help="exit 1 when nothing arrives for S seconds")
    args = parser.parse_args()

    connection = pika.BlockingConnection(pika.URLParameters(args.url))
    channel = connection.channel()
    # A durable queue of our own keeps events while we are down; sb.events and
    # sb.statuses are fanouts, so the bindings need no routing key.
    channel.queue_declare(args.queue, durable=True)
    channel.queue_bind(args.queue, "sb.events")
    if not args.no_statuses:
        channel.queue_bind(args.queue, "sb.statuses")
    channel.basic_qos(prefetch_count=50)

    seen = OrderedDict()  # recent event ids; a real service dedupes in its own store
    handled = status = 0
    for method, properties, body in channel.consume(args.queue, inactivity_timeout=args.timeout):
        if method is None:
            print("no event for %gs" % args.timeout, file=sys.stderr)
            status = 1
            break
        tag = method.delivery_tag
        if args.tenant and (properties.headers or {}).get("sb-tenant") != args.tenant:
            channel.basic_ack(tag)  # another tenant's event: not ours
            continue
        try:
            event = json.loads(body)
            event_id, kind = event["id"], event["type"]
        except (ValueError, TypeError, KeyError) as error:
            print("rejecting an unreadable event: %r" % error, file=sys.stderr)
            channel.basic_reject(tag, requeue=False)  # to the queue's DLX, if it has one
            continue
        # Handle each id once; skip (and ack) types newer than this code knows.
        if event_id not in seen and kind in ("message.received", "message.status", "session.status"):
            print(kind, event.get("tenant"), event_id, summary(event), flush=True)
            handled += 1
        seen[event_id] = True  # a redelivery or replay carries the same id
        while len(seen) > 10000:
            seen.popitem(last=False)
        channel.basic_ack(tag)  # only once handled: a crash before this means redelivery
        if args.count and handled >= args.count:
            break
    channel.cancel()  # returns prefetched, unacknowledged events to the queue
    connection.close()
    return status


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # unacknowledged events go back to the queue
        sys.exit(130)
