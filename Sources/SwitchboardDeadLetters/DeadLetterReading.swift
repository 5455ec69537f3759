import Crypto
public import Foundation
public import SwitchboardAMQP
public import SwitchboardCore
public import SwitchboardStore

/// Reads what a dead letter says about itself, whoever parked it: a service (the
/// `sb-error-*` headers, the key `<tenant>.<reason>`), the broker (`x-death`: a tenant
/// queue rejected, expired or overflowed it) or the alternate exchange (no tenant queue
/// took the key). Anything it cannot read is left out; the bytes are always kept.
public struct DeadLetterReading: Sendable {
    /// Where dead letters come from and go back to.
    public let roles: Topology.Roles

    public init(roles: Topology.Roles) {
        self.roles = roles
    }

    /// The archive's record of a message read from `source` (a queue) as it was
    /// delivered.
    public func archived(id: String, source: String, exchange: String, routingKey: String,
                         properties: AMQPMessageProperties, body: Data, at now: Date) -> ArchivedDeadLetter {
        let headers = properties.headers ?? [:]
        let deaths = headers["x-death"]?.arrayValue?.compactMap(\.tableValue) ?? []
        let latestDeath = deaths.first
        let errorCode = headers[OutboundHeader.errorCode]?.stringValue
        let keyParts = routingKey.split(separator: ".", maxSplits: 1).map(String.init)
        let envelope = Self.envelopeFields(body)

        let unroutable = source == roles.unroutableQueue
        let reason: String
        if unroutable {
            reason = "unroutable"
        } else if errorCode != nil, keyParts.count == 2 {
            reason = keyParts[1]                                  // parked: <tenant>.<reason>
        } else if let code = errorCode {
            reason = code
        } else if let why = latestDeath?["reason"]?.stringValue {
            reason = why                                          // the broker: rejected, expired, maxlen
        } else {
            reason = "unknown"
        }
        let tenant = headers[OutboundHeader.tenant]?.stringValue ?? envelope.tenant
            ?? keyParts.first.flatMap { $0.isEmpty ? nil : $0 } ?? "unknown"
        let originalRoutingKey = headers[OutboundHeader.originalRoutingKey]?.stringValue
            ?? latestDeath?["routing-keys"]?.arrayValue?.first?.stringValue
            ?? (unroutable ? routingKey : nil)
        let originalExchange = headers[OutboundHeader.originalExchange]?.stringValue
            ?? latestDeath?["exchange"]?.stringValue
            ?? (unroutable ? roles.outbound : nil)
        let attempts = headers[OutboundHeader.attempts]?.intValue ?? headers[OutboundHeader.attempt]?.intValue
            ?? Int64(max(1, deaths.count))
        let deathTimes = deaths.compactMap { $0["time"]?.dateValue }
        let firstFailed = headers[OutboundHeader.firstFailedAt]?.stringValue.flatMap(WireJSON.parseDate)
            ?? deathTimes.min() ?? (unroutable ? now : nil)
        let lastFailed = headers[OutboundHeader.lastFailedAt]?.stringValue.flatMap(WireJSON.parseDate)
            ?? deathTimes.max() ?? firstFailed
        let detail = headers[OutboundHeader.errorDetail]?.stringValue
            ?? latestDeath.map { death in
                "the broker dead-lettered it (\(death["reason"]?.stringValue ?? "?")) from queue \(death["queue"]?.stringValue ?? "?")"
            }
            ?? (unroutable ? "no queue is bound to '\(routingKey)' on \(exchange.isEmpty ? roles.outbound : exchange): the tenant does not exist" : nil)

        // A quorum queue (sb.dead, sb.unroutable) counts redeliveries in `x-delivery-count`:
        // the broker's, not the dead letter's, and it would make a redelivery look new.
        var kept = headers
        kept["x-delivery-count"] = nil
        let headersJSON = AMQPJSON.data(AMQPJSON.json(kept))
        let propertiesJSON = AMQPJSON.data(AMQPJSON.json(properties))
        let deathJSON = AMQPJSON.data(headers["x-death"].map(AMQPJSON.json) ?? .array([]))
        return ArchivedDeadLetter(
            id: id,
            fingerprint: Self.fingerprint(source: source, exchange: exchange, routingKey: routingKey,
                                          headers: headersJSON, properties: propertiesJSON, body: body),
            tenant: tenant, source: source, exchange: exchange, routingKey: routingKey,
            originalExchange: originalExchange, originalRoutingKey: originalRoutingKey, reason: reason,
            errorCode: errorCode, detail: detail, attempts: Int(attempts), firstFailedAt: firstFailed,
            lastFailedAt: lastFailed, messageID: properties.messageID ?? envelope.id,
            session: headers[InboundHeader.session]?.stringValue ?? envelope.session,
            provider: headers[InboundHeader.provider]?.stringValue, deathHistory: deathJSON, headers: headersJSON,
            properties: propertiesJSON, body: body, archivedAt: now)
    }

    /// SHA-256 over everything the broker delivers: a redelivery of the same dead letter
    /// has the same fingerprint; the same message failing again does not (its failure
    /// headers and `x-death` counts differ).
    static func fingerprint(source: String, exchange: String, routingKey: String, headers: Data, properties: Data,
                            body: Data) -> String {
        var hash = SHA256()
        for part in [Data(source.utf8), Data(exchange.utf8), Data(routingKey.utf8), headers, properties, body] {
            hash.update(data: withUnsafeBytes(of: UInt64(part.count).bigEndian) { Data($0) })
            hash.update(data: part)
        }
        let digits = Array("0123456789abcdef".utf8)
        var hex: [UInt8] = []
        hex.reserveCapacity(64)
        for byte in hash.finalize() {
            hex.append(digits[Int(byte >> 4)])
            hex.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: hex, as: UTF8.self)
    }

    /// The id, tenant and session of an outbound envelope, read leniently (the body may
    /// be anything: a dead letter is often one that did not parse).
    static func envelopeFields(_ body: Data) -> (id: String?, tenant: String?, session: String?) {
        guard body.first == UInt8(ascii: "{"), case .object(let object)? = try? JSONDecoder().decode(JSONValue.self, from: body)
        else { return (nil, nil, nil) }
        return (object["id"]?.stringValue, object["tenant"]?.stringValue, object["session"]?.stringValue)
    }
}
