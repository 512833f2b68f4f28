/// Builds the RFC 3875 meta-variables for a request, following lighttpd's `http_cgi.c`.
///
/// One builder for every backend protocol, so CGI, SCGI, uwsgi and FastCGI scripts see the same
/// variables. Security rules live here, once: no `HTTP_PROXY` (httpoxy), no `HTTP_CONTENT_LENGTH`
/// / `HTTP_CONTENT_TYPE` shadows, and a header spelled with `_` can never override the header
/// spelled with `-` that maps to the same variable (`X_Forwarded_For` vs `X-Forwarded-For`).
public enum CGIEnvironmentBuilder {
    public static func build(_ info: CGIRequestInfo) -> CGIEnvironment {
        var env = CGIEnvironment()
        env.reserveCapacity(22 + info.headers.count + info.extra.count)
        // The fixed names are distinct and none starts with "HTTP_", so they are appended
        // without lookups; only `extra` (configuration) may replace one.
        env.append(uniqueName: "GATEWAY_INTERFACE", "CGI/1.1")
        env.append(uniqueName: "SERVER_SOFTWARE", info.serverSoftware)
        env.append(uniqueName: "SERVER_NAME", info.serverName)
        env.append(uniqueName: "SERVER_ADDR", info.serverAddr)
        env.append(uniqueName: "SERVER_PORT", String(info.serverPort))
        env.append(uniqueName: "SERVER_PROTOCOL", info.serverProtocol)
        env.append(uniqueName: "REQUEST_METHOD", info.method)
        env.append(uniqueName: "REQUEST_URI", info.requestURI)
        env.append(uniqueName: "REQUEST_SCHEME", info.scheme)
        if info.isTLS { env.append(uniqueName: "HTTPS", "on") }
        env.append(uniqueName: "SCRIPT_NAME", info.scriptName)
        env.append(uniqueName: "SCRIPT_FILENAME", info.scriptFilename)
        if !info.pathInfo.isEmpty {
            env.append(uniqueName: "PATH_INFO", info.pathInfo)
            env.append(uniqueName: "PATH_TRANSLATED", joinPath(info.documentRoot, info.pathInfo))
        }
        env.append(uniqueName: "QUERY_STRING", info.queryString)
        env.append(uniqueName: "DOCUMENT_ROOT", info.documentRoot)
        if let n = info.contentLength { env.append(uniqueName: "CONTENT_LENGTH", String(n)) }
        if let ct = info.headers.first(where: { asciiCaseInsensitiveEquals($0.name, "content-type") }),
           !ct.value.isEmpty {
            env.append(uniqueName: "CONTENT_TYPE", ct.value)
        }
        env.append(uniqueName: "REMOTE_ADDR", info.remoteAddr)
        env.append(uniqueName: "REMOTE_PORT", String(info.remotePort))
        env.append(uniqueName: "REDIRECT_STATUS", String(info.redirectStatus))

        // mapHeaders yields each HTTP_* name once.
        let mapped = mapHeaders(info.headers, dropUnderscored: info.dropHeadersWithUnderscores)
        for (name, value) in mapped.variables { env.append(uniqueName: name, value) }
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
        let count = 5 + name.utf8.count
        return String(unsafeUninitializedCapacity: count) { out in
            out[0] = 0x48; out[1] = 0x54; out[2] = 0x54; out[3] = 0x50; out[4] = 0x5F  // "HTTP_"
            var i = 5
            for c in name.utf8 {
                out[i] = ASCII.isAlpha(c) ? c & ~0x20 : ASCII.isDigit(c) ? c : 0x5F
                i += 1
            }
            return count
        }
    }

    // MARK: - Header mapping

    /// One `HTTP_*` variable: the header spelling that won it and the values of that header.
    private struct Group {
        var name: String
        var value: String
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

    /// Groups below this size are searched linearly: a request's handful of headers compare
    /// faster than they hash, and beyond it a dictionary keeps hostile header counts O(n).
    private static let linearGroupLimit = 32

    /// Maps headers to variables in one pass. Headers whose names differ only in case are one
    /// header (values joined with ", ", "; " for Cookie); different spellings that map to the
    /// same variable (`X-A` vs `X_A`) conflict: the lowest rank wins, ties go to the first seen.
    private static func mapHeaders(
        _ headers: [(name: String, value: String)], dropUnderscored: Bool
    ) -> (variables: [(String, String)], conflicts: [String]) {
        var groups: [Group] = []
        groups.reserveCapacity(headers.count)
        var groupByVariable: [String: Int]? = nil
        var conflicts: [String] = []
        for (name, value) in headers where !name.isEmpty && !value.isEmpty {
            let variable = variableName(forHeader: name)
            switch variable {
            case "HTTP_PROXY", "HTTP_CONTENT_LENGTH", "HTTP_CONTENT_TYPE": continue
            default: break
            }
            let rank = rank(name)
            if dropUnderscored && rank == 2 { continue }
            var found: Int? = nil
            if let map = groupByVariable {
                found = map[variable]
            } else {
                for i in groups.indices where groups[i].variable == variable { found = i; break }
            }
            guard let g = found else {
                groups.append(Group(name: name, value: value, variable: variable, rank: rank,
                                    isCookie: variable == "HTTP_COOKIE"))
                if groupByVariable != nil {
                    groupByVariable![variable] = groups.count - 1
                } else if groups.count > linearGroupLimit {
                    var map = [String: Int](minimumCapacity: groups.count * 2)
                    for i in groups.indices { map[groups[i].variable] = i }
                    groupByVariable = map
                }
                continue
            }
            if asciiCaseInsensitiveEquals(groups[g].name, name) {
                groups[g].value += groups[g].isCookie ? "; " : ", "
                groups[g].value += value
            } else if rank < groups[g].rank {
                noteConflict(groups[g].name, in: &conflicts)
                groups[g].name = name
                groups[g].value = value
                groups[g].rank = rank
            } else {
                noteConflict(name, in: &conflicts)
            }
        }
        return (groups.map { ($0.variable, $0.value) }, conflicts)
    }

    private static func noteConflict(_ name: String, in conflicts: inout [String]) {
        if !conflicts.contains(where: { asciiCaseInsensitiveEquals($0, name) }) { conflicts.append(name) }
    }

    // MARK: - Small string helpers (ASCII only; no Foundation)

    public static func asciiCaseInsensitiveEquals(_ a: String, _ b: String) -> Bool {
        guard a.utf8.count == b.utf8.count else { return false }
        // Contiguous bytes, not a zip of two UTF8Views: this runs for every header of every
        // request and response on a gateway route.
        var x = a, y = b
        return x.withUTF8 { pa in
            y.withUTF8 { pb in
                for k in 0..<pa.count where pa[k] != pb[k] {
                    let lx = pa[k] >= 0x41 && pa[k] <= 0x5A ? pa[k] | 0x20 : pa[k]
                    let ly = pb[k] >= 0x41 && pb[k] <= 0x5A ? pb[k] | 0x20 : pb[k]
                    if lx != ly { return false }
                }
                return true
            }
        }
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
