import Foundation
import Testing
@testable import SwitchyardServer

/// The component walk behind `server.follow-symlink = "disable"` and the CGI containment rule.
@Suite("symlink policy")
struct SymlinkPolicyTests {
    /// root/{real/f, link -> real, real/l -> f}; `root` itself reached through a symlink `alias`.
    static func tree() throws -> (root: String, alias: String) {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("sy-symlink-\(UUID().uuidString.prefix(8))").path
        let root = base + "/root"
        try FileManager.default.createDirectory(atPath: root + "/real", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: root + "/real/f", contents: Data("x".utf8))
        try FileManager.default.createSymbolicLink(atPath: root + "/link", withDestinationPath: "real")
        try FileManager.default.createSymbolicLink(atPath: root + "/real/l", withDestinationPath: "f")
        try FileManager.default.createSymbolicLink(atPath: base + "/alias", withDestinationPath: "root")
        return (root, base + "/alias")
    }

    @Test func componentsBelowTheRootAreChecked() throws {
        let (root, alias) = try Self.tree()
        defer { try? FileManager.default.removeItem(atPath: (root as NSString).deletingLastPathComponent) }
        for r in [root, root + "/", alias, alias + "/"] {
            let n = SymlinkPolicy.rootLength(r)
            func join(_ p: String) -> String { r.hasSuffix("/") ? r + p.dropFirst() : r + p }
            #expect(!SymlinkPolicy.containsSymlink(join("/real/f"), after: n), "\(r)")
            #expect(!SymlinkPolicy.containsSymlink(join("/real/"), after: n), "\(r)")
            #expect(SymlinkPolicy.containsSymlink(join("/link/f"), after: n), "\(r)")
            #expect(SymlinkPolicy.containsSymlink(join("/link/"), after: n), "\(r)")
            #expect(SymlinkPolicy.containsSymlink(join("/link"), after: n), "\(r)")
            #expect(SymlinkPolicy.containsSymlink(join("/real/l"), after: n), "\(r)")
            #expect(!SymlinkPolicy.containsSymlink(join("/missing/x"), after: n), "\(r): the open reports it")
        }
    }

    @Test func insideComparesWholeComponents() {
        #expect(SymlinkPolicy.isInside("/srv/www/a", "/srv/www"))
        #expect(SymlinkPolicy.isInside("/srv/www", "/srv/www"))
        #expect(!SymlinkPolicy.isInside("/srv/www2/a", "/srv/www"))
        #expect(SymlinkPolicy.isInside("/anything", "/"))
    }
}
