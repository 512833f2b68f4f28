/// The request attribute a conditional block tests. lighttpd spells these `$HTTP["url"]`,
/// `$SERVER["socket"]`, `$REQUEST_HEADER["X-Name"]`, …; the parser maps the header-backed `$HTTP` fields
/// (`useragent`, `referer`, `cookie`, `language`) onto `requestHeader` so the evaluator needs one code path.
public enum ConditionField: Sendable, Equatable, Hashable {
    case url
    case host
    case requestMethod
    case scheme
    case remoteIP
    case queryString
    case serverSocket
    /// A request header by name (compared case-insensitively by the server's header lookup).
    case requestHeader(String)
    /// A field Switchyard parses but cannot evaluate from a `ConditionInput` alone (e.g. `$PHYSICAL["path"]`),
    /// holding its full source spelling. Evaluated through `ConditionInput.otherField`.
    case other(String)

    /// The field in config syntax, e.g. `$HTTP["url"]`; used by `ConfigDocument.dump()`.
    public var configSyntax: String {
        switch self {
        case .url: return "$HTTP[\"url\"]"
        case .host: return "$HTTP[\"host\"]"
        case .requestMethod: return "$HTTP[\"request-method\"]"
        case .scheme: return "$HTTP[\"scheme\"]"
        case .remoteIP: return "$HTTP[\"remote-ip\"]"
        case .queryString: return "$HTTP[\"querystring\"]"
        case .serverSocket: return "$SERVER[\"socket\"]"
        case .requestHeader(let name): return "$REQUEST_HEADER[\(ConfigValue.quoted(name))]"
        case .other(let spelling): return spelling
        }
    }

    /// Maps lighttpd's `$NAME["selector"]` onto a field; `nil` if lighttpd would reject the combination.
    static func from(variable: String, selector: String) -> ConditionField? {
        switch variable {
        case "HTTP":
            switch selector {
            case "url": return .url
            case "host": return .host
            case "request-method": return .requestMethod
            case "scheme": return .scheme
            case "remoteip", "remote-ip": return .remoteIP
            case "querystring", "query-string": return .queryString
            case "useragent", "user-agent": return .requestHeader("User-Agent")
            case "referer": return .requestHeader("Referer")
            case "cookie": return .requestHeader("Cookie")
            case "language": return .requestHeader("Accept-Language")
            default: return nil
            }
        case "SERVER":
            return selector == "socket" ? .serverSocket : nil
        case "REQUEST_HEADER":
            return selector.isEmpty ? nil : .requestHeader(selector)
        case "PHYSICAL":
            guard selector == "path" || selector == "existing-path" else { return nil }
            return .other("$PHYSICAL[\(ConfigValue.quoted(selector))]")
        default:
            return nil
        }
    }
}
