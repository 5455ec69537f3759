import Foundation
import SwitchboardAMQP
import Testing

/// A throwaway certificate authority and a server certificate for `localhost`.
struct TestCertificates {
    let directory: URL
    var caFile: String { directory.appendingPathComponent("ca.pem").path }
    var otherCAFile: String { directory.appendingPathComponent("other-ca.pem").path }
    var certificateFile: String { directory.appendingPathComponent("server.pem").path }
    var keyFile: String { directory.appendingPathComponent("server.key").path }

    static func make(using node: DisposableNode) async throws -> TestCertificates {
        let directory = DisposableNode.repositoryRoot.appendingPathComponent(".local/tls-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let d = directory.path
        let script = """
            set -e; cd '\(d)'
            openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=switchboard-test-ca -keyout ca.key -out ca.pem
            openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=some-other-ca -keyout other-ca.key -out other-ca.pem
            openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out server.csr
            printf 'subjectAltName=DNS:localhost\\n' > san.ext
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext -out server.pem
            chmod 644 server.key
            """
        try await node.run("/bin/bash", ["-c", script])
        return TestCertificates(directory: directory)
    }
}

@Suite("TLS through librabbitmq's OpenSSL socket")
struct TLSTests {
    @Test(.timeLimit(.minutes(2)))
    func verifiesTheBrokerCertificate() async throws {
        let certificates = try await TestCertificates.make(using: DisposableNode(name: "unused", amqpPort: 0))
        defer { try? FileManager.default.removeItem(at: certificates.directory) }
        let tlsPort = 5691
        try await withDisposableNode(name: "sbtest-tls", port: 5690, settings: [
            "SWITCHBOARD_RABBITMQ_TLS_PORT": String(tlsPort),
            "SWITCHBOARD_RABBITMQ_TLS_CACERT": certificates.caFile,
            "SWITCHBOARD_RABBITMQ_TLS_CERT": certificates.certificateFile,
            "SWITCHBOARD_RABBITMQ_TLS_KEY": certificates.keyFile,
        ]) { _ in
            let trusted = try TestBroker.configuration(
                "tls", url: "amqps://guest:guest@localhost:\(tlsPort)?cacertfile=\(certificates.caFile)")
            #expect(trusted.tls?.verifyPeer == true)
            let connection = try await AMQPConnection.connect(trusted, logger: TestBroker.logger)
            let queue = TestBroker.uniqueName("tls")
            try await connection.declareQueue(AMQPQueueDeclaration(name: queue, durable: false, exclusive: true))
            try await connection.publish(Data("over tls".utf8), exchange: "", routingKey: queue)
            let delivery = try #require(try await connection.get(queue: queue, autoAck: true))
            #expect(String(decoding: delivery.body, as: UTF8.self) == "over tls")
            await connection.close()

            // Signed by a CA the client does not trust: refused, with a typed error.
            let untrusted = try TestBroker.configuration(
                "tls-untrusted", url: "amqps://guest:guest@localhost:\(tlsPort)?cacertfile=\(certificates.otherCAFile)")
            await #expect {
                _ = try await AMQPConnection.connect(untrusted, logger: TestBroker.logger)
            } throws: { ($0 as? AMQPError)?.code == .tlsFailed }

            // The certificate names only `localhost`: reaching the same broker by its IP
            // address fails hostname verification.
            var wrongName = trusted
            wrongName.host = "127.0.0.1"
            await #expect {
                _ = try await AMQPConnection.connect(wrongName, logger: TestBroker.logger)
            } throws: { ($0 as? AMQPError)?.code == .tlsFailed }
        }
    }
}
