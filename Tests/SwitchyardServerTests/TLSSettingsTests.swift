import Foundation
import Testing
@testable import SwitchyardServer
import SwitchyardOS
import SwitchyardConfig

/// Throwaway certificates made with the `openssl` command at test time (never committed): a CA,
/// and leaf certificates for a.test and b.test signed by it, keys mode 0600.
final class TLSTestFiles {
    let directory: String

    init() throws {
        directory = NSTemporaryDirectory() + "switchyard-tls-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
                 "-out", "ca.pem", "-days", "2", "-subj", "/CN=Switchyard test CA"])
        for name in ["a.test", "b.test"] {
            try run(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "\(name).key",
                     "-out", "\(name).csr", "-subj", "/CN=\(name)"])
            try run(["x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                     "-out", "\(name).crt", "-days", "2"])
            chmod(path("\(name).key"), 0o600)
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    func path(_ name: String) -> String { directory + "/" + name }

    private func run(_ arguments: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        p.arguments = arguments
        p.currentDirectoryURL = URL(fileURLWithPath: directory)
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw TLSError("openssl \(arguments.joined(separator: " ")) failed") }
    }
}

private func tlsSettings(_ text: String) throws -> TLSSettings {
    let doc = try ConfigParser.parse(text: text, fileName: "t.conf", baseDirectory: "/tmp", environment: [:])
    return try TLSSettings(document: doc)
}

private func tlsError(_ text: String) -> String? {
    do { _ = try tlsSettings(text); return nil } catch { return "\(error)" }
}

@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl"), "needs the openssl command (make deps)"))
struct TLSSettingsTests {
    let files: TLSTestFiles
    init() throws { files = try TLSTestFiles() }

    @Test func plainConfigHasNoTLS() throws {
        #expect(try tlsSettings("server.port = 80\n").isEmpty)
    }

    @Test func socketBlockOpensTLSListenerWithDefaults() throws {
        let s = try tlsSettings("""
            $SERVER["socket"] == ":8443" {
              ssl.engine = "enable"
              ssl.pemfile = "\(files.path("a.test.crt"))"
              ssl.privkey = "\(files.path("a.test.key"))"
            }
            """)
        #expect(s.main == nil)
        let context = try #require(s.sockets[":8443"])
        #expect(context.minimumProtocolVersion == 0x0303)   // TLS 1.2 and up by default
        // server.h2proto is enabled by default: h2 is offered first.
        #expect(context.options.alpnProtocols == ["h2", "http/1.1"] && context.options.honorCipherOrder)
        #expect(s.warnings.isEmpty)
    }

    @Test func h2protoDisabledOffersOnlyHTTP11() throws {
        let s = try tlsSettings("""
            server.h2proto = "disable"
            $SERVER["socket"] == ":8443" {
              ssl.engine = "enable"
              ssl.pemfile = "\(files.path("a.test.crt"))"
              ssl.privkey = "\(files.path("a.test.key"))"
            }
            """)
        #expect(try #require(s.sockets[":8443"]).options.alpnProtocols == ["http/1.1"])
    }

    @Test func globalEngineMakesMainListenerTLSAndBlocksInherit() throws {
        let s = try tlsSettings("""
            ssl.engine = "enable"
            ssl.pemfile = "\(files.path("a.test.crt"))"
            ssl.privkey = "\(files.path("a.test.key"))"
            ssl.openssl.ssl-conf-cmd = ("MinProtocol" => "TLSv1.3", "Options" => "-SessionTicket")
            $SERVER["socket"] == ":8081" { ssl.engine = "disable" }
            $SERVER["socket"] == ":8444" { ssl.cipher-list = "HIGH" }
            """)
        #expect(s.main?.minimumProtocolVersion == 0x0304)
        #expect(s.sockets[":8081"] == nil)
        #expect(s.sockets[":8444"]?.options.cipherList == "HIGH")
    }

    @Test func missingCertificateIsAnErrorAtItsLine() {
        let error = tlsError("""
            $SERVER["socket"] == ":8443" {
              ssl.engine = "enable"
              ssl.pemfile = "\(files.path("nope.pem"))"
            }
            """)
        #expect(error?.hasPrefix("t.conf:3:") == true && error?.contains("ssl.pemfile") == true, "\(error ?? "accepted")")
        #expect(tlsError("ssl.engine = \"enable\"\n")?.contains("needs ssl.pemfile") == true)
    }

    @Test func keyNotMatchingCertificateIsAnError() {
        let error = tlsError("""
            ssl.engine = "enable"
            ssl.pemfile = "\(files.path("a.test.crt"))"
            ssl.privkey = "\(files.path("b.test.key"))"
            """)
        #expect(error?.hasPrefix("t.conf:3:") == true && error?.contains("does not match") == true, "\(error ?? "accepted")")
    }

    @Test func badOpenSSLCommandsAndCiphersAreErrors() {
        let base = "ssl.engine = \"enable\"\nssl.pemfile = \"\(files.path("a.test.crt"))\"\nssl.privkey = \"\(files.path("a.test.key"))\"\n"
        let unknown = tlsError(base + "ssl.openssl.ssl-conf-cmd = (\"NoSuchThing\" => \"1\")\n")
        #expect(unknown?.hasPrefix("t.conf:4:") == true && unknown?.contains("unknown command") == true, "\(unknown ?? "accepted")")
        #expect(tlsError(base + "ssl.openssl.ssl-conf-cmd = (\"MinProtocol\" => \"TLSv9\")\n")?.contains("rejected") == true)
        #expect(tlsError(base + "ssl.cipher-list = \"NOTACIPHER\"\n")?.hasPrefix("t.conf:4:") == true)
        #expect(tlsError(base + "ssl.honor-cipher-order = \"maybe\"\n") != nil)
    }

    @Test func keyReadableByOthersIsAWarning() throws {
        let config = "ssl.engine = \"enable\"\nssl.pemfile = \"\(files.path("a.test.crt"))\"\nssl.privkey = \"\(files.path("a.test.key"))\"\n"
        #expect(try tlsSettings(config).warnings.isEmpty)
        chmod(files.path("a.test.key"), 0o644)
        let warnings = try tlsSettings(config).warnings
        #expect(warnings.count == 1 && warnings.first?.location.line == 3 && warnings.first?.message.contains("readable") == true)
    }

    @Test func hostBlocksGiveSNINamesTheirCertificates() throws {
        let s = try tlsSettings("""
            $SERVER["socket"] == ":8443" {
              ssl.engine = "enable"
              ssl.pemfile = "\(files.path("a.test.crt"))"
              ssl.privkey = "\(files.path("a.test.key"))"
              $HTTP["host"] == "b.test" {
                ssl.pemfile = "\(files.path("b.test.crt"))"
                ssl.privkey = "\(files.path("b.test.key"))"
              }
            }
            $SERVER["socket"] == ":9443" {
              ssl.engine = "enable"
              ssl.pemfile = "\(files.path("a.test.crt"))"
              ssl.privkey = "\(files.path("a.test.key"))"
            }
            $HTTP["host"] =~ "^c\\\\." {
              ssl.pemfile = "\(files.path("b.test.crt"))"
              ssl.privkey = "\(files.path("b.test.key"))"
            }
            """)
        let first = try #require(s.sockets[":8443"])
        let other = try #require(s.sockets[":9443"])
        #expect(first.serverNames.count == 2 && other.serverNames.count == 1)   // the nested block stays on :8443
        let b = try #require(first.context(forServerName: "b.test"))
        #expect(b.options.certificateFile.hasSuffix("b.test.crt"))
        #expect(first.context(forServerName: "a.test") == nil)
        #expect(other.context(forServerName: "b.test") == nil && other.context(forServerName: "c.example") != nil)
    }

    @Test func sslKeysWhereTheyDoNothingAreWarnings() throws {
        let s = try tlsSettings("""
            $SERVER["socket"] == ":8443" {
              ssl.engine = "enable"
              ssl.pemfile = "\(files.path("a.test.crt"))"
              ssl.privkey = "\(files.path("a.test.key"))"
            }
            $HTTP["host"] == "b.test" {
              ssl.pemfile = "\(files.path("b.test.crt"))"
              ssl.privkey = "\(files.path("b.test.key"))"
              ssl.cipher-list = "HIGH"
            }
            $HTTP["url"] =^ "/x" { ssl.engine = "enable" }
            """)
        let lines = s.warnings.sorted { $0.location.line < $1.location.line }.map { "\($0.location.line): \($0.message)" }
        #expect(lines.count == 2, "\(lines)")
        #expect(lines.first?.hasPrefix("9: ssl.cipher-list is ignored here: only ssl.pemfile") == true, "\(lines)")
        #expect(lines.last?.hasPrefix("11: ssl.engine is ignored here") == true, "\(lines)")
    }

    @Test func alpnWireForm() {
        var o = TLSContextOptions(certificateFile: "x")
        o.alpnProtocols = ["h2", "http/1.1", "", String(repeating: "x", count: 256)]
        #expect(o.alpnWire == [2, 0x68, 0x32, 8] + Array("http/1.1".utf8))
    }
}
