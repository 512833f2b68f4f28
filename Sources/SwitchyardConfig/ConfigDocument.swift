/// The parsed configuration: resolved global settings plus the flattened conditional blocks. It is the
/// boundary between parsing and runtime: the server validates and types it, and evaluates conditionals
/// per request against it without touching the source again.
public struct ConfigDocument: Sendable {
    /// Global settings after every global `=`, `+=` and `:=` (and every include) has been applied.
    public var global: [String: ConfigEntry]
    /// Conditional blocks in document order (a parent precedes its children); ids are indices.
    public var contexts: [ConfigContext]
    /// Tolerated problems (missing commas, duplicate assignments, unknown keys once checked).
    public var warnings: [ConfigDiagnostic]
    /// Every file read, in the order read (the main file first).
    public var files: [String]

    public init(global: [String: ConfigEntry] = [:], contexts: [ConfigContext] = [],
                warnings: [ConfigDiagnostic] = [], files: [String] = []) {
        self.global = global
        self.contexts = contexts
        self.warnings = warnings
        self.files = files
    }

    /// Keys that appear anywhere (global or conditional), with where, for unknown-key warnings by the
    /// server. Global keys first, then each block's, each group ordered by source location.
    public func allKeys() -> [(key: String, location: ConfigSourceLocation)] {
        func ordered(_ settings: [String: ConfigEntry]) -> [(key: String, location: ConfigSourceLocation)] {
            settings.map { (key: $0.key, location: $0.value.location) }.sorted { a, b in
                (a.location.file, a.location.line, a.location.column, a.key)
                    < (b.location.file, b.location.line, b.location.column, b.key)
            }
        }
        var result = ordered(global)
        for context in contexts { result += ordered(context.settings) }
        return result
    }

    /// Adds a warning for every key not in `known` (user variables `var.*` are always accepted),
    /// naming the key and its file:line. An entry ending in `.` (e.g. `"cgi."`) accepts a whole
    /// module family; pass such prefixes only deliberately.
    public mutating func warnUnknownKeys(known: Set<String>) {
        let prefixes = known.filter { $0.hasSuffix(".") }
        for (key, location) in allKeys() {
            if key.hasPrefix("var.") || known.contains(key) { continue }
            if prefixes.contains(where: { key.hasPrefix($0) }) { continue }
            warnings.append(ConfigDiagnostic(location: location, message: "unknown config key '\(key)' (ignored)"))
        }
    }

    /// Indices of `$SERVER["socket"] == "…"` blocks: the server opens an extra listener for each.
    public var serverSocketContexts: [Int] {
        contexts.filter { $0.condition.field == .serverSocket && $0.condition.op == .equal && !$0.isElse }
            .map(\.index)
    }
}
