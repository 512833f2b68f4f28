import Glibc
import SwitchyardHTTP
import SwitchyardWebSocket

/// Checks `Authorization: Basic` against an htpasswd file, per worker (no locks).
///
/// The file is re-read when its modification time or size changes (so `htpasswd` edits apply at
/// once, without a restart) and otherwise kept parsed. Successful checks are remembered per user
/// as a salted SHA-1 of the password until the file changes, so a client sending the same
/// credentials on every request pays for bcrypt once, not per request; wrong passwords are never
/// remembered. At most `maxRemembered` users are kept.
final class BasicAuthenticator {
    enum Outcome: Equatable {
        case allowed(user: String)
        /// 401 with a challenge; `log` says why (nil when no credentials were sent).
        case challenge(log: String?)
        /// The user file cannot be read: 500, the gateway's fault, not the client's.
        case unavailable(String)
    }

    private struct UserFile {
        var mtime: timespec
        var size: Int
        var hashes: [String: String]
    }
    private var files: [String: UserFile] = [:]
    private var remembered: [String: (digest: [UInt8], file: String)] = [:]
    private let salt: [UInt8] = (0..<16).map { _ in UInt8.random(in: 0...255) }
    static let maxRemembered = 4096

    func check(_ head: HTTPRequestHead, requirement: AuthSettings.Requirement, userFile: String) -> Outcome {
        guard let header = head.headers.first("Authorization") else { return .challenge(log: nil) }
        guard header.count > 6, header.prefix(6).lowercased() == "basic ",
              let decoded = Base64.decode(String(header.dropFirst(6)).trimmingSpaces()),
              let colon = decoded.firstIndex(of: UInt8(ascii: ":")) else {
            return .challenge(log: "malformed Basic credentials")
        }
        let user = String(decoding: decoded[..<colon], as: UTF8.self)
        let password = Array(decoded[(colon + 1)...])
        guard let file = load(userFile) else { return .unavailable("cannot read auth.backend.htpasswd.userfile \(userFile)") }
        if let allowed = requirement.users, !allowed.contains(user) {
            return .challenge(log: "user \"\(user)\" is not allowed by the require rule")
        }
        guard let hash = file.hashes[user] else { return .challenge(log: "unknown user \"\(user)\"") }
        let digest = SHA1.hash(salt + Array(user.utf8) + [0] + password)
        if let known = remembered[user], known.file == hash, known.digest == digest { return .allowed(user: user) }
        guard PasswordHash.verify(password: String(decoding: password, as: UTF8.self), hash: hash) else {
            return .challenge(log: "wrong password for user \"\(user)\"")
        }
        if remembered.count >= Self.maxRemembered { remembered.removeAll(keepingCapacity: true) }
        remembered[user] = (digest, hash)
        return .allowed(user: user)
    }

    /// The parsed file, re-read when it changed; nil when it cannot be read.
    private func load(_ path: String) -> UserFile? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        if let f = files[path], f.mtime.tv_sec == st.st_mtim.tv_sec, f.mtime.tv_nsec == st.st_mtim.tv_nsec, f.size == Int(st.st_size) {
            return f
        }
        guard st.st_size <= 16 << 20, let text = Self.read(path) else { return nil }
        var hashes: [String: String] = [:]
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) where !line.hasPrefix("#") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let hash = line[line.index(after: colon)...].prefix { $0 != ":" }     // htpasswd lines may carry more fields
            hashes[String(line[..<colon])] = String(hash)
        }
        let f = UserFile(mtime: st.st_mtim, size: Int(st.st_size), hashes: hashes)
        files[path] = f
        remembered.removeAll()
        return f
    }

    private static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; return nil }
            if n == 0 { break }
            bytes += chunk[..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

private extension String {
    func trimmingSpaces() -> String {
        String(self.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
