import Testing
@testable import SwitchyardServer
import SwitchyardConfig

/// `websocket.origins` / `websocket.ping-interval`: parsed per scope, checked at load with
/// `file:line`, and the fallback of mod_wstunnel's own keys.
@Suite struct WebSocketPolicyConfigTests {
    @Test func keysInTheGlobalScopeAndInsideAConditional() throws {
        let text = """
        server.modules = ( "mod_cgi" )
        websocket.origins = ( "example.org", "https://app.test:8443" )
        websocket.ping-interval = 30
        $HTTP["host"] == "other.test" {
            websocket.origins = ( "other.test" )
            websocket.ping-interval = 0
        }
        """
        let global = try resolve(text)
        #expect(global.websocket.origins == ["example.org", "https://app.test:8443"] && global.websocket.pingInterval == 30)
        let scoped = try resolve(text, matching: [0])
        #expect(scoped.websocket.origins == ["other.test"] && scoped.websocket.pingInterval == 0)
        let none = try resolve("server.modules = ( \"mod_cgi\" )")
        #expect(none.websocket.origins.isEmpty && none.websocket.pingInterval == 0)
    }

    @Test func originDecisionFollowsLighttpdsRule() throws {
        let policy = try resolve(#"websocket.origins = ( "example.org" )"#).websocket.originPolicy
        #expect(policy.evaluate(origin: nil) == .missingOrigin)
        #expect(policy.evaluate(origin: "https://www.example.org") == .admit)
        #expect(policy.evaluate(origin: "https://badexample.org").status == 403)
    }

    @Test(arguments: [
        (#"websocket.origins = ( "" )"#, "websocket.origins must be"),
        (#"websocket.origins = ( "example.org", "a b" )"#, "websocket.origins must be"),
        (#"websocket.origins = ( "x" => ( "y" ) )"#, "websocket.origins must be"),
        (#"websocket.ping-interval = 100000"#, "websocket.ping-interval"),
        (#"websocket.ping-interval = 86401"#, "websocket.ping-interval"),
        (#"websocket.ping-interval = "often""#, "must be an integer"),
    ])
    func errorsCarryFileAndLine(_ line: String, _ message: String) throws {
        let text = "server.modules = ( \"mod_cgi\" )\n$HTTP[\"url\"] =~ \"^/ws/\" {\n" + line + "\n}\n"
        let error = try #require(configError(text), "accepted: \(line)")
        #expect(error.contains(message) && error.contains("t.conf:3"), "\(error)")
    }

    @Test func theTunnelTakesItsOwnKeysFirstThenTheseOnes() throws {
        let base = """
        server.modules = ( "mod_wstunnel" )
        wstunnel.server = ( "/ws/" => ( ( "host" => "127.0.0.1", "port" => 9000 ) ) )
        websocket.origins = ( "shared.test" )
        websocket.ping-interval = 20

        """
        let fallback = try #require(try resolve(base).wstunnel)
        #expect(fallback.origins == ["shared.test"] && fallback.pingInterval == 20)
        let own = try #require(try resolve(base + "wstunnel.origins = ( \"tunnel.test\" )\nwstunnel.ping-interval = 0").wstunnel)
        #expect(own.origins == ["tunnel.test"] && own.pingInterval == 0)
    }

    @Test func theKeysAreKnown() {
        #expect(KnownKeys.all.contains("websocket.origins") && KnownKeys.all.contains("websocket.ping-interval"))
    }
}
