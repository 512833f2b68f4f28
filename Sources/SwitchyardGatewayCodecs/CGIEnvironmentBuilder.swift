/// Builds the RFC 3875 meta-variables for a request, following lighttpd's `http_cgi.c`.
///
/// One builder for every backend protocol, so CGI, SCGI, uwsgi and FastCGI scripts see the same
/// variables. Security rules live here, once: no `HTTP_PROXY` (httpoxy), no `HTTP_CONTENT_LENGTH`
/// / `HTTP_CONTENT_TYPE` shadows, and a header spelled with `_` can never override the header
/// spelled with `-` that maps to the same variable (`X_Forwarded_For` vs `X-Forwarded-For`).
public enum CGIEnvironmentBuilder {
    public static func build(_ info: CGIRequestInfo) -> CGIEnvironment {
        var env = CGIEnvironment()
        env.set("GATEWAY_INTERFACE", "CGI/1.1")
        env.set("SERVER_SOFTWARE", info.serverSoftware)
        env.set("SERVER_NAME", info.serverName)
        env.set("SERVER_ADDR", info.serverAddr)
        env.set("SERVER_PORT", String(info.serverPort))
        env.set("SERVER_PROTOCOL", info.serverProtocol)
        env.set("REQUEST_METHOD", info.method)
        env.set("REQUEST_URI", info.requestURI)
        env.set("REQUEST_SCHEME", info.scheme)
        if info.isTLS { env.set("HTTPS", "on") }
        env.set("SCRIPT_NAME", info.scriptName)
        env.set("SCRIPT_FILENAME", info.scriptFilename)
        if !info.pathInfo.isEmpty {
            env.set("PATH_INFO", info.pathInfo)
            env.set("PATH_TRANSLATED", joinPath(info.documentRoot, info.pathInfo))
        }
        env.set("QUERY_STRING", info.queryString)
        env.set("DOCUMENT_ROOT", info.documentRoot)
        if let n = info.contentLength { env.set("CONTENT_LENGTH", String(n)) }
        if let ct = info.headers.first(where: { asciiCaseInsensitiveEquals($0.name, "content-type") }),
           !ct.value.isEmpty {
            env.set("CONTENT_TYPE", ct.value)
        }
        env.set("REMOTE_ADDR", info.remoteAddr)
        env.set("REMOTE_PORT", String(info.remotePort))
        env.set("REDIRECT_STATUS", String(info.redirectStatus))

        let mapped = mapHeaders(info.headers, dropUnderscored: info.dropHeadersWithUnderscores)
        for (name, value) in mapped.variables { env.set(name, value) }
        for (name, value) in info.extra { env.set(name, value) }
        return env
    }

    /// Names of request headers that `build` drops because another header maps to the same
    /// `HTTP_*` variable (modern lighttpd answers 400 for these; a server may do the same).
    public static func conflictingHeaders(_ headers: [(name: String, value: String)]) -> [String] {
        mapHeaders(headers, dropUnderscored: false).conflicts
    }

    /// `HTTP_` + the header name upper-cased, every other non-alphanumeric byte mapped to `_`.
    public static func variableName(forHeader name: String) -> String {
        var bytes: [UInt8] = Array("HTTP_".utf8)
        bytes.reserveCapacity(5 + name.utf8.count)
        for c in name.utf8 {
            bytes.append(ASCII.isAlpha(c) ? c & ~0x20 : ASCII.isDigit(c) ? c : 0x5F)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: - Header mapping

    private struct Group {
        var name: String
        var values: [String]
        var variable: String
        var rank: Int
        var isCookie: Bool
    }

    /// 0: only alphanumerics and '-' (the canonical spelling); 1: other token characters; 2: has '_'.
    private static func rank(_ name: String) -> Int {
        var r = 0
        for c in name.utf8 {
            if c == 0x5F { return 2 }
            if !(ASCII.isAlphanumeric(c) || c == 0x2D) { r = 1 }
        }
        return r
    }

    private static func mapHeaders(
        _ headers: [(name: String, value: String)], dropUnderscored: Bool
    ) -> (variables: [(String, String)], conflicts: [String]) {
        var groups: [Group] = []
        var groupByLowerName: [String: Int] = [:]
        for (name, value) in headers where !name.isEmpty && !value.isEmpty {
            let lower = asciiLowercased(name)
            if let g = groupByLowerName[lower] {
                groups[g].values.append(value)
                continue
            }
            groupByLowerName[lower] = groups.count
            groups.append(Group(name: name, values: [value], variable: variableName(forHeader: name),
                                rank: rank(name), isCookie: lower == "cookie"))
        }

        // Resolve collisions: lowest rank wins, ties go to the first seen.
        var winner: [String: Int] = [:]
        var conflicts: [String] = []
        var dropped = [Bool](repeating: false, count: groups.count)
        for (i, g) in groups.enumerated() {
            switch g.variable {
            case "HTTP_PROXY", "HTTP_CONTENT_LENGTH", "HTTP_CONTENT_TYPE":
                dropped[i] = true
                continue
            default: break
            }
            if dropUnderscored && g.rank == 2 { dropped[i] = true; continue }
            if let w = winner[g.variable] {
                if g.rank < groups[w].rank {
                    dropped[w] = true
                    conflicts.append(groups[w].name)
                    winner[g.variable] = i
                } else {
                    dropped[i] = true
                    conflicts.append(g.name)
                }
            } else {
                winner[g.variable] = i
            }
        }

        var variables: [(String, String)] = []
        variables.reserveCapacity(groups.count)
        for (i, g) in groups.enumerated() where !dropped[i] {
            let value = g.values.count == 1 ? g.values[0] : g.values.joined(separator: g.isCookie ? "; " : ", ")
            variables.append((g.variable, value))
        }
        return (variables, conflicts)
    }

    // MARK: - Small string helpers (ASCII only; no Foundation)

    static func asciiLowercased(_ s: String) -> String {
        var needs = false
        for c in s.utf8 where c >= 0x41 && c <= 0x5A { needs = true; break }
        if !needs { return s }
        return String(decoding: s.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
    }

    static func asciiCaseInsensitiveEquals(_ a: String, _ b: String) -> Bool {
        guard a.utf8.count == b.utf8.count else { return false }
        for (x, y) in zip(a.utf8, b.utf8) {
            let lx = x >= 0x41 && x <= 0x5A ? x | 0x20 : x
            let ly = y >= 0x41 && y <= 0x5A ? y | 0x20 : y
            if lx != ly { return false }
        }
        return true
    }

    /// `root` + `path` with exactly one `/` between them.
    static func joinPath(_ root: String, _ path: String) -> String {
        if root.isEmpty { return path }
        let rootSlash = root.utf8.last == 0x2F
        let pathSlash = path.utf8.first == 0x2F
        if rootSlash && pathSlash { return root + path.dropFirst() }
        if !rootSlash && !pathSlash { return root + "/" + path }
        return root + path
    }
}
