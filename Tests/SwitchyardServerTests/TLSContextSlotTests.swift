import Foundation
import Glibc
import Testing
import SwitchyardOS

/// The slot a TLS listener reads at accept (SIGHUP replaces its context): a swap reaches only
/// connections accepted afterwards, and a session keeps its own context alive (OpenSSL's SNI and
/// ALPN callbacks point into it), however long it outlives the swap.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl"), "needs the openssl command (make deps)"))
struct TLSContextSlotTests {
    let files: TLSTestFiles
    init() throws { files = try TLSTestFiles() }

    private func context(_ name: String) throws -> TLSContext {
        try TLSContext(TLSContextOptions(certificateFile: files.path("\(name).crt"), privateKeyFile: files.path("\(name).key")))
    }

    @Test func replaceReachesNewConnectionsAndOpenSessionsKeepTheirContext() throws {
        var old: TLSContext? = try context("a.test")
        weak var weakOld = old
        let slot = TLSContextSlot(old!)
        let (server, client) = try Socket.pair()
        defer { Glibc.close(client) }
        var session: TLSTransport? = try TLSTransport(fd: server, context: slot.context)
        slot.replace(with: try context("b.test"))
        old = nil
        #expect(slot.context.options.certificateFile.hasSuffix("b.test.crt"))
        #expect(weakOld != nil, "the open session must keep the context it started with")
        session?.close()
        session = nil
        #expect(weakOld == nil, "the replaced context is freed with its last session")
    }
}
