/// The wire protocol the application speaks towards the gateway (or, for `http`, towards a
/// reverse proxy or a client directly; for `raw`, towards a WebSocket tunnel).
enum EchoProtocol: String, Sendable {
    case scgi
    case fastCGI = "fastcgi"
    /// HTTP/1.1 with WebSocket upgrade (mod_proxy's backend, the benchmark's direct baseline).
    case http
    /// Bytes echoed as they come (mod_wstunnel's backend).
    case raw
}
