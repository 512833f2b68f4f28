/// The three parts of `method SP request-target SP HTTP-version`, validated, plus the
/// target split into path / query / host according to its form (RFC 9112 3.2).
struct RequestLine {
    var method: String
    var target: String
    var path: String
    var query: String?
    var version: HTTPVersion
    /// Authority of an absolute-form or authority-form target.
    var authority: String?

    /// Typed throws rather than a `Result`: the line (five strings) is returned directly instead
    /// of being copied out of an enum on every request.
    static func parse(_ line: UnsafeRawBufferPointer) throws(HTTPParseError) -> RequestLine {
        // method
        var i = 0
        while i < line.count && ASCII.isTokenChar(line[i]) { i += 1 }
        guard i > 0, i < line.count, line[i] == ASCII.sp else {
            throw .badRequest(i < line.count && line[i] == ASCII.cr ? "bare CR in request line" : "malformed method in request line")
        }
        let method = UnsafeRawBufferPointer(rebasing: line[0..<i])
        // request-target: visible ASCII only
        let targetStart = i + 1
        i = targetStart
        while i < line.count && line[i] > 0x20 && line[i] < 0x7F { i += 1 }
        guard i > targetStart, i < line.count, line[i] == ASCII.sp else {
            if i < line.count && line[i] == ASCII.cr { throw .badRequest("bare CR in request line") }
            throw .badRequest("malformed request-target")
        }
        let target = UnsafeRawBufferPointer(rebasing: line[targetStart..<i])
        // HTTP-version
        let versionBytes = UnsafeRawBufferPointer(rebasing: line[(i + 1)...])
        let version: HTTPVersion
        switch parseVersion(versionBytes) {
        case .failure(let e): throw e
        case .success(let v): version = v
        }

        return try make(method: method, target: target, version: version)
    }

    /// The line from its parts, already checked as token and visible ASCII: the target split by
    /// its form (also the way in for a request that never was text, see `HTTPRequestHeadBuilder`).
    static func make(method: UnsafeRawBufferPointer, target: UnsafeRawBufferPointer,
                     version: HTTPVersion) throws(HTTPParseError) -> RequestLine {
        let methodString = CommonStrings.method(method)
        var result = RequestLine(method: methodString, target: ASCII.string(target), path: "", query: nil,
                                 version: version, authority: nil)
        if let e = result.splitTarget(target) { throw e }
        return result
    }

    /// What `parse` demands of a method (1*tchar) and of a request-target (1*VCHAR).
    static func isValidMethod(_ bytes: UnsafeRawBufferPointer) -> Bool {
        !bytes.isEmpty && bytes.allSatisfy { ASCII.isTokenChar($0) }
    }

    static func isValidTarget(_ bytes: UnsafeRawBufferPointer) -> Bool {
        !bytes.isEmpty && bytes.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    /// "HTTP/1.0" / "HTTP/1.1"; other well-formed "HTTP/x.y" -> 505; anything else -> 400.
    static func parseVersion(_ v: UnsafeRawBufferPointer) -> Result<HTTPVersion, HTTPParseError> {
        func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
        guard v.count == 8, v[0] == 0x48, v[1] == 0x54, v[2] == 0x54, v[3] == 0x50, v[4] == ASCII.slash,
              isDigit(v[5]), v[6] == 0x2E, isDigit(v[7]) else {
            if v.contains(ASCII.cr) { return .failure(.badRequest("bare CR in request line")) }
            return .failure(.badRequest("malformed HTTP version"))
        }
        switch (v[5], v[7]) {
        case (0x31, 0x31): return .success(.http1_1)
        case (0x31, 0x30): return .success(.http1_0)
        default: return .failure(.init(status: 505, reason: "unsupported HTTP version \(ASCII.string(v))"))
        }
    }

    private mutating func splitTarget(_ t: UnsafeRawBufferPointer) -> HTTPParseError? {
        if ASCII.firstIndex(of: 0x23, in: t) != nil { return .badRequest("fragment ('#') in request-target") }
        let isConnect = method == "CONNECT"
        if t[0] == ASCII.slash {
            if isConnect { return .badRequest("CONNECT requires authority-form") }
            splitPathQuery(t)
            return nil
        }
        if t.count == 1 && t[0] == 0x2A {  // "*"
            guard method == "OPTIONS" else { return .badRequest("'*' request-target is only allowed for OPTIONS") }
            path = "*"
            return nil
        }
        if isConnect {
            // authority-form: host ":" port
            guard Self.isValidAuthority(t), t.contains(ASCII.colon) else {
                return .badRequest("invalid authority-form target for CONNECT")
            }
            authority = target
            return nil
        }
        // absolute-form
        let schemeLength: Int
        if Self.hasPrefix(t, "http://") {
            schemeLength = 7
        } else if Self.hasPrefix(t, "https://") {
            schemeLength = 8
        } else {
            return .badRequest("invalid request-target")
        }
        var end = schemeLength
        while end < t.count && t[end] != ASCII.slash && t[end] != ASCII.question { end += 1 }
        let auth = UnsafeRawBufferPointer(rebasing: t[schemeLength..<end])
        guard !auth.isEmpty, Self.isValidAuthority(auth) else {
            return .badRequest("invalid authority in absolute-form target")
        }
        authority = ASCII.string(auth)
        let rest = UnsafeRawBufferPointer(rebasing: t[end...])
        if rest.isEmpty {
            path = "/"
        } else if rest[0] == ASCII.question {
            path = "/"
            query = ASCII.string(UnsafeRawBufferPointer(rebasing: rest[1...]))
        } else {
            splitPathQuery(rest)
        }
        return nil
    }

    private mutating func splitPathQuery(_ t: UnsafeRawBufferPointer) {
        if let q = ASCII.firstIndex(of: ASCII.question, in: t) {
            path = ASCII.string(UnsafeRawBufferPointer(rebasing: t[..<q]))
            query = ASCII.string(UnsafeRawBufferPointer(rebasing: t[(q + 1)...]))
        } else {
            path = target.utf8.count == t.count ? target : ASCII.string(t)
        }
    }

    static func hasPrefix(_ bytes: UnsafeRawBufferPointer, _ lowercased: StaticString) -> Bool {
        let n = lowercased.utf8CodeUnitCount
        guard bytes.count >= n else { return false }
        return ASCII.equalsLowercased(UnsafeRawBufferPointer(rebasing: bytes[0..<n]), lowercased)
    }

    /// Host / authority characters: reg-name, IP literals and port (RFC 3986 3.2.2),
    /// without userinfo ('@'), so a Host can never smuggle '/', '\\' or whitespace into
    /// a virtual-host document root.
    static func isValidAuthority(_ bytes: UnsafeRawBufferPointer) -> Bool {
        for b in bytes where !ASCII.inSet(b, ASCII.authoritySet) { return false }
        return true
    }
}
