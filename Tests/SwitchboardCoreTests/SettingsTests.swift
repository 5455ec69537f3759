import SwitchboardCore
import Testing

@Suite("Settings: flag, then SWITCHBOARD_* variable, then default")
struct SettingsTests {
    @Test func flagWinsOverEnvironmentAndDefault() {
        let settings = Settings(environment: ["SWITCHBOARD_AMQP_URL": "amqp://env"])
        #expect(settings.amqpURL(flag: "amqp://flag") == "amqp://flag")
        #expect(settings.amqpURL(flag: nil) == "amqp://env")
    }

    @Test func emptyVariableFallsBackToTheDefault() {
        #expect(Settings(environment: ["SWITCHBOARD_AMQP_URL": ""]).amqpURL(flag: nil) == Settings.Default.amqpURL)
        #expect(Settings(environment: [:]).amqpURL(flag: nil) == "amqp://guest:guest@127.0.0.1:5672")
    }
}
