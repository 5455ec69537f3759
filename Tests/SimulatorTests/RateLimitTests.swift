import Foundation
import SwitchboardCore
import SwitchboardSimulator
import Testing

@Suite("Per-session rate limits")
struct RateLimitTests {
    @Test("with 10/s, a burst of 30 gets at most 10 accepted per sliding second; the rest are 429s, counted")
    func burst() async throws {
        try await withSimulator { simulator in
            try await simulator.register("r1", #"{"flavor":"wasender","api_key":"key-r1","rate_per_second":10}"#)
            let clock = ContinuousClock()
            let started = clock.now
            let responses = try await withThrowingTaskGroup(of: TestResponse.self) { group in
                for index in 0..<30 {
                    group.addTask {
                        try await simulator.wasenderSend(key: "key-r1", to: "+1415555\(1000 + index)")
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let burstTook = clock.now - started
            let accepted = responses.filter { $0.status == 200 }.count
            let limited = responses.filter { $0.status == 429 }
            #expect(accepted + limited.count == 30)
            #expect(accepted >= 1)
            if burstTook < .milliseconds(900) { #expect(accepted == 10) }

            let answer = try #require(limited.first)
            #expect(answer.json["message"] as? String == "Too many requests")
            #expect(answer.json["retry_after"] as? Int == 1)
            #expect(answer.headers.first(name: "Retry-After") == "1")
            #expect(answer.headers.first(name: "X-RateLimit-Limit") == "10")
            #expect(answer.headers.first(name: "X-RateLimit-Remaining") == "0")
            let reset = try #require(answer.headers.first(name: "X-RateLimit-Reset").flatMap(Int.init))
            #expect(abs(Double(reset) - Date().timeIntervalSince1970) < 5)

            let stats = try await simulator.stats("r1")
            #expect(stats["accepted"] as? Int == accepted)
            #expect(stats["rate_limited"] as? Int == limited.count)
            let maxPerSecond = try #require(stats["max_per_second"] as? Int)
            #expect((1...10).contains(maxPerSecond))

            // The record agrees: no window of (just under, for ms rounding) one second
            // holds more than 10 acceptances.
            let times = simulator.state.messages(session: "r1").map(\.acceptedAt).sorted()
            #expect(times.count == accepted)
            for (index, start) in times.enumerated() {
                #expect(times[index...].prefix { $0.timeIntervalSince(start) < 0.998 }.count <= 10)
            }

            // The window slides: a second after the first acceptance there is room again.
            let first = try #require(simulator.state.stats(session: "r1").firstAcceptedAt)
            let wait = first.addingTimeInterval(1.02).timeIntervalSinceNow
            if wait > 0 { try await Task.sleep(for: .milliseconds(Int(wait * 1000))) }
            #expect(try await simulator.wasenderSend(key: "key-r1", to: "+14155550123").status == 200)
            #expect(simulator.state.stats(session: "r1").maxPerSecond <= 10)
        }
    }

    @Test("a rate below 1/s allows one send per 1/rate seconds; no rate, no limit")
    func slowAndUnlimited() async throws {
        try await withSimulator { simulator in
            try await simulator.register("slow", #"{"flavor":"wasender","api_key":"key-slow","rate_per_second":0.2}"#)
            try await simulator.register("free", #"{"flavor":"wasender","api_key":"key-free"}"#)
            #expect(try await simulator.wasenderSend(key: "key-slow", to: "+14155550123").status == 200)
            let limited = try await simulator.wasenderSend(key: "key-slow", to: "+14155550123")
            #expect(limited.status == 429)
            #expect(limited.headers.first(name: "X-RateLimit-Limit") == "1")
            let started = ContinuousClock.now
            for _ in 0..<20 {
                #expect(try await simulator.wasenderSend(key: "key-free", to: "+14155550123").status == 200)
            }
            let maxPerSecond = simulator.state.stats(session: "free").maxPerSecond
            if ContinuousClock.now - started < .milliseconds(900) { #expect(maxPerSecond == 20) }
            #expect(maxPerSecond >= 1 && maxPerSecond <= 20)
        }
    }
}
