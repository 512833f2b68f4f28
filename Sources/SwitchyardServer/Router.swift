import Glibc
import SwitchyardHTTP
import SwitchyardConfig

/// The outcome of routing: who answers, whether they want the body, and the body size limit.
struct RoutedRequest {
    var responder: Responder
    var wantsBody: Bool
    var bodyLimit: Int
    /// `setenv.add-response-header` / `set-response-header` of the request's scope.
    var responseHeaders: [(String, String)] = []
    /// The counters of the route that answers (nil for static files and routing errors).
    var stats: RouteStats?

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

    /// Hands the request to this responder, for an HTTP/1.1 exchange and an HTTP/2 stream alike.
    /// A static file is answered before this returns (nil). A handler is installed on the exchange
    /// (`install`) before it starts, because `start()` may call back into the exchange (an answer,
    /// a resumed read), which must already find it there; it is returned.
    func begin(on exchange: any ClientExchange, install: (RequestHandler) -> Void) -> RequestHandler? {
        switch self {
        case .staticFile(let context):
            StaticFileHandler(context: context, connection: exchange).respond()
            return nil
        case .handler(let h):
            install(h)
            h.start()
            return h
        }
    }
}

/// The methods a static file answers with its content (`RequestContext.plainMethod`).
enum PlainMethod {
    case get, head, other

    init(_ method: String) {
        self = method == "GET" ? .get : method == "HEAD" ? .head : .other
    }
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
    /// The directory the path is looked up in: the document root, or an `alias.url` directory.
    let root: String
    /// The path below `root` ("/..."): `path` itself unless an alias replaced its prefix.
    let physicalPath: String
    /// The URL prefix an alias replaced ("" without one): SCRIPT_NAME = urlPrefix + the script's path.
    let urlPrefix: String
    /// The user mod_auth authenticated (REMOTE_USER), if the path required one.
    let remoteUser: String?

    /// What the static-file handler works out from the fields above, kept for the next request
    /// the router's `StaticRouteMemo` answers with this context (loop-confined, like the context).
    /// Whether the head has an `If-*` or `Range` field (none: the validators are not looked at).
    private(set) lazy var mayBeConditionalOrRanged = head.headers.mayBeConditionalOrRanged
    /// GET, HEAD or another method (what a static file answers with a 200 or not).
    private(set) lazy var plainMethod = PlainMethod(head.method)
    /// The cached file that answered last, and the wall-clock second its `stat(2)` was trusted in
    /// (`server.stat-cache-engine = "simple"`): within that second the file cache would give
    /// the same entry for the same path and settings.
    var recentFile: (entry: StaticFileEntry, second: Int)?

    init(head: HTTPRequestHead, settings: RequestSettings, path: String, query: String, host: String, scheme: String,
         remoteIP: String, remoteUser: String? = nil) {
        self.head = head
        self.remoteUser = remoteUser
        self.settings = settings
        self.path = path
        self.query = query
        self.host = host
        self.scheme = scheme
        self.remoteIP = remoteIP
        if settings.hasAliases, let (root, rest, prefix) = settings.aliases.resolve(path) {
            self.root = root
            self.physicalPath = rest
            self.urlPrefix = prefix
        } else {
            self.root = settings.documentRoot
            self.physicalPath = path
            self.urlPrefix = ""
        }
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
    /// mod_auth's htpasswd files and remembered logins, per worker.
    private let authenticator = BasicAuthenticator()
    /// mod_extforward, read once: it is global (the client address picks the conditionals).
    private lazy var extforward: ExtForwardSettings? = worker.config.globalSettings.extforward

    init(worker: Worker) { self.worker = worker }

    /// A reload reached the worker: the global mod_extforward settings are read again.
    func configurationChanged() {
        extforward = worker.config.globalSettings.extforward
        lastStaticRoute = nil
        lastRoutedHead = nil
    }

    func handler(for head: HTTPRequestHead, connection: any ClientExchange) -> RoutedRequest {
        if let context = lastStaticRoute?.context(for: head, connection: connection) {
            var routed = RoutedRequest(staticFile: context)
            if context.settings.hasResponseHeaders { routed.responseHeaders = context.settings.responseHeaders }
            return routed
        }
        var routed = route(head, connection: connection, rewrites: 0, onceApplied: false)
        if let headers = lastResponseHeaders { routed.responseHeaders = headers; lastResponseHeaders = nil }
        // A head seen twice in a row is likely to come again: only then is its route kept, so
        // requests that never repeat pay a comparison that ends at the first part that differs, not a memo each.
        if case .staticFile(let context) = routed.responder, let last = lastRoutedHead, last == head {
            lastStaticRoute = StaticRouteMemo.ifRepeatable(head, context: context, connection: connection)
        }
        lastRoutedHead = head
        return routed
    }

    /// What `handler(for:connection:)` would answer `head` from `peer` with when its kept static
    /// route applies: that route's context (`HTTP1Connection.answerRepeatedStaticRequest`).
    func repeatedStaticContext(for head: HTTPRequestHead, peer: ClientPeer) -> RequestContext? {
        lastStaticRoute?.context(for: head, remoteHost: peer.remoteHost, listener: peer.listener)
    }

    /// The last request this loop routed to a static file (see `StaticRouteMemo`), and the head
    /// it routed last.
    private var lastStaticRoute: StaticRouteMemo?
    private var lastRoutedHead: HTTPRequestHead?

    /// The response headers of the scope the last routing resolved (set by `route`, read once).
    private var lastResponseHeaders: [(String, String)]?

    /// lighttpd re-runs its request pipeline (conditionals included) after a rewrite; so does
    /// this, at most `maxRewrites` times (a rule that keeps matching its own output is a 500).
    static let maxRewrites = 16

    private func route(_ head: HTTPRequestHead, connection: any ClientExchange, rewrites: Int, onceApplied: Bool) -> RoutedRequest {
        let host = connection.hostWithoutPort(head.host ?? "")
        let remoteIP = extforward?.clientAddress(peer: connection.remoteHost, head: head) ?? connection.remoteHost
        let scheme = connection.listener.scheme
        let path: String
        let isConnect = head.method == "CONNECT"
        // lighttpd's URL path of a CONNECT is its authority-form target ("10.0.0.1:443"): conditions
        // and the proxy.server match see that (so "" and suffix routes like ":443" match, "/..." never).
        switch isConnect ? .success(head.target) : RequestPath.normalize(head.path) {
        case .success(let p): path = p
        case .failure(let error):
            return fixed(error.status, connection: connection, log: "bad path \(head.path): \(error.reason)")
        }
        guard let settings = worker.unconditionalSettings
            ?? worker.settings(for: conditionInput(head, path: path, host: host, scheme: scheme, remoteIP: remoteIP,
                                                   connection: connection)) else {
            return fixed(500, connection: connection, log: nil)
        }
        lastResponseHeaders = settings.responseHeaders.isEmpty ? nil : settings.responseHeaders
        if settings.hasURLRules && !isConnect {
            // %N: a conditional block's regex run again on this request's subject (only for rules that use it).
            let document = worker.config.document
            let captures: (Int) -> [String] = { index in   // called only during this routing
                guard index < document.contexts.count else { return [] }
                let condition = document.contexts[index].condition
                let input = self.conditionInput(head, path: path, host: host, scheme: scheme, remoteIP: remoteIP, connection: connection)
                guard let subject = input.subject(for: condition.field) else { return [] }
                return condition.regex?.captures(subject) ?? []
            }
            if let r = applyURLRules(settings, head: head, path: path, connection: connection, rewrites: rewrites,
                                     onceApplied: onceApplied, conditionCaptures: captures) { return r }
        }
        var remoteUser: String? = nil
        if let auth = settings.auth, let requirement = auth.requirement(for: path) {
            switch authenticator.check(head, requirement: requirement, userFile: auth.userFile) {
            case .allowed(let user):
                remoteUser = user
            case .challenge(let why):
                if let why { worker.errorLog.info(connection.remote?.description ?? "client", "auth: \(why) (\(path))") }
                let challenge = "Basic realm=\"\(requirement.realm)\", charset=\"UTF-8\""
                return RoutedRequest(handler: FixedResponseHandler(status: 401, connection: connection,
                                                                   extraHeaders: [("WWW-Authenticate", challenge)]),
                                     wantsBody: false, bodyLimit: 0)
            case .unavailable(let why):
                return fixed(500, connection: connection, log: "auth: \(why)")
            }
        }
        if settings.hasStatusURLs, let page = settings.status.page(for: path) {
            // After mod_redirect/mod_rewrite/mod_access and mod_auth, like any route.
            return RoutedRequest(handler: StatusHandler(page: page, auto: head.query == "auto", connection: connection),
                                 wantsBody: false, bodyLimit: 0)
        }
        let ctx = RequestContext(head: settings.hasRequestHeaderRules ? settings.setenv.apply(to: head) : head, settings: settings, path: path, query: head.query ?? "",
                                 host: host, scheme: scheme, remoteIP: remoteIP, remoteUser: remoteUser)

        if settings.maxRequestSize > 0, let cl = head.contentLength, cl > settings.maxRequestSize {
            return fixed(413, connection: connection, log: "Content-Length \(cl) over server.max-request-size")
        }
        if (head.method == "POST" || head.method == "PUT") && head.contentLength == nil && !head.isChunked {
            return fixed(411, connection: connection, log: nil)
        }
        if isConnect {
            // Only mod_proxy with `proxy.header` connect takes a CONNECT, on a route its target matches.
            if settings.gatewayModules.contains(.proxy), let table = settings.proxyTable, table.proxyHeader?.connectMethod == true,
               let r = worker.backends.route(table: table, context: ctx, connection: connection) { return r }
            return fixed(405, connection: connection, log: nil)
        }
        if head.target == "*" {
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
            case .wstunnel:
                if let tunnel = settings.wstunnel, let r = worker.backends.routeTunnel(tunnel, context: ctx, connection: connection) { return r }
            }
        }
        return RoutedRequest(staticFile: ctx)
    }

    /// mod_redirect, then mod_rewrite (the request routed again with the new path and query; the
    /// client's target stays REQUEST_URI, as in lighttpd), then mod_access. Nil: none applied.
    private func applyURLRules(_ settings: RequestSettings, head: HTTPRequestHead, path: String, connection: any ClientExchange,
                               rewrites: Int, onceApplied: Bool, conditionCaptures: (Int) -> [String]) -> RoutedRequest? {
        let rules = settings.urlRules
        let uri = head.path + (head.query.map { "?" + $0 } ?? "")
        if let location = rules.redirect(uri, conditionCaptures: conditionCaptures) {
            return RoutedRequest(handler: FixedResponseHandler(status: rules.redirectCode, connection: connection,
                                                               extraHeaders: [("Location", location)]),
                                 wantsBody: false, bodyLimit: 0)
        }
        let isFile = {
            let (root, below, _) = settings.aliases.resolve(path) ?? (settings.documentRoot, path, "")
            var st = stat()
            return stat(StaticFileHandler.join(root, below), &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
        }
        if let (rewritten, kind) = rules.rewrite(uri, onceApplied: onceApplied, isFile: isFile, conditionCaptures: conditionCaptures) {
            guard rewrites < Router.maxRewrites else {
                return fixed(500, connection: connection, log: "url.rewrite: more than \(Router.maxRewrites) rewrites of \(head.target)")
            }
            var next = head
            let q = rewritten.firstIndex(of: "?")
            next.path = q.map { String(rewritten[..<$0]) } ?? rewritten
            next.query = q.map { String(rewritten[rewritten.index(after: $0)...]) }
            return route(next, connection: connection, rewrites: rewrites + 1, onceApplied: onceApplied || kind == .once)
        }
        if rules.denies(path: path) {
            return fixed(403, connection: connection, log: nil)
        }
        return nil
    }

    /// What `$HTTP[...]` conditionals test, for configurations that have some.
    private func conditionInput(_ head: HTTPRequestHead, path: String, host: String, scheme: String, remoteIP: String,
                                connection: any ClientExchange) -> ConditionInput {
        ConditionInput(url: path, host: host, method: head.method, scheme: scheme,
                       remoteIP: remoteIP, queryString: head.query ?? "",
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
        connection?.sendError(status, close: status >= 400 && ![401, 403, 404, 405].contains(status), extraHeaders: extraHeaders)
    }
}
