import SwitchyardHTTP

/// A request routed to a static file, kept so that the same request again is not routed again.
///
/// Routing is a function of the request head, the client's address, the listener and the
/// configuration, with three exceptions that look elsewhere: URL rules (`url.rewrite-if-not-file`
/// stats the file system), mod_cgi (it looks for a script along the path) and mod_auth (it reads
/// its user file). A route whose settings have none of them is a pure function of the key — the
/// head, the client address and the listener — so its `RequestContext` can answer again: no path
/// normalisation, no settings lookup, no context allocated and freed (about 1.5k instructions of
/// a 7k static request). A rewritten request was routed again under other settings, so only a
/// context made for this very head is kept. The head is compared by storage first (the loop's
/// `HTTPRequestHeadMemo` and an HTTP/2 connection's `RepeatedRequestMemo` hand out the same one
/// again), then by fields. What the file is, is still decided per request by `StaticFileHandler`
/// and its cache.
///
/// The router drops it on a reload. The shared `RequestContext` is loop-confined; the two things
/// it learns while answering (`mayBeConditionalOrRanged`, `recentFile`) hold for every request
/// with this key.
final class StaticRouteMemo {
    let head: HTTPRequestHead
    let remoteHost: String
    let scheme: String
    let serverSocket: String
    let context: RequestContext

    /// The memo for a static route, or nil when its settings make routing depend on more than
    /// the key.
    static func ifRepeatable(_ head: HTTPRequestHead, context: RequestContext,
                             connection: any ClientExchange) -> StaticRouteMemo? {
        let settings = context.settings
        // A context whose head is another one came from a rewrite (routed again: its settings are
        // not those of this head) or from setenv's request headers: not kept.
        guard context.head.sharesStorage(with: head), !settings.hasURLRules, settings.cgi == nil, settings.auth == nil
        else { return nil }
        let listener = connection.listener
        return StaticRouteMemo(head: head, remoteHost: connection.remoteHost, scheme: listener.scheme,
                               serverSocket: listener.serverSocket, context: context)
    }

    private init(head: HTTPRequestHead, remoteHost: String, scheme: String, serverSocket: String, context: RequestContext) {
        self.head = head
        self.remoteHost = remoteHost
        self.scheme = scheme
        self.serverSocket = serverSocket
        self.context = context
    }

    /// The kept context when this is the same head (the same storage, or equal fields: HTTP/2
    /// connections each build their own head for the same request), from the same address, on the
    /// same listener.
    func context(for head: HTTPRequestHead, connection: any ClientExchange) -> RequestContext? {
        context(for: head, remoteHost: connection.remoteHost, listener: connection.listener)
    }

    func context(for head: HTTPRequestHead, remoteHost: String, listener: ListenerInfo) -> RequestContext? {
        guard head == self.head, remoteHost == self.remoteHost else { return nil }
        return listener.serverSocket == serverSocket && listener.scheme == scheme ? context : nil
    }
}
