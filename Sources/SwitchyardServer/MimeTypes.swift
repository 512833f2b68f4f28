/// Extension -> media type, matched by the longest suffix like lighttpd's mimetype.assign.
public struct MimeTypes: Sendable {
    private var entries: [(suffix: String, type: String)]
    /// ".ext" entries by extension: one dictionary lookup instead of a suffix scan per request.
    private var byExtension: [String: String] = [:]
    /// Entries that are not a plain ".ext" (e.g. "README", ".tar.gz"), longest first.
    private var others: [(suffix: String, type: String)] = []
    private var fallback = "application/octet-stream"

    public init(_ entries: [(String, String)]) {
        self.entries = entries.sorted { $0.0.count > $1.0.count }.map { (suffix: $0.0, type: $0.1) }
        for e in self.entries {
            if e.suffix.isEmpty { fallback = e.type; continue }
            if e.suffix.hasPrefix("."), !e.suffix.dropFirst().contains("."), !e.suffix.contains("/") {
                if byExtension[e.suffix] == nil { byExtension[e.suffix] = e.type }
            } else {
                others.append(e)
            }
        }
    }

    public func type(for path: String) -> String {
        for e in others where path.hasSuffix(e.suffix) { return e.type }
        if let dot = path.lastIndex(of: "."), let t = byExtension[String(path[dot...])] { return t }
        return fallback
    }

    /// Used when the configuration has no mimetype.assign.
    public static let builtin = MimeTypes([
        (".html", "text/html; charset=utf-8"), (".htm", "text/html; charset=utf-8"),
        (".css", "text/css; charset=utf-8"), (".js", "text/javascript; charset=utf-8"),
        (".mjs", "text/javascript; charset=utf-8"), (".json", "application/json"),
        (".txt", "text/plain; charset=utf-8"), (".md", "text/markdown; charset=utf-8"),
        (".xml", "application/xml"), (".svg", "image/svg+xml"), (".png", "image/png"),
        (".jpg", "image/jpeg"), (".jpeg", "image/jpeg"), (".gif", "image/gif"), (".webp", "image/webp"),
        (".ico", "image/x-icon"), (".avif", "image/avif"), (".pdf", "application/pdf"),
        (".wasm", "application/wasm"), (".woff", "font/woff"), (".woff2", "font/woff2"),
        (".ttf", "font/ttf"), (".otf", "font/otf"), (".mp3", "audio/mpeg"), (".ogg", "audio/ogg"),
        (".wav", "audio/wav"), (".mp4", "video/mp4"), (".webm", "video/webm"), (".zip", "application/zip"),
        (".gz", "application/gzip"), (".tar", "application/x-tar"), (".csv", "text/csv; charset=utf-8"),
        (".conf", "text/plain; charset=utf-8"), (".log", "text/plain; charset=utf-8"),
        (".py", "text/plain; charset=utf-8"), (".pl", "text/plain; charset=utf-8"),
        (".sh", "text/plain; charset=utf-8"), (".c", "text/plain; charset=utf-8"),
    ])
}
