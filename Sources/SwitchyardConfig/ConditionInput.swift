/// The request-time attributes conditionals test. Building one per request is cheap (strings the
/// server already has) and evaluation needs no re-parsing; the header closure avoids copying all headers.
public struct ConditionInput {
    /// Request path without the query string (after URL decoding, as lighttpd's `$HTTP["url"]`).
    public var url: String
    public var host: String
    public var method: String
    /// `http` or `https`.
    public var scheme: String
    public var remoteIP: String
    public var queryString: String
    /// `ip:port` of the listener the request arrived on.
    public var serverSocket: String
    /// Request header lookup by name (case-insensitive on the server side); a missing header tests as `""`.
    public var header: (String) -> String?
    /// Values of `.other` fields (e.g. `$PHYSICAL["path"]`) by their config spelling; `nil` makes the
    /// condition not match (and its `else` branches eligible).
    public var otherField: (String) -> String?

    public init(url: String = "/", host: String = "", method: String = "GET", scheme: String = "http",
                remoteIP: String = "", queryString: String = "", serverSocket: String = "",
                header: @escaping (String) -> String? = { _ in nil },
                otherField: @escaping (String) -> String? = { _ in nil }) {
        self.url = url
        self.host = host
        self.method = method
        self.scheme = scheme
        self.remoteIP = remoteIP
        self.queryString = queryString
        self.serverSocket = serverSocket
        self.header = header
        self.otherField = otherField
    }

    /// The subject for `field`, or `nil` if it cannot be provided.
    public func subject(for field: ConditionField) -> String? {
        switch field {
        case .url: return url
        case .host: return host
        case .requestMethod: return method
        case .scheme: return scheme
        case .remoteIP: return remoteIP
        case .queryString: return queryString
        case .serverSocket: return serverSocket
        case .requestHeader(let name): return header(name) ?? ""
        case .other(let spelling): return otherField(spelling)
        }
    }
}
