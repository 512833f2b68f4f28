import Glibc

/// What the parser may read besides the text it is given: included files, glob matches and
/// `include_shell` output. The disk is the default; `InMemoryConfigFiles` lets tests and the config
/// fuzz target exercise includes without touching the file system or running a shell.
public protocol ConfigFileSource: Sendable {
    /// The whole file, or why it cannot be read.
    func read(path: String) -> Result<[UInt8], ConfigFileFailure>
    /// The standard output of `command`, or why it failed.
    func runShell(_ command: String) -> Result<[UInt8], ConfigFileFailure>
    /// Paths matching a glob pattern, sorted; empty when nothing matches.
    func glob(_ pattern: String) -> [String]
    /// A name that is equal for every spelling of the same file, for include-cycle detection.
    func canonical(_ path: String) -> String
}

/// The real file system and `/bin/sh`.
public struct DiskConfigFiles: ConfigFileSource {
    public init() {}
    public func read(path: String) -> Result<[UInt8], ConfigFileFailure> { ConfigFileSystem.read(path: path) }
    public func runShell(_ command: String) -> Result<[UInt8], ConfigFileFailure> { ConfigFileSystem.runShell(command) }
    public func glob(_ pattern: String) -> [String] { ConfigFileSystem.glob(pattern) }
    public func canonical(_ path: String) -> String { ConfigFileSystem.canonical(path) }
}

/// Files held in memory, keyed by absolute path. `include_shell` always fails (nothing is run).
/// Paths are normalised lexically (`.`, `..`, repeated `/`), so an include cycle spelled through
/// `./` or `dir/..` is still recognised as one.
public struct InMemoryConfigFiles: ConfigFileSource {
    public var files: [String: [UInt8]]

    public init(_ files: [String: [UInt8]] = [:]) {
        var normalised: [String: [UInt8]] = [:]
        for (path, bytes) in files { normalised[Self.normalise(path)] = bytes }
        self.files = normalised
    }

    public func read(path: String) -> Result<[UInt8], ConfigFileFailure> {
        // As open(2): a path that ends in "/", "/." or "/.." names a directory, never the file
        // before it ("a.conf/" is not a.conf; found by fuzz-config).
        if path.hasSuffix("/") || path.hasSuffix("/.") || path.hasSuffix("/..") || path == "." || path == ".." {
            return .failure(ConfigFileFailure(message: files[Self.normalise(path)] == nil ? "No such file or directory" : "Not a directory"))
        }
        guard let bytes = files[Self.normalise(path)] else { return .failure(ConfigFileFailure(message: "No such file or directory")) }
        return .success(bytes)
    }

    public func runShell(_ command: String) -> Result<[UInt8], ConfigFileFailure> {
        .failure(ConfigFileFailure(message: "include_shell is not available for in-memory configuration"))
    }

    public func glob(_ pattern: String) -> [String] {
        let normalisedPattern = Self.normalise(pattern)
        return files.keys.filter { fnmatch(normalisedPattern, $0, FNM_PATHNAME) == 0 }.sorted()
    }

    public func canonical(_ path: String) -> String { Self.normalise(path) }

    /// `path` with empty and `.` segments removed and `..` applied; relative paths stay relative.
    static func normalise(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                if let last = parts.last, last != ".." { parts.removeLast() } else if !path.hasPrefix("/") { parts.append(part) }
                continue
            }
            parts.append(part)
        }
        let joined = parts.joined(separator: "/")
        return path.hasPrefix("/") ? "/" + joined : (joined.isEmpty ? "." : joined)
    }
}
