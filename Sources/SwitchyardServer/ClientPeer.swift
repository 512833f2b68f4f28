import SwitchyardOS

/// Who is at the other end of a client connection and where it came in: what every exchange on
/// that connection reports to handlers (REMOTE_ADDR, SERVER_ADDR, conditionals, the access log).
///
/// Its own object rather than fields of the connection, so an exchange can hold it strongly
/// (it refers back to nothing, so no cycle) and answer these questions without going through
/// its weak reference to the connection. An HTTP/2 stream would share its connection's peer
/// the same way.
final class ClientPeer {
    /// The client's descriptor, for getsockname(2) only.
    private let fd: Int32
    let remote: SocketAddress?
    let listener: ListenerInfo
    /// getsockname(2) only when asked (SERVER_ADDR for gateways): static requests never need it.
    private(set) lazy var local: SocketAddress? = SocketAddress.local(of: fd)
    /// Text forms, computed once per connection (inet_ntop is not free).
    private(set) lazy var remoteHost: String = remote?.host ?? ""
    private(set) lazy var localHost: String = local?.host ?? ""
    /// The client's TLS session, nil on plain HTTP (SSL_PROTOCOL, SSL_CIPHER for gateways).
    let tls: TLSTransport?
    /// How the error log names this client.
    var description: String { remote?.description ?? "client" }

    init(fd: Int32, remote: SocketAddress?, listener: ListenerInfo, tls: TLSTransport? = nil) {
        self.fd = fd
        self.tls = tls
        self.remote = remote
        self.listener = listener
    }

    /// `Router.stripPort` of a Host value, remembered for the connection: a keep-alive client
    /// sends the same Host on every request, and comparing is cheaper than building the string.
    func hostWithoutPort(_ rawHost: String) -> String {
        if rawHost != hostMemo.raw { hostMemo = (rawHost, Router.stripPort(rawHost)) }
        return hostMemo.stripped
    }
    private var hostMemo = (raw: "", stripped: "")
}

/// What a listener is: how requests arriving on it look to conditionals and CGI variables.
struct ListenerInfo {
    var scheme: String
    var serverSocket: String      // "ip:port" as configured / bound
    var port: Int
    /// Connections accepted here speak TLS with this slot's context at accept time
    /// (`ssl.engine = "enable"`; SIGHUP may replace it).
    var tls: TLSContextSlot? = nil
}
