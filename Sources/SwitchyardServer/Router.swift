import Glibc
import SwitchyardHTTP
import SwitchyardConfig

/// The outcome of routing: who answers, whether they want the body, and the body size limit.
struct RoutedRequest {
    var responder: Responder
    var wantsBody: Bool
    var bodyLimit: Int

    init(handler: RequestHandler, wantsBody: Bool, bodyLimit: Int) {
        self.responder = .handler(handler)
        self.wantsBody = wantsBody
        self.bodyLimit = bodyLimit
    }

    /// A static file: answered at once, the body (if any) is not wanted.
    init(staticFile context: RequestContext) {
        self.responder = .staticFile(context)
        self.wantsBody = false
        self.bodyLimit = context.settings.maxRequestSize
    }
}

/// Who produces the response.
enum Responder {
    /// An object the connection keeps while the exchange lasts (gateways, routing errors).
    case handler(RequestHandler)
    /// A static file: the whole response is produced synchronously, so no handler object is
    /// allocated and kept (see `StaticFileHandler`).
    case staticFile(RequestContext)
}

/// Everything known about a request once routed: its settings and its place on disk.
///
/// Immutable and shared: a class, because it travels from the router through the route to the
/// handler (and gateways keep it), and one reference is cheaper to pass on than seven.
final class RequestContext {
    let head: HTTPRequestHead
    let settings: RequestSettings
    let path: String              // normalised, decoded URL path
    let query: String
    let host: String              // Host without port
    let scheme: String
    let remoteIP: String

    init(head: HTTPRequestHead, settings: RequestSettings, path: String, query: String, host: String, scheme: String,
         remoteIP: String) {
        self.head = head
        self.settings = settings
        self.path = path
        self.query = query
        self.host = host
        self.scheme = scheme
        self.remoteIP = remoteIP
    }
}

/// Who answers a request: the connection asks this once per request (and again for a local
/// redirect). The worker's `Router` in the server; a test can give a connection its own.
protocol ExchangeRouting: AnyObject {
    func handler(for head: HTTPRequestHead, connection: any ClientExchange) -> RoutedRequest
}

/// Picks the handler for a request the way lighttpd's module chain does: FastCGI, SCGI and proxy
/// routes first (in `server.modules` order, with CGI by cgi.assign), then static files.
final class Router: ExchangeRouting {
    unowned let worker: Worker

    init(worker: Worker) { self.worker = worker }

    func handler(for head: HTTPRequestHead, connection: any ClientExchange) -> RoutedRequest {
        let host = connection.hostWithoutPort(head.host ?? "")
        let scheme = connection.listener.scheme
        let path: String
        switch RequestPath.normalize(head.path) {
        case .success(let p): path = p
        case .failure(let error):
            return fixed(error.status, connection: connection, log: "bad path \(head.path): \(error.reason)")
        }
        guard let settings = worker.unconditionalSettings
            ?? worker.settings(for: conditionInput(head, path: path, host: host, scheme: scheme, connection: connection)) else {
            return fixed(500, connection: connection, log: nil)
        }
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

        for module in settings.gatewayModules {
            switch module {
            case .fastcgi:
                if let table = settings.fastcgi, let r = worker.backends.route(table: table, context: ctx, connection: connection) { return r }
            case .scgi:
                if let table = settings.scgi, let r = worker.backends.route(table: table, context: ctx, connection: connection) { return r }
            case .proxy:
                if let table = settings.proxyTable, let r = worker.backends.route(table: table, context: ctx, connection: connection) { return r }
            case .cgi:
                if let cgi = settings.cgi, let r = CGIRoute.route(cgi: cgi, context: ctx, connection: connection) { return r }
            }
        }
        return RoutedRequest(staticFile: ctx)
    }

    /// What `$HTTP[...]` conditionals test, for configurations that have some.
    private func conditionInput(_ head: HTTPRequestHead, path: String, host: String, scheme: String,
                                connection: any ClientExchange) -> ConditionInput {
        ConditionInput(url: path, host: host, method: head.method, scheme: scheme,
                       remoteIP: connection.remoteHost, queryString: head.query ?? "",
                       serverSocket: connection.listener.serverSocket, header: { head.headers.first($0) })
    }

    private func fixed(_ status: Int, connection: any ClientExchange, log: String?) -> RoutedRequest {
        if let log { worker.errorLog.info(connection.remote?.description ?? "client", log) }
        return RoutedRequest(handler: FixedResponseHandler(status: status, connection: connection), wantsBody: false, bodyLimit: 0)
    }

    /// "host:port" -> "host", "[v6]:port" -> "[v6]". Works on the UTF-8 bytes: this runs for every request.
    static func stripPort(_ host: String) -> String {
        var copy = host
        let stripped: String? = copy.withUTF8 { b in
            guard let first = b.first else { return nil }
            var end = b.count
            if first == UInt8(ascii: "[") {
                guard let close = b.firstIndex(of: UInt8(ascii: "]")) else { return nil }
                end = close + 1
            } else {
                while end > 0 && b[end - 1] != UInt8(ascii: ":") { end -= 1 }
                guard end > 0 else { return nil }
                end -= 1
            }
            return end == b.count ? nil : String(decoding: UnsafeBufferPointer(rebasing: b[..<end]), as: UTF8.self)
        }
        return stripped ?? host
    }
}

/// Answers with a fixed status (errors decided while routing).
final class FixedResponseHandler: RequestHandler {
    let status: Int
    /// Weak: the handler answers synchronously from `start()`; a late call finds nil, not a freed object.
    weak var connection: (any ClientExchange)?
    var extraHeaders: [(String, String)] = []

    init(status: Int, connection: any ClientExchange, extraHeaders: [(String, String)] = []) {
        self.status = status
        self.connection = connection
        self.extraHeaders = extraHeaders
    }

    func start() {
        connection?.sendError(status, close: status >= 400 && status != 404 && status != 403 && status != 405, extraHeaders: extraHeaders)
    }
}
