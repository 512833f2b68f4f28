/// The wire protocol the application speaks towards the gateway.
enum EchoProtocol: String, Sendable {
    case scgi
    case fastCGI = "fastcgi"
}
