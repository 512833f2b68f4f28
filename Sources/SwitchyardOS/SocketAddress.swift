import Glibc
import CSwitchyardShims

/// An IPv4, IPv6 or unix-domain socket address, with the text forms logs and CGI variables need.
public enum SocketAddress: CustomStringConvertible, Sendable {
    case ipv4(sockaddr_in)
    case ipv6(sockaddr_in6)
    case unix(String)

    /// Resolves "host" + port. Accepts IPv4/IPv6 literals, "[v6]" and names (getaddrinfo).
    public static func resolve(host: String, port: Int) throws -> SocketAddress {
        guard (0...65_535).contains(port) else {
            throw SystemError("resolve", errno: EINVAL, context: "\(host): port \(port) is not in 0...65535")
        }
        var h = host
        if h.hasPrefix("[") && h.hasSuffix("]") { h = String(h.dropFirst().dropLast()) }
        if h.isEmpty || h == "*" { h = "0.0.0.0" }
        var v4 = sockaddr_in()
        if inet_pton(AF_INET, h, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = in_port_t(UInt16(port).bigEndian)
            return .ipv4(v4)
        }
        var v6 = sockaddr_in6()
        if inet_pton(AF_INET6, h, &v6.sin6_addr) == 1 {
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = in_port_t(UInt16(port).bigEndian)
            return .ipv6(v6)
        }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(h, String(port), &hints, &result)
        guard rc == 0, let first = result else {
            throw SystemError("getaddrinfo", errno: EINVAL, context: "\(host): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(result) }
        if first.pointee.ai_family == AF_INET6 {
            let a = first.pointee.ai_addr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee }
            return .ipv6(a)
        }
        let a = first.pointee.ai_addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee }
        return .ipv4(a)
    }

    /// Parses lighttpd's "host:port", ":port", "[v6]:port" socket syntax; "/path" is a unix socket.
    public static func parse(_ text: String, defaultHost: String = "0.0.0.0") throws -> SocketAddress {
        if text.hasPrefix("/") { return .unix(text) }
        if text.hasPrefix("[") , let close = text.firstIndex(of: "]") {
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            let port = rest.hasPrefix(":") ? Int(rest.dropFirst()) ?? 80 : 80
            return try resolve(host: host, port: port)
        }
        if let colon = text.lastIndex(of: ":") {
            let host = String(text[..<colon])
            guard let port = Int(text[text.index(after: colon)...]) else {
                throw SystemError("parse address", errno: EINVAL, context: text)
            }
            return try resolve(host: host.isEmpty ? defaultHost : host, port: port)
        }
        return try resolve(host: text, port: 80)
    }

    public var family: Int32 {
        switch self {
        case .ipv4: return AF_INET
        case .ipv6: return AF_INET6
        case .unix: return AF_UNIX
        }
    }

    public var port: Int {
        switch self {
        case .ipv4(let a): return Int(UInt16(bigEndian: a.sin_port))
        case .ipv6(let a): return Int(UInt16(bigEndian: a.sin6_port))
        case .unix: return 0
        }
    }

    /// The address without port ("127.0.0.1", "::1", or the unix path).
    public var host: String {
        switch self {
        case .ipv4(let a):
            // Dotted quad by hand: every CGI/SCGI/FastCGI request formats two of these.
            let v = UInt32(bigEndian: a.sin_addr.s_addr)
            return String(unsafeUninitializedCapacity: 15) { out in
                var n = 0
                for shift in stride(from: 24, through: 0, by: -8) {
                    let octet = Int((v >> UInt32(shift)) & 0xFF)
                    if octet >= 100 { out[n] = UInt8(0x30 + octet / 100); n += 1 }
                    if octet >= 10 { out[n] = UInt8(0x30 + (octet / 10) % 10); n += 1 }
                    out[n] = UInt8(0x30 + octet % 10); n += 1
                    if shift > 0 { out[n] = 0x2E; n += 1 }
                }
                return n
            }
        case .ipv6(var a):
            var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            inet_ntop(AF_INET6, &a.sin6_addr, &buf, socklen_t(buf.count))
            let s = String(cString: buf)
            if s.hasPrefix("::ffff:") && s.contains(".") { return String(s.dropFirst(7)) }
            return s
        case .unix(let path): return path
        }
    }

    public var description: String {
        switch self {
        case .ipv4: return "\(host):\(port)"
        case .ipv6: return "[\(host)]:\(port)"
        case .unix(let path): return "unix:\(path)"
        }
    }

    /// Calls `body` with a sockaddr pointer and length for bind/connect.
    public func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        switch self {
        case .ipv4(var a):
            return withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        case .ipv6(var a):
            return withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        case .unix(let path):
            var a = sockaddr_un()
            a.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            let maxLen = MemoryLayout.size(ofValue: a.sun_path) - 1
            withUnsafeMutableBytes(of: &a.sun_path) { raw in
                for (i, b) in bytes.prefix(maxLen).enumerated() { raw[i] = b }
            }
            let len = socklen_t(MemoryLayout<sa_family_t>.size + min(bytes.count, maxLen) + 1)
            return withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, len) } }
        }
    }

    /// Builds an address from what accept/getsockname filled in.
    public init?(storage: UnsafePointer<sockaddr_storage>) {
        switch Int32(storage.pointee.ss_family) {
        case AF_INET:
            self = .ipv4(UnsafeRawPointer(storage).load(as: sockaddr_in.self))
        case AF_INET6:
            self = .ipv6(UnsafeRawPointer(storage).load(as: sockaddr_in6.self))
        case AF_UNIX:
            let path = UnsafeRawPointer(storage).assumingMemoryBound(to: sockaddr_un.self)
            let s = withUnsafeBytes(of: path.pointee.sun_path) { raw -> String in
                let bytes = raw.prefix(while: { $0 != 0 })
                return String(decoding: bytes, as: UTF8.self)
            }
            self = .unix(s)
        default:
            return nil
        }
    }

    public static func local(of fd: Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        if rc != 0 { return nil }
        return SocketAddress(storage: &storage)
    }
}
