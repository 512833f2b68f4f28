import Glibc
import CSwitchyardShims
import SwitchyardWebSocket

/// Checks a password against one htpasswd hash, in the formats `htpasswd` writes and lighttpd's
/// mod_authn_file reads: bcrypt (`$2y$`, `-B`), Apache MD5 (`$apr1$`, Debian's default), SHA-1
/// (`{SHA}`, `-s`), and whatever else the system's crypt(3) knows (`$5$`/`$6$` SHA-crypt, DES).
/// Every comparison takes the same time whatever bytes differ.
enum PasswordHash {
    static func verify(password: String, hash: String) -> Bool {
        if hash.hasPrefix("{SHA}") {
            let expected = Base64.encode(SHA1.hash(Array(password.utf8)))
            return constantTimeEquals(Array(expected.utf8), Array(hash.utf8.dropFirst(5)))
        }
        if hash.hasPrefix("$apr1$") {
            guard let computed = md5Crypt(password: Array(password.utf8), setting: hash, magic: "$apr1$") else { return false }
            return constantTimeEquals(Array(computed.utf8), Array(hash.utf8))
        }
        // bcrypt, SHA-crypt, MD5-crypt ($1$) and DES: crypt_r(3), which compares in constant time.
        return sy_crypt_verify(password, hash) == 1
    }

    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in a.indices { diff |= a[i] ^ b[i] }
        return diff == 0
    }

    private static let itoa64 = Array("./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// Poul-Henning Kamp's MD5-crypt, with `magic` "$apr1$" (Apache) or "$1$" (the same algorithm
    /// libcrypt implements, which the unit tests use to check this one). `setting` is the stored
    /// hash or "magic + salt"; nil when it is malformed.
    static func md5Crypt(password pw: [UInt8], setting: String, magic: String) -> String? {
        guard setting.hasPrefix(magic) else { return nil }
        let salt = Array(setting.utf8.dropFirst(magic.utf8.count).prefix { $0 != UInt8(ascii: "$") }.prefix(8))
        let m = Array(magic.utf8)
        var ctx = pw + m + salt
        var alt = MD5.hash(pw + salt + pw)
        var n = pw.count
        while n > 0 { ctx += alt.prefix(min(16, n)); n -= 16 }
        n = pw.count
        while n > 0 { ctx.append((n & 1) != 0 ? 0 : (pw.first ?? 0)); n >>= 1 }
        alt = MD5.hash(ctx)
        for i in 0..<1000 {
            var round: [UInt8] = (i & 1) != 0 ? pw : alt
            if i % 3 != 0 { round += salt }
            if i % 7 != 0 { round += pw }
            round += (i & 1) != 0 ? alt : pw
            alt = MD5.hash(round)
        }
        var out = magic + String(decoding: salt, as: UTF8.self) + "$"
        func put(_ v: UInt32, _ count: Int) {
            var v = v
            for _ in 0..<count { out.append(Character(Unicode.Scalar(itoa64[Int(v & 0x3F)]))); v >>= 6 }
        }
        let f = alt.map(UInt32.init)
        put(f[0] << 16 | f[6] << 8 | f[12], 4)
        put(f[1] << 16 | f[7] << 8 | f[13], 4)
        put(f[2] << 16 | f[8] << 8 | f[14], 4)
        put(f[3] << 16 | f[9] << 8 | f[15], 4)
        put(f[4] << 16 | f[10] << 8 | f[5], 4)
        put(f[11], 2)
        return out
    }
}
