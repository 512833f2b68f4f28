import Glibc

/// Whether this kernel offers kernel TLS: `tls` among the TCP upper-layer protocols it has
/// loaded (`/proc/sys/net/ipv4/tcp_available_ulp`). TLS contexts then ask OpenSSL for it.
public enum KernelTLS {
    public static var isAvailable: Bool {
        let fd = open("/proc/sys/net/ipv4/tcp_available_ulp", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 512)
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return false }
        return String(decoding: bytes[..<n], as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" }).contains("tls")
    }
}
