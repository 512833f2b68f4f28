import Foundation
import Testing
@testable import SwitchyardConfig

/// Locating the shared seed configs (`<repo>/../shared/seeds/lighttpd/`) from this file's path.
/// Symlinks are resolved first so the tests also find them when built through a symlinked package.
enum Seeds {
    static let directory: String = {
        let testsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().resolvingSymlinksInPath()
        let repoRoot = testsDirectory.deletingLastPathComponent().deletingLastPathComponent()
        return repoRoot.appendingPathComponent("../shared/seeds/lighttpd").standardizedFileURL.path
    }()

    static var available: Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// Run seed tests when the seeds exist, and also on CI, where their absence must fail.
    static var shouldRun: Bool { available || isCI }

    /// Path of a seed, or `nil` after recording an issue (only reached on CI when seeds are missing).
    static func path(_ name: String) -> String? {
        guard available else {
            Issue.record("seed directory \(directory) is missing (CI=true)")
            return nil
        }
        return directory + "/" + name
    }

    static func parse(_ name: String) throws -> ConfigDocument? {
        guard let path = path(name) else { return nil }
        return try ConfigParser.parse(file: path, environment: [:])
    }
}

/// Parses in-memory text with an empty environment.
func parse(_ text: String, file: String = "t.conf", base: String = "/nonexistent",
           environment: [String: String] = [:]) throws -> ConfigDocument {
    try ConfigParser.parse(text: text, fileName: file, baseDirectory: base, environment: environment)
}

/// The error a text produces, or `nil` if it parses.
func parseError(_ text: String, file: String = "t.conf", base: String = "/nonexistent") -> ConfigError? {
    do {
        _ = try ConfigParser.parse(text: text, fileName: file, baseDirectory: base, environment: [:])
        return nil
    } catch {
        return error
    }
}

/// Documents equal in everything but source locations and warnings.
func sameStructure(_ a: ConfigDocument, _ b: ConfigDocument) -> Bool {
    func values(_ settings: [String: ConfigEntry]) -> [String: ConfigValue] { settings.mapValues(\.value) }
    guard values(a.global) == values(b.global), a.contexts.count == b.contexts.count else { return false }
    for (x, y) in zip(a.contexts, b.contexts) {
        guard x.index == y.index, x.parent == y.parent, x.elsePredecessors == y.elsePredecessors,
              x.isElse == y.isElse, values(x.settings) == values(y.settings) else { return false }
        if !x.isElse && x.condition != y.condition { return false }
    }
    return true
}

/// A scratch directory for include tests, removed by the caller.
func makeTemporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "switchyard-config-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func write(_ text: String, to path: String) throws {
    try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                            withIntermediateDirectories: true)
    try text.write(toFile: path, atomically: true, encoding: .utf8)
}
