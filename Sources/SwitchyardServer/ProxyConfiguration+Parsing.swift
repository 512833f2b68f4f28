import SwitchyardConfig
import SwitchyardGatewayCodecs
import SwitchyardWebSocket

extension ProxySettings {
    /// Builds the proxy settings from `proxy.server` and the keys `entry` finds in the same scope.
    /// Every error names the key and its `file:line:column`.
    static func parse(server: ConfigEntry, entry: (String) -> ConfigEntry?) throws -> ProxySettings {
        var header = ProxyHeaderOptions()
        var forceHTTP10 = false
        if let e = entry("proxy.header") {
            try parseHeader(e, into: &header, forceHTTP10: &forceHTTP10)
        }
        if let e = entry("proxy.forwarded") { header.forwarded = try parseForwarded(e) }
        if let e = entry("proxy.replace-http-host") { header.replaceHTTPHost = try GatewayRoutes.bool(e, "proxy.replace-http-host") }
        return ProxySettings(routes: try GatewayRoutes.parse(server, key: "proxy.server"),
                             balance: try BalancePolicy.parse(entry("proxy.balance")),
                             debug: try GatewayRoutes.debug(entry("proxy.debug"), key: "proxy.debug"),
                             mapExtensions: try GatewayRoutes.mapExtensions(entry("proxy.map-extensions"), key: "proxy.map-extensions"),
                             header: header, forceHTTP10: forceHTTP10, location: server.location)
    }

    static func parseHeader(_ e: ConfigEntry, into header: inout ProxyHeaderOptions, forceHTTP10: inout Bool) throws {
        guard let elements = e.value.arrayElements else {
            throw ConfigError(location: e.location, message: "proxy.header must be an array ( \"option\" => value )")
        }
        var seen: Set<String> = []
        for el in elements {
            guard let key = el.key else { throw ConfigError(location: e.location, message: "proxy.header entries need a name") }
            guard seen.insert(key).inserted else { throw ConfigError(location: e.location, message: "proxy.header \"\(key)\" is set twice") }
            let sub = ConfigEntry(value: el.value, location: e.location)
            let name = "proxy.header \"\(key)\""
            switch key {
            case "upgrade": header.upgrade = try GatewayRoutes.bool(sub, name)
            // "connect" is lighttpd's name; "connect-method" is kept for configs written for earlier Switchyard builds.
            case "connect", "connect-method": header.connectMethod = try GatewayRoutes.bool(sub, name)
            case "https-remap": header.httpsRemap = try GatewayRoutes.bool(sub, name)
            case "force-http10": forceHTTP10 = try GatewayRoutes.bool(sub, name)
            case "map-host-request": header.mapHostRequest = try pairs(sub, name, requireSlash: false)
            case "map-host-response": header.mapHostResponse = try pairs(sub, name, requireSlash: false)
            case "map-urlpath": header.mapURLPath = try pairs(sub, name, requireSlash: true)
            default:
                throw ConfigError(location: e.location, message: "proxy.header: unknown option \"\(key)\" (upgrade, connect, "
                                  + "map-host-request, map-host-response, map-urlpath, https-remap, force-http10)")
            }
        }
    }

    /// `( "from" => "to", ... )`; for map-urlpath every `from` is a URL path (starts with `/`).
    static func pairs(_ e: ConfigEntry, _ name: String, requireSlash: Bool) throws -> [(String, String)] {
        guard let elements = e.value.arrayElements else { throw ConfigError(location: e.location, message: "\(name) must be an array ( \"from\" => \"to\" )") }
        return try elements.map { el in
            guard let k = el.key, !k.isEmpty, let v = el.value.stringValue else {
                throw ConfigError(location: e.location, message: "\(name) entries are \"from\" => \"to\" (strings, non-empty key)")
            }
            if requireSlash && !k.hasPrefix("/") {
                throw ConfigError(location: e.location, message: "\(name): \"\(k)\" is not a URL path (must start with /)")
            }
            return (k, v)
        }
    }

    /// `( "for" => 1, "proto" => "enable", ... )`; a bare `"for"` in the list means enabled.
    static func parseForwarded(_ e: ConfigEntry) throws -> ProxyHeaderOptions.ForwardedParameters {
        guard let elements = e.value.arrayElements else {
            throw ConfigError(location: e.location, message: "proxy.forwarded must be an array ( \"for\" => 1, \"proto\" => 1, ... )")
        }
        var result: ProxyHeaderOptions.ForwardedParameters = []
        for el in elements {
            let name: String
            let on: Bool
            if let k = el.key {
                guard let b = el.value.boolValue else {
                    throw ConfigError(location: e.location, message: "proxy.forwarded \"\(k)\" must be enable/disable or 1/0")
                }
                (name, on) = (k, b)
            } else if let s = el.value.stringValue {
                (name, on) = (s, true)
            } else {
                throw ConfigError(location: e.location, message: "proxy.forwarded entries are \"param\" => 1")
            }
            let parameter: ProxyHeaderOptions.ForwardedParameters
            switch name {
            case "for": parameter = .for
            case "proto": parameter = .proto
            case "host": parameter = .host
            case "by": parameter = .by
            case "remote_user": parameter = .remoteUser
            default:
                throw ConfigError(location: e.location, message: "proxy.forwarded: unknown parameter \"\(name)\" (for, proto, host, by, remote_user)")
            }
            if on { result.insert(parameter) } else { result.remove(parameter) }
        }
        return result
    }
}

extension WStunnelSettings {
    static func parse(server: ConfigEntry, entry: (String) -> ConfigEntry?) throws -> WStunnelSettings {
        var frameType = FrameType.text
        if let e = entry("wstunnel.frame-type") {
            guard let s = e.value.stringValue, let t = FrameType(rawValue: s.lowercased()) else {
                throw ConfigError(location: e.location, message: "wstunnel.frame-type must be \"text\" or \"binary\"")
            }
            frameType = t
        }
        // wstunnel.* where set, else the scope's websocket.* (the policy of every other upgrade route).
        var origins: [String] = []
        if let e = entry("wstunnel.origins") {
            origins = try WebSocketPolicySettings.parseOrigins(e, key: "wstunnel.origins")
        } else if let e = entry(WebSocketPolicySettings.originsKey) {
            origins = try WebSocketPolicySettings.parseOrigins(e, key: WebSocketPolicySettings.originsKey)
        }
        var ping = 0
        if let e = entry("wstunnel.ping-interval") {
            ping = try WebSocketPolicySettings.parsePingInterval(e, key: "wstunnel.ping-interval")
        } else if let e = entry(WebSocketPolicySettings.pingIntervalKey) {
            ping = try WebSocketPolicySettings.parsePingInterval(e, key: WebSocketPolicySettings.pingIntervalKey)
        }
        var maxMessage = WStunnelSettings.defaultMaxMessageSize
        if let e = entry("wstunnel.max-message-size") {
            maxMessage = try ConfigLimits.int(e, key: "wstunnel.max-message-size", range: 1...(1 << 20), unit: "KiB") * 1024
        }
        let routes = try GatewayRoutes.parse(server, key: "wstunnel.server")
        let balance = try BalancePolicy.parse(entry("wstunnel.balance"))
        let debug = try GatewayRoutes.debug(entry("wstunnel.debug"), key: "wstunnel.debug")
        let map = try GatewayRoutes.mapExtensions(entry("wstunnel.map-extensions"), key: "wstunnel.map-extensions")
        let table = GatewayRouteTable(wireProtocol: .wstunnel, routes: routes, balance: balance, debug: debug, mapExtensions: map,
                                      key: "wstunnel.server@\(server.location)")
        return WStunnelSettings(routes: routes, balance: balance, debug: debug, mapExtensions: map,
                                frameType: frameType, origins: origins, pingInterval: ping, maxMessageSize: maxMessage,
                                deflate: try parseDeflate(entry("wstunnel.permessage-deflate")), location: server.location, table: table)
    }

    /// `"enable"` (the defaults below), `"disable"`, or `( "server-max-window-bits" => 12,
    /// "client-max-window-bits" => 15, "server-no-context-takeover" => "enable", "mem-level" => 5,
    /// "level" => 6 )`. The defaults bound a compressed connection to about 32 KiB of deflate
    /// state (2^(bits+2) + 2^(mem-level+9)) plus the client's inflate window (<= 39 KiB).
    static func parseDeflate(_ e: ConfigEntry?) throws -> PerMessageDeflateConfig? {
        guard let e else { return nil }
        let defaults = PerMessageDeflateConfig(serverMaxWindowBits: 12, clientMaxWindowBits: 15, memoryLevel: 5)
        if let on = e.value.boolValue, e.value.arrayElements == nil { return on ? defaults : nil }
        guard let elements = e.value.arrayElements else {
            throw ConfigError(location: e.location, message: "wstunnel.permessage-deflate must be \"enable\", \"disable\" or ( \"option\" => value )")
        }
        var c = defaults
        for el in elements {
            let sub = ConfigEntry(value: el.value, location: e.location)
            let name = "wstunnel.permessage-deflate \"\(el.key ?? "")\""
            switch el.key {
            case "server-max-window-bits": c.serverMaxWindowBits = try ConfigLimits.int(sub, key: name, range: 9...15)
            case "client-max-window-bits": c.clientMaxWindowBits = try ConfigLimits.int(sub, key: name, range: 8...15)
            case "server-no-context-takeover": c.serverNoContextTakeover = try GatewayRoutes.bool(sub, name)
            case "mem-level": c.memoryLevel = try ConfigLimits.int(sub, key: name, range: 1...9)
            case "level": c.compressionLevel = try ConfigLimits.int(sub, key: name, range: 0...9)
            default:
                throw ConfigError(location: e.location, message: "\(name): unknown option (server-max-window-bits, "
                                  + "client-max-window-bits, server-no-context-takeover, mem-level, level)")
            }
        }
        return c
    }
}
