import Testing
@testable import SwitchboardAMQP

@Suite("AMQP URLs")
struct AMQPConfigurationTests {
    @Test func parsesAPlainURLWithDefaults() throws {
        let configuration = try AMQPConfiguration(url: "amqp://guest:guest@127.0.0.1:5672")
        #expect(configuration.host == "127.0.0.1")
        #expect(configuration.port == 5672)
        #expect(configuration.user == "guest")
        #expect(configuration.password == "guest")
        #expect(configuration.virtualHost == "/")
        #expect(configuration.tls == nil)
    }

    @Test func decodesVirtualHostAndCredentials() throws {
        let configuration = try AMQPConfiguration(url: "amqp://sb%40ops:p%2Fss@broker.internal/switch%2Fboard")
        #expect(configuration.user == "sb@ops")
        #expect(configuration.password == "p/ss")
        #expect(configuration.virtualHost == "switch/board")
        #expect(configuration.port == 5672)
        #expect(try AMQPConfiguration(url: "amqp://h/%2f").virtualHost == "/")
        #expect(try AMQPConfiguration(url: "amqp://h/").virtualHost == "/")
    }

    @Test func readsQueryParameters() throws {
        let configuration = try AMQPConfiguration(
            url: "amqp://h:5673/v?heartbeat=4&connection_timeout=2500&frame_max=65536&connection_name=api-1")
        #expect(configuration.port == 5673)
        #expect(configuration.heartbeat == .seconds(4))
        #expect(configuration.connectTimeout == .milliseconds(2500))
        #expect(configuration.frameMax == 65536)
        #expect(configuration.connectionName == "api-1")
    }

    @Test func amqpsDefaultsToPort5671AndVerifies() throws {
        let configuration = try AMQPConfiguration(url: "amqps://u:p@rabbit.example/?cacertfile=/etc/ca.pem")
        #expect(configuration.port == 5671)
        #expect(configuration.tls == AMQPConfiguration.TLS(caFile: "/etc/ca.pem", verifyPeer: true, verifyHostname: true))
        let lax = try AMQPConfiguration(url: "amqps://rabbit.example:5999?verify=verify_none")
        #expect(lax.port == 5999)
        #expect(lax.tls?.verifyPeer == false)
        #expect(lax.tls?.verifyHostname == false)
    }

    @Test(arguments: [
        "http://h", "amqp://h:0", "amqp://h/a/b", "amqp://h?heartbeat=soon", "amqp://h?cacertfile=/x",
        "amqp://h?bogus=1", "amqps://h?verify=sometimes", "not a url at all",
    ])
    func rejectsBadURLs(_ url: String) {
        #expect {
            try AMQPConfiguration(url: url)
        } throws: { error in
            (error as? AMQPError)?.code == .invalidConfiguration
        }
    }

    @Test func aCommaSeparatedListNamesEveryNodeOfACluster() throws {
        let configuration = try AMQPConfiguration(
            url: "amqp://u:secret@10.0.0.1:5672/prod?heartbeat=5, amqp://u:secret@10.0.0.2/prod?heartbeat=5,amqp://u:secret@rabbit-3:5673/prod?heartbeat=5")
        #expect(configuration.endpoints == [
            .init(host: "10.0.0.1", port: 5672), .init(host: "10.0.0.2", port: 5672), .init(host: "rabbit-3", port: 5673),
        ])
        #expect(configuration.host == "10.0.0.1")
        #expect(configuration.port == 5672)
        #expect(configuration.virtualHost == "prod")
        #expect(configuration.heartbeat == .seconds(5))
        #expect(configuration.redactedURL
            == "amqp://u:***@10.0.0.1:5672/prod,amqp://u:***@10.0.0.2:5672/prod,amqp://u:***@rabbit-3:5673/prod")
        #expect(try AMQPConfiguration(url: "amqp://h").endpoints == [.init(host: "h", port: 5672)])
    }

    @Test(arguments: [
        "amqp://h1/a,amqp://h2/b", "amqp://u:p@h1,amqp://u:q@h2", "amqp://h1,amqps://h2", "amqp://h1,",
        "amqp://h1?heartbeat=5,amqp://h2", "amqp://h1,,amqp://h2", "amqp://h1,http://h2",
    ])
    func rejectsClusterURLsThatDifferInMoreThanTheNode(_ url: String) {
        #expect {
            try AMQPConfiguration(url: url)
        } throws: { error in
            (error as? AMQPError)?.code == .invalidConfiguration
        }
    }

    @Test func redactsThePassword() throws {
        let configuration = try AMQPConfiguration(url: "amqp://user:secret@h:5672/prod")
        #expect(!configuration.redactedURL.contains("secret"))
        #expect(configuration.redactedURL == "amqp://user:***@h:5672/prod")
    }
}
