import SwitchyardConfig
import SwitchyardHTTP
import SwitchyardWebSocket

/// `websocket.origins` and `websocket.ping-interval`: the WebSocket policy of every route that
/// relays an upgrade it does not parse (mod_cgi, mod_scgi incl. uwsgi, mod_fastcgi, mod_proxy),
/// per scope like the other request settings (valid inside `$HTTP[...]` conditionals).
///
/// mod_wstunnel has its own `wstunnel.origins` / `wstunnel.ping-interval` (lighttpd's keys); the
/// tunnel falls back to these when its own key is not set, so `wstunnel.*` wins where both are.
public struct WebSocketPolicySettings: Sendable {
    /// Allowed `Origin`s (lighttpd's rule, `WebSocketOriginPolicy`); empty admits every request.
    public let origins: [String]
    /// Seconds between the gateway's PINGs on a relayed WebSocket; 0 = none.
    public let pingInterval: Int
    /// `origins` compiled once per scope (lower-cased) instead of once per upgrade request.
    let originPolicy: WebSocketOriginPolicy
    /// `origins` is not empty: the routes test this first, so without a list an upgrade request
    /// costs nothing more (not even the log's lookup).
    let checksOrigins: Bool

    public init(origins: [String] = [], pingInterval: Int = 0) {
        self.origins = origins
        self.pingInterval = pingInterval
        originPolicy = WebSocketOriginPolicy(allowed: origins)
        checksOrigins = !origins.isEmpty
    }

    static let originsKey = "websocket.origins"
    static let pingIntervalKey = "websocket.ping-interval"

    /// Reads both keys from the scope (`entry`); errors name the key and its `file:line:column`.
    static func parse(entry: (String) -> ConfigEntry?) throws -> WebSocketPolicySettings {
        var origins: [String] = []
        if let e = entry(originsKey) { origins = try parseOrigins(e, key: originsKey) }
        var ping = 0
        if let e = entry(pingIntervalKey) { ping = try parsePingInterval(e, key: pingIntervalKey) }
        return WebSocketPolicySettings(origins: origins, pingInterval: ping)
    }

    /// `( "example.org", "https://app.example:8443", ... )`: non-empty strings without spaces or
    /// control characters (an Origin never has them: such an entry could never match).
    static func parseOrigins(_ e: ConfigEntry, key: String) throws -> [String] {
        guard let list = e.value.stringList,
              list.allSatisfy({ !$0.isEmpty && !$0.utf8.contains { $0 <= 0x20 || $0 == 0x7F } }) else {
            throw ConfigError(location: e.location,
                              message: "\(key) must be a list of non-empty strings without spaces ( \"example.org\", ... )")
        }
        return list
    }

    static func parsePingInterval(_ e: ConfigEntry, key: String) throws -> Int {
        try ConfigLimits.int(e, key: key, range: ConfigLimits.seconds, unit: "s")
    }

    /// The status refusing an upgrade request from a disallowed Origin (400 without one, 403 on a
    /// mismatch), logged with why; nil when admitted. Checked before any backend is contacted.
    func refusal(_ head: HTTPRequestHead, label: String, log: ErrorLog) -> Int? {
        if origins.isEmpty { return nil }
        let origin = head.headers.first("Origin")
        let decision = originPolicy.evaluate(origin: origin)
        guard let status = decision.status else { return nil }
        switch decision {
        case .missingOrigin:
            log.info(label, "WebSocket upgrade without an Origin header refused (websocket.origins is set): \(status)")
        default:
            log.info(label, "WebSocket upgrade from Origin \(origin ?? "") refused (not in websocket.origins): \(status)")
        }
        return status
    }
}
