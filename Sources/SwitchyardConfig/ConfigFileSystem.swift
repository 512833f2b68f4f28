import Glibc

/// The parser's only contact with the operating system: reading files, expanding include globs,
/// running `include_shell` commands and reading the environment. Kept in one small place so the
/// parser proper stays sans-I/O and `parse(text:)` never touches the disk unless the text includes files.
enum ConfigFileSystem {
    /// The whole file, or the `strerror` text.
    static func read(path: String) -> Result<[UInt8], ConfigFileFailure> {
        guard let file = fopen(path, "rb") else { return .failure(ConfigFileFailure(errno: errno)) }
        defer { fclose(file) }
        return readAll(file)
    }

    private static func readAll(_ file: UnsafeMutablePointer<FILE>) -> Result<[UInt8], ConfigFileFailure> {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = buffer.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if n > 0 { result.append(contentsOf: buffer[0..<n]) }
            if n < buffer.count {
                if ferror(file) != 0 { return .failure(ConfigFileFailure(errno: errno)) }
                return .success(result)
            }
        }
    }

    /// Runs `command` with `/bin/sh -c` and returns its standard output, failing on a non-zero exit.
    static func runShell(_ command: String) -> Result<[UInt8], ConfigFileFailure> {
        fflush(nil)
        guard let pipe = popen(command, "r") else { return .failure(ConfigFileFailure(errno: errno)) }
        let output = readAll(pipe)
        let status = pclose(pipe)
        if case .failure = output { return output }
        if status == -1 { return .failure(ConfigFileFailure(errno: errno)) }
        let exited = status & 0x7f == 0
        let code = (status >> 8) & 0xff
        if !exited { return .failure(ConfigFileFailure(message: "killed by signal \(status & 0x7f)")) }
        if code != 0 { return .failure(ConfigFileFailure(message: "exited with status \(code)")) }
        return output
    }

    /// Paths matching a glob pattern, sorted (glob's default); empty when nothing matches.
    static func glob(_ pattern: String) -> [String] {
        var g = glob_t()
        defer { globfree(&g) }
        guard Glibc.glob(pattern, 0, nil, &g) == 0 else { return [] }
        var result: [String] = []
        for i in 0..<Int(g.gl_pathc) {
            if let p = g.gl_pathv[i] { result.append(String(cString: p)) }
        }
        return result
    }

    /// Canonical path (symlinks resolved) for include-cycle detection; the input when that fails.
    static func canonical(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The process environment as a dictionary (used as the default for `ConfigParser.parse(file:)`).
    static func processEnvironment() -> [String: String] {
        var result: [String: String] = [:]
        let start: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = Glibc.environ
        guard var cursor = start else { return result }
        while let entry = cursor.pointee {
            let text = String(cString: entry)
            if let eq = text.firstIndex(of: "=") {
                result[String(text[..<eq])] = String(text[text.index(after: eq)...])
            }
            cursor += 1
        }
        return result
    }

    /// The directory part of `path` (`"."` when there is none).
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    /// `path` resolved against `base` unless already absolute.
    static func resolve(_ path: String, relativeTo base: String) -> String {
        if path.hasPrefix("/") || base.isEmpty { return path }
        if base == "." { return path }
        return base.hasSuffix("/") ? base + path : base + "/" + path
    }

    static func hasGlobCharacters(_ path: String) -> Bool {
        path.contains { $0 == "*" || $0 == "?" || $0 == "[" }
    }
}

/// An I/O failure while reading configuration, as text for the resulting `ConfigError`.
public struct ConfigFileFailure: Error, Sendable {
    public var message: String

    public init(message: String) { self.message = message }

    init(errno code: Int32) {
        message = String(cString: strerror(code))
    }
}
