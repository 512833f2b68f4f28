import Glibc
import SwitchyardHTTP
import SwitchyardConfig

/// The outcome of routing: who answers, whether they want the body, and the body size limit.
struct RoutedRequest {
    var handler: RequestHandler
    var wantsBody: Bool
    var bodyLimit: Int
}

/// Everything known about a request once routed: its settings and its place on disk.
struct RequestContext {
    var head: HTTPRequestHead
    var settings: RequestSettings
    var path: String              // normalised, decoded URL path
    var query: String
    var host: String              // Host without port
    var scheme: String
    var remoteIP: String
}

/// Picks the handler for a request the way lighttpd's module chain does: FastCGI and SCGI routes
/// first, then CGI by cgi.assign, then static files.
final class Router {
    unowned let worker: Worker

    init(worker: Worker) { self.worker = worker }

    func handler(for head: HTTPRequestHead, connection: HTTPConnection) -> RoutedRequest {
        let rawHost = head.host ?? ""
        let host = Router.stripPort(rawHost)
        let scheme = connection.listener.scheme
        var input = ConditionInput(url: "", host: host, method: head.method, scheme: scheme,
                                   remoteIP: connection.remoteHost, queryString: head.query ?? "",
                                   serverSocket: connection.listener.serverSocket, header: { head.headers.first($0) })
        let path: String
        switch RequestPath.normalize(head.path) {
        case .success(let p): path = p
        case .failure(let error):
            return fixed(error.status, connection: connection, log: "bad path \(head.path): \(error.reason)")
        }
        input.url = path
        let settings = worker.settings(for: input)
        let ctx = RequestContext(head: head, settings: settings, path: path, query: head.query ?? "", host: host, scheme: scheme,
                                 remoteIP: connection.remoteHost)

        if settings.maxRequestSize > 0, let cl = head.contentLength, cl > settings.maxRequestSize {
            return fixed(413, connection: connection, log: "Content-Length \(cl) over server.max-request-size")
        }
        if (head.method == "POST" || head.method == "PUT") && head.contentLength == nil && !head.isChunked {
            return fixed(411, connection: connection, log: nil)
        }
        if head.method == "CONNECT" || head.target == "*" {
            return fixed(head.method == "OPTIONS" ? 200 : 405, connection: connection, log: nil)
        }

        for module in moduleChain(settings) {
            switch module {
            case "mod_fastcgi":
                if let table = settings.fastcgi, let r = worker.backends.route(table: table, context: ctx, connection: connection) { return r }
            case "mod_scgi":
                if let table = settings.scgi, let r = worker.backends.route(table: table, context: ctx, connection: connection) { return r }
            case "mod_cgi":
                if let cgi = settings.cgi, let r = CGIRoute.route(cgi: cgi, context: ctx, connection: connection) { return r }
            default:
                break
            }
        }
        return RoutedRequest(handler: StaticFileHandler(context: ctx, connection: connection), wantsBody: false, bodyLimit: settings.maxRequestSize)
    }

    private func moduleChain(_ settings: RequestSettings) -> [String] {
        settings.moduleOrder.filter { $0 == "mod_fastcgi" || $0 == "mod_scgi" || $0 == "mod_cgi" }
    }

    private func fixed(_ status: Int, connection: HTTPConnection, log: String?) -> RoutedRequest {
        if let log { worker.errorLog.info(connection.remote?.description ?? "client", log) }
        return RoutedRequest(handler: FixedResponseHandler(status: status, connection: connection), wantsBody: false, bodyLimit: 0)
    }

    static func stripPort(_ host: String) -> String {
        if host.hasPrefix("[") {
            if let close = host.firstIndex(of: "]") { return String(host[...close]) }
            return host
        }
        if let colon = host.utf8.lastIndex(of: UInt8(ascii: ":")) { return String(host[..<colon]) }
        return host
    }
}

/// Answers with a fixed status (errors decided while routing).
final class FixedResponseHandler: RequestHandler {
    let status: Int
    unowned let connection: HTTPConnection
    var extraHeaders: [(String, String)] = []

    init(status: Int, connection: HTTPConnection, extraHeaders: [(String, String)] = []) {
        self.status = status
        self.connection = connection
        self.extraHeaders = extraHeaders
    }

    func start() {
        connection.sendError(status, close: status >= 400 && status != 404 && status != 403 && status != 405, extraHeaders: extraHeaders)
    }
}
