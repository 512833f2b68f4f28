#if canImport(Glibc)
import Glibc
#endif

/// Builds the RFC 3875 meta-variables for a request, following lighttpd's `http_cgi.c`.
///
/// One builder for every backend protocol, so CGI, SCGI, uwsgi and FastCGI scripts see the same
/// variables. Security rules live here, once: no `HTTP_PROXY` (httpoxy), no `HTTP_CONTENT_LENGTH`
/// / `HTTP_CONTENT_TYPE` shadows, and only header names made of letters, digits and `-` are
/// forwarded: `X_Forwarded_For` or `X.Forwarded.For` never reach a backend (Apache httpd's rule),
/// so they cannot stand in for an `X-Forwarded-For` a front proxy removed.
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
        for (name, value) in mapHeaders(info.headers) { env.append(uniqueName: name, value) }
        for (name, value) in info.extra { env.set(name, value) }
        return env
    }

    /// `HTTP_` + the header name upper-cased, every other non-alphanumeric byte mapped to `_`.
    public static func variableName(forHeader name: String) -> String {
        commonVariable(name) ?? buildVariableName(name)
    }

    /// The variables of the header names nearly every request (and every WebSocket upgrade)
    /// carries, as received from browsers and from HTTP/2 (lower case): looked up by length and
    /// bytes instead of being built for each request.
    static let commonVariables: [[(name: StaticString, variable: String)]] = {
        let names: [StaticString] = [
            "Host", "User-Agent", "Accept", "Accept-Encoding", "Accept-Language", "Connection", "Cookie", "Referer",
            "Origin", "Upgrade", "Cache-Control", "Pragma", "Authorization", "If-None-Match", "If-Modified-Since",
            "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Extensions", "Sec-WebSocket-Protocol",
            "X-Forwarded-For", "X-Forwarded-Proto", "X-Real-IP",
            "host", "user-agent", "accept", "accept-encoding", "accept-language", "cookie", "referer", "origin",
            "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "sec-websocket-protocol",
        ]
        var table = [[(name: StaticString, variable: String)]](repeating: [], count: 33)
        for n in names {
            let text = n.withUTF8Buffer { String(decoding: $0, as: UTF8.self) }
            table[n.utf8CodeUnitCount].append((n, buildVariableName(text)))
        }
        return table
    }()

    private static func commonVariable(_ name: String) -> String? {
        let count = name.utf8.count
        guard count < commonVariables.count else { return nil }
        let candidates = commonVariables[count]
        if candidates.isEmpty { return nil }
        var name = name
        return name.withUTF8 { bytes in
            for c in candidates where memcmp(c.name.utf8Start, bytes.baseAddress!, count) == 0 { return c.variable }
            return nil
        }
    }

    static func buildVariableName(_ name: String) -> String {
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

    /// True for the header names that become `HTTP_*` variables: letters, digits and `-` only.
    /// Every other name (`X_Foo`, `X.Foo`, `X~Foo`) is dropped, as Apache httpd does: such a name maps
    /// to the same variable as its dashed spelling, so a front proxy that strips `X-Foo` could be
    /// bypassed by sending `X_Foo`.
    public static func isForwardedHeaderName(_ name: String) -> Bool {
        var n = name
        return n.withUTF8 { bytes in
            for c in bytes where !(ASCII.isAlphanumeric(c) || c == 0x2D) { return false }
            return !bytes.isEmpty
        }
    }

    // MARK: - Header mapping

    /// One `HTTP_*` variable and the joined values of its header.
    private struct Group {
        var value: String
        var variable: String
        var isCookie: Bool
    }

    /// Groups below this size are searched linearly: a request's handful of headers compare
    /// faster than they hash, and beyond it a dictionary keeps hostile header counts O(n).
    private static let linearGroupLimit = 32

    /// Maps headers to variables in one pass. Only names of letters, digits and `-` are forwarded
    /// (`isForwardedHeaderName`), so two names map to one variable exactly when they differ only
    /// in case: they are one header, values joined with ", " ("; " for Cookie).
    private static func mapHeaders(_ headers: [(name: String, value: String)]) -> [(String, String)] {
        var groups: [Group] = []
        groups.reserveCapacity(headers.count)
        var groupByVariable: [String: Int]? = nil
        for (name, value) in headers where !value.isEmpty && isForwardedHeaderName(name) {
            let variable = variableName(forHeader: name)
            let length = variable.utf8.count
            // Lengths first: most pairs differ in length, and a String == that fails costs a call.
            if (length == 10 && variable == "HTTP_PROXY") || (length == 19 && variable == "HTTP_CONTENT_LENGTH")
                || (length == 17 && variable == "HTTP_CONTENT_TYPE") { continue }
            var found: Int? = nil
            if let map = groupByVariable {
                found = map[variable]
            } else {
                for i in groups.indices where groups[i].variable.utf8.count == length && groups[i].variable == variable { found = i; break }
            }
            guard let g = found else {
                groups.append(Group(value: value, variable: variable, isCookie: length == 11 && variable == "HTTP_COOKIE"))
                if groupByVariable != nil {
                    groupByVariable![variable] = groups.count - 1
                } else if groups.count > linearGroupLimit {
                    var map = [String: Int](minimumCapacity: groups.count * 2)
                    for i in groups.indices { map[groups[i].variable] = i }
                    groupByVariable = map
                }
                continue
            }
            groups[g].value += groups[g].isCookie ? "; " : ", "
            groups[g].value += value
        }
        return groups.map { ($0.variable, $0.value) }
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
