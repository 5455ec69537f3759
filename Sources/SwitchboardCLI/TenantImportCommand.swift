import ArgumentParser
import Foundation
import SwitchboardCore
import SwitchboardRegistry
#if canImport(Glibc)
import Glibc
#endif

extension TenantCommand {
    /// `switchboard tenant import FILE`: a migration from another gateway, through the api.
    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import",
            abstract: "Create the tenants (and sessions) of a CSV or JSON-lines file through a running api, in batches.",
            discussion: """
                JSON lines: one tenant per line, as an item of POST /v1/tenants/batch
                ({"id":…,"name":…,"session_rate":…,"sessions":[{"id":…,"provider":…,"phone_number":…}]}).
                CSV: a header row; columns id, name, session_rate, bulk_share, backlog_quota, session_id,
                provider, phone_number, status, primary, webhook_secret, credential.<name>; rows with the
                same id in a row add sessions to one tenant.
                Resumable: tenants that exist are skipped, so run it again after an interruption.
                Generated webhook secrets are not printed: give webhook_secret in the file, or rotate later.
                """)

        @Argument(help: "The file (.csv, .jsonl).") var file: String
        @Option(help: "csv or jsonl (default: by the file's extension).") var format: String?
        @Option(help: "The api's URL (else SWITCHBOARD_API_URL, else \(Settings.Default.apiURL)).") var apiURL: String?
        @Option(help: "An admin API key (else SWITCHBOARD_API_KEY).") var key: String?
        @Option(help: "Tenants per request (1…1000).") var batchSize = 500

        func validate() throws {
            guard (1...1_000).contains(batchSize) else { throw ValidationError("--batch-size must be 1…1000") }
        }

        func run() async throws {
            let settings = Settings()
            guard let key = key ?? settings.environment[Settings.Key.apiKey.rawValue] else {
                throw ValidationError("an admin API key is needed: --key or SWITCHBOARD_API_KEY")
            }
            let format: TenantImportFile.Format
            if let given = self.format {
                guard let parsed = TenantImportFile.Format(rawValue: given) else {
                    throw ValidationError("--format must be csv or jsonl")
                }
                format = parsed
            } else {
                guard let guessed = TenantImportFile.Format(path: file) else {
                    throw ValidationError("cannot tell the format of \(file) by its extension: give --format")
                }
                format = guessed
            }
            let text: String
            do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
                throw ValidationError("cannot read \(file): \(error.localizedDescription)")
            }
            let tenants = try TenantImportFile.parse(text, format: format)
            let importer = TenantImporter(baseURL: settings.value(apiURL, .apiURL, default: Settings.Default.apiURL),
                                          key: key, batchSize: batchSize)
            let bar = ProgressBar(total: tenants.count)
            let (result, failures) = try await importer.run(tenants) { bar.show($0) }
            bar.finish()
            print("\(result.created) created, \(result.skipped) skipped (they existed), \(result.failed) failed, "
                + "of \(result.total)")
            for failure in failures.prefix(50) {
                print("  \(failure.tenant): \(failure.status) \(failure.reason)")
            }
            if failures.count > 50 { print("  … and \(failures.count - 50) more") }
            if !failures.isEmpty { throw ExitCode(1) }
        }
    }
}

/// The import's progress on standard error: a redrawn bar on a terminal, a line per
/// batch otherwise (logs, CI).
struct ProgressBar {
    let total: Int
    let isTerminal = isatty(STDERR_FILENO) == 1

    func show(_ progress: TenantImporter.Progress) {
        let width = 30
        let filled = total == 0 ? width : progress.done * width / total
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let line = "[\(bar)] \(progress.done)/\(total)  created \(progress.created)  skipped \(progress.skipped)"
            + "  failed \(progress.failed)"
        FileHandle.standardError.write(Data((isTerminal ? "\r" + line : line + "\n").utf8))
    }

    func finish() {
        if isTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
