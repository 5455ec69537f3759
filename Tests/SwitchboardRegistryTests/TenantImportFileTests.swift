import SwitchboardRegistry
import Testing

@Suite("Import files: CSV and JSON lines into batch items")
struct TenantImportFileTests {
    @Test func csvRowsWithTheSameIdBecomeOneTenantWithItsSessions() throws {
        let csv = """
            id,name,session_rate,session_id,provider,phone_number,status,primary,credential.api_key\r
            acme,"Acme, Inc.",5,acme-main,wasender,+14155550100,connected,,key-1\r
            acme,"Acme, Inc.",5,acme-2,wasender,+14155550101,,true,key-2\r
            globex,"The ""Globex"" Corporation",,,,,,,\r

            initech,"Initech
            (two lines)",1,initech-main,meta,+14155550102,,no,
            """
        let tenants = try TenantImportFile.parse(csv, format: .csv)
        #expect(tenants.map(\.id) == ["acme", "globex", "initech"])
        #expect(tenants[0].name == "Acme, Inc.")
        #expect(tenants[0].sessionRate == 5)
        #expect(tenants[0].sessions == [
            ImportedSession(id: "acme-main", provider: "wasender", phoneNumber: "+14155550100", status: "connected",
                            credentials: ["api_key": "key-1"]),
            ImportedSession(id: "acme-2", provider: "wasender", phoneNumber: "+14155550101", primary: true,
                            credentials: ["api_key": "key-2"]),
        ])
        #expect(tenants[1] == ImportedTenant(id: "globex", name: #"The "Globex" Corporation"#))
        #expect(tenants[2].name == "Initech\n(two lines)")
        #expect(tenants[2].sessions.first?.primary == false)
    }

    @Test func aCSVThatCannotBeReadNamesTheLine() {
        let cases: [(String, Int, String)] = [
            ("id,name,colour\nacme,Acme,red", 1, "unknown column 'colour'"),
            ("name\nAcme", 1, "the header has no 'id' column"),
            ("id,name\nacme,Acme\nglobex", 3, "1 fields, the header has 2"),
            ("id,name,session_rate\nacme,Acme,fast", 2, "session_rate 'fast' is not a number"),
            ("id,name,session_id\nacme,Acme,acme-main", 2, "a session needs provider and phone_number"),
            ("id,name\nacme,\"Acme", 2, "a quoted field is not closed"),
        ]
        for (text, line, reason) in cases {
            #expect(throws: TenantImportFile.Malformed.self) { try TenantImportFile.parse(text, format: .csv) }
            do {
                _ = try TenantImportFile.parse(text, format: .csv)
            } catch {
                #expect(error.line == line, "\(text)")
                #expect(error.reason == reason, "\(text)")
            }
        }
    }

    @Test func jsonLinesAreBatchItems() throws {
        let text = """
            {"id":"acme","name":"Acme","bulk_share":0.2,"sessions":[{"id":"acme-main","provider":"simulator","phone_number":"+14155550100"}]}

            {"id":"globex","name":"Globex","backlog_quota":100}
            """
        let tenants = try TenantImportFile.parse(text, format: .jsonl)
        #expect(tenants == [
            ImportedTenant(id: "acme", name: "Acme", bulkShare: 0.2, sessions: [
                ImportedSession(id: "acme-main", provider: "simulator", phoneNumber: "+14155550100"),
            ]),
            ImportedTenant(id: "globex", name: "Globex", backlogQuota: 100),
        ])
        #expect(throws: TenantImportFile.Malformed.self) {
            try TenantImportFile.parse(#"{"id":"acme"}"#, format: .jsonl)
        }
        #expect(TenantImportFile.Format(path: "tenants.CSV") == .csv)
        #expect(TenantImportFile.Format(path: "tenants.ndjson") == .jsonl)
        #expect(TenantImportFile.Format(path: "tenants.xlsx") == nil)
    }
}
