import SwitchyardConfig

/// mod_status' URLs in effect for a request (valid inside conditionals, as in lighttpd), plus
/// Switchyard's `status.metrics-url` for Prometheus. A URL is matched against the request path exactly.
struct StatusURLs: Sendable {
    enum Page: Sendable { case status, statistics, config, metrics }

    var status: String?
    var statistics: String?
    var config: String?
    var metrics: String?

    var isEmpty: Bool { status == nil && statistics == nil && config == nil && metrics == nil }

    func page(for path: String) -> Page? {
        if path == status { return .status }
        if path == statistics { return .statistics }
        if path == metrics { return .metrics }
        if path == config { return .config }
        return nil
    }

    static let keys = ["status.status-url", "status.statistics-url", "status.config-url", "status.metrics-url"]

    static func parse(modules: [String], entry: (String) -> ConfigEntry?) throws -> StatusURLs {
        var urls = StatusURLs()
        guard modules.contains("mod_status") else { return urls }
        for key in keys {
            guard let e = entry(key) else { continue }
            guard let v = e.value.stringValue else { throw ConfigError(location: e.location, message: "\(key) must be a string") }
            if v.isEmpty { continue }   // lighttpd: "" disables the page (e.g. inside a conditional)
            guard v.hasPrefix("/") else { throw ConfigError(location: e.location, message: "\(key) must be a URL path starting with \"/\"") }
            switch key {
            case "status.status-url": urls.status = v
            case "status.statistics-url": urls.statistics = v
            case "status.config-url": urls.config = v
            default: urls.metrics = v
            }
        }
        return urls
    }
}
