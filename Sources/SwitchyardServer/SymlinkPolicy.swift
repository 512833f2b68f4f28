import Glibc

/// `server.follow-symlink = "disable"` and the CGI containment rule.
///
/// lighttpd follows symlinks by default; disabled, it refuses a path when any component is a
/// symlink (lstat(2) of each one). Switchyard checks the components BELOW the document root (the
/// root itself is the operator's choice and may well live behind a symlink) and answers 403. The
/// walk costs one lstat(2) per component, so it runs only when the key is disabled: the static
/// fast path is one Bool test otherwise.
enum SymlinkPolicy {
    /// True when a component of `path` after its first `rootLength` bytes is a symlink. Stops
    /// (false) at the first component that does not exist: the caller's stat/open reports that.
    static func containsSymlink(_ path: UnsafeBufferPointer<UInt8>, after rootLength: Int) -> Bool {
        guard path.count > rootLength else { return false }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: path.count + 1) { buffer -> Bool in
            let c = buffer.baseAddress!
            path.withMemoryRebound(to: CChar.self) { src in c.update(from: src.baseAddress!, count: src.count) }
            var end = rootLength + 1
            while end <= path.count {
                let isSlash = end < path.count && path[end] == UInt8(ascii: "/")
                if end == path.count || isSlash {
                    // A trailing "/" would make lstat follow the last link; that component was
                    // checked at its own end already.
                    if end == path.count && path[end - 1] == UInt8(ascii: "/") { break }
                    c[end] = 0
                    var st = stat()
                    let r = lstat(c, &st)
                    if end < path.count { c[end] = CChar(bitPattern: UInt8(ascii: "/")) }
                    if r != 0 { return false }
                    if (st.st_mode & S_IFMT) == S_IFLNK { return true }
                }
                end += 1
            }
            return false
        }
    }

    static func containsSymlink(_ path: String, after rootLength: Int) -> Bool {
        var p = path
        return p.withUTF8 { containsSymlink($0, after: rootLength) }
    }

    /// The length of the document-root part of a path built by `PathBuffer.set(root:path:)` /
    /// `StaticFileHandler.join`: components after it are the request's.
    static func rootLength(_ root: String) -> Int { root.utf8.count }

    /// realpath(3), or nil when the path does not resolve.
    static func realPath(_ path: String) -> String? {
        guard let r = realpath(path, nil) else { return nil }
        defer { free(r) }
        return String(cString: r)
    }

    /// True when the resolved `path` is `base` or lies below it (both already resolved).
    static func isInside(_ path: String, _ base: String) -> Bool {
        if base == "/" { return path.hasPrefix("/") }
        return path == base || path.hasPrefix(base + "/")
    }
}

/// Where a CGI script may live, independent of `server.follow-symlink`: its real path (all
/// symlinks resolved) must lie inside the real document root or one of `cgi.script-directories`.
/// Without this a symlink dropped into the document root (`/cgi-bin/x -> /bin/sh`) would make any
/// program on the machine runnable over HTTP.
enum CGIScriptGuard {
    /// nil when the script may run, else the reason it may not (logged by the caller, 403).
    static func denial(scriptFile: String, root: String, settings: RequestSettings, cgi: CGISettings) -> String? {
        if !settings.followSymlinks && SymlinkPolicy.containsSymlink(scriptFile, after: SymlinkPolicy.rootLength(root)) {
            return "reached through a symlink and server.follow-symlink is disabled: 403"
        }
        guard let real = SymlinkPolicy.realPath(scriptFile) else { return "cannot resolve the script's real path: 403" }
        for base in [root] + cgi.scriptDirectories {
            if let b = SymlinkPolicy.realPath(base), SymlinkPolicy.isInside(real, b) { return nil }
        }
        return "resolves to \(real), outside the document root and cgi.script-directories: 403"
    }
}
