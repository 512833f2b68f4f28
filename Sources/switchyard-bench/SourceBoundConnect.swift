import Glibc
import CSwitchyardShims
import SwitchyardOS

/// `--source-addresses`: a non-blocking connect from a chosen local address.
///
/// Binding with port 0 alone would reserve a port at bind time, unique per source address
/// whatever the destination; IP_BIND_ADDRESS_NO_PORT defers the choice to connect, where the
/// kernel only needs the whole 4-tuple to be unique. Either way each source address brings its
/// own ephemeral port range, which is the point: one address caps a run at ~28 000 connections
/// to one gateway address and port.
enum SourceBoundConnect {
    /// linux/in.h; not exported by the Glibc module.
    static let ipBindAddressNoPort: Int32 = 24

    /// Resolves the `--source-addresses` texts to port-0 socket addresses of the target's family.
    static func resolve(_ texts: [String], for target: SocketAddress) throws -> [SocketAddress] {
        try texts.map { text in
            let a = try SocketAddress.resolve(host: text, port: 0)
            guard a.family == target.family else {
                throw SystemError("source address", errno: EAFNOSUPPORT,
                                  context: "\(text) is not of the target's address family (\(target))")
            }
            return a
        }
    }

    static func connect(_ target: SocketAddress, from source: SocketAddress) throws -> Socket.ConnectResult {
        let fd = sy_socket(target.family, Int32(SOCK_STREAM.rawValue), 0)
        if fd < 0 { throw SystemError("socket", context: target.description) }
        var one: Int32 = 1
        // Best effort: without it (kernels before 4.2) bind reserves the port, which still works.
        _ = setsockopt(fd, Int32(IPPROTO_IP), ipBindAddressNoPort, &one, socklen_t(MemoryLayout<Int32>.size))
        if source.withSockAddr({ bind(fd, $0, $1) }) != 0 {
            let e = errno
            Syscall.close(fd)
            throw SystemError("bind", errno: e, context: "source address \(source.host)")
        }
        let rc = target.withSockAddr { Glibc.connect(fd, $0, $1) }
        if rc == 0 { return .connected(fd) }
        let e = errno
        if e == EINPROGRESS || e == EINTR { return .inProgress(fd) }
        Syscall.close(fd)
        throw SystemError("connect", errno: e, context: "\(target) from \(source.host)")
    }
}
