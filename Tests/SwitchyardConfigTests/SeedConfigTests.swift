import Testing
@testable import SwitchyardConfig

/// Every lighttpd snippet shipped in the seeds parses and yields the values written in it.
@Suite(.enabled(if: Seeds.shouldRun, "seed configs not found (set CI=true to make this a failure)"))
struct SeedConfigTests {
    static let all = ["cgi.conf", "scgi.conf", "fastcgi.conf", "wstunnel.conf", "proxy.conf",
                      "lighttpd-wstunnel.conf", "lighttpd-proxy.conf", "novnc-wstunnel.conf"]

    @Test(arguments: all)
    func parsesAndRoundTrips(_ name: String) throws {
        guard let document = try Seeds.parse(name) else { return }
        #expect(document.files.count == 1)
        #expect(document.files.first?.hasSuffix(name) == true)
        let modules = document.global["server.modules"]?.value.stringList ?? []
        #expect(modules.count == 1 && modules[0].hasPrefix("mod_"))
        let reparsed = try parse(document.dump(), file: "dump.conf")
        #expect(sameStructure(document, reparsed), "dump of \(name) did not round-trip:\n\(document.dump())")
        #expect(reparsed.warnings.isEmpty)
    }

    @Test func cgi() throws {
        guard let document = try Seeds.parse("cgi.conf") else { return }
        #expect(document.warnings.isEmpty)
        #expect(document.global["server.modules"]?.value == .array([ConfigArrayElement(value: .string("mod_cgi"))]))
        #expect(document.global["cgi.assign"] == nil)
        #expect(document.contexts.count == 1)
        let ws = try #require(document.contexts.first)
        #expect(ws.parent == nil && ws.elsePredecessors.isEmpty && !ws.isElse)
        #expect(ws.condition.field == .url && ws.condition.op == .prefix && ws.condition.pattern == "/ws/")
        #expect(ws.condition.location.line == 2 && ws.condition.location.column == 1)
        #expect(ws.settings["cgi.assign"]?.value == .array([ConfigArrayElement(key: "", value: .string(""))]))
        #expect(ws.settings["cgi.assign"]?.location.line == 3)
        #expect(ws.settings["cgi.upgrade"]?.value.boolValue == true)
        #expect(ws.settings["cgi.limits"] == nil) // commented out
        #expect(ws.settings.count == 2)
        #expect(document.global.count == 1)

        #expect(document.matchingContexts(ConditionInput(url: "/ws/ws_echo.py")) == [0])
        #expect(document.matchingContexts(ConditionInput(url: "/index.html")) == [])
        #expect(document.value("cgi.upgrade", matching: [0])?.value == .integer(1))
        #expect(document.value("cgi.upgrade", matching: []) == nil)
    }

    @Test(arguments: [("scgi.conf", "scgi.server", "/tmp/scgi-ws.sock", "/usr/local/bin/scgi-cgi"),
                      ("fastcgi.conf", "fastcgi.server", "/tmp/fcgi-ws.sock", "/usr/local/bin/fcgi-cgi")])
    func gatewayWithMissingComma(_ name: String, _ key: String, _ socket: String, _ binPath: String) throws {
        guard let document = try Seeds.parse(name) else { return }
        #expect(document.warnings.count == 1)
        let warning = try #require(document.warnings.first)
        #expect(warning.location.file.hasSuffix(name))
        #expect(warning.location.line == 5)
        #expect(warning.message.contains("missing ','"))
        #expect(warning.description.contains("\(name):5:"))

        let server = try #require(document.global[key]?.value)
        #expect(server.arrayKeys == ["/ws/"])
        let hosts = try #require(server["/ws/"]?.arrayElements)
        #expect(hosts.count == 1 && hosts[0].key == nil)
        let host = hosts[0].value
        #expect(host.arrayKeys == ["socket", "bin-path", "check-local", "min-procs", "max-procs", "upgrade"])
        #expect(host["socket"]?.stringValue == socket)
        #expect(host["bin-path"]?.stringValue == binPath)
        #expect(host["check-local"]?.boolValue == false)
        #expect(host["min-procs"]?.intValue == 1)
        #expect(host["max-procs"] == .integer(1))
        #expect(host["upgrade"]?.boolValue == true)
        #expect(host["read-timeout"] == nil)
        #expect(document.global["server.max-read-idle"] == nil)
        #expect(document.contexts.isEmpty)
    }

    @Test(arguments: [("wstunnel.conf", "/ws/", "/tmp/echo.sock", "/tmp/echo.pl"),
                      ("lighttpd-wstunnel.conf", "", "/dev/shm/psock", "/dev/shm/echo.pl")])
    func wstunnel(_ name: String, _ prefix: String, _ socket: String, _ binPath: String) throws {
        guard let document = try Seeds.parse(name) else { return }
        #expect(document.warnings.isEmpty)
        #expect(document.global["server.document-root"]?.value == .string("/tmp"))
        #expect(document.global["server.bind"]?.value.stringValue == "127.0.0.1")
        #expect(document.global["server.port"]?.value.intValue == 8081)
        #expect(document.global["server.modules"]?.value.stringList == ["mod_wstunnel"])
        let server = try #require(document.global["wstunnel.server"]?.value)
        #expect(server.arrayKeys == [prefix])
        let host = try #require(server[prefix]?.arrayElements?.first?.value)
        #expect(host["socket"]?.stringValue == socket)
        #expect(host["bin-path"]?.stringValue == binPath)
        #expect(host["max-procs"]?.intValue == 1)
        #expect(host.arrayKeys.count == 3)
    }

    @Test(arguments: ["proxy.conf", "lighttpd-proxy.conf"])
    func proxy(_ name: String) throws {
        guard let document = try Seeds.parse(name) else { return }
        #expect(document.warnings.isEmpty)
        #expect(document.global["server.document-root"]?.value.stringValue == "/tmp")
        #expect(document.global["server.bind"]?.value.stringValue == "127.0.0.1")
        #expect(document.global["server.port"]?.value == .integer(8080))
        #expect(document.global["server.modules"]?.value.stringList == ["mod_proxy"])
        let host = try #require(document.global["proxy.server"]?.value["/"]?.arrayElements?.first?.value)
        #expect(host["host"]?.stringValue == "127.0.0.1")
        #expect(host["port"] == .string("8081"))
        #expect(host["port"]?.intValue == 8081)
        #expect(document.global["proxy.header"]?.value["upgrade"]?.boolValue == true)
    }

    @Test func novnc() throws {
        guard let document = try Seeds.parse("novnc-wstunnel.conf") else { return }
        #expect(document.warnings.isEmpty)
        #expect(document.global["server.document-root"]?.value.stringValue == "/usr/share/novnc")
        #expect(document.global["server.indexfiles"]?.value.stringList == ["index.html"])
        #expect(document.global["server.modules"]?.value.stringList == ["mod_wstunnel"])
        #expect(document.contexts.count == 1)
        let block = document.contexts[0]
        #expect(block.condition.field == .url && block.condition.op == .regex)
        #expect(block.condition.pattern == "^/websockify")
        let host = try #require(block.settings["wstunnel.server"]?.value[""]?.arrayElements?.first?.value)
        #expect(host["host"]?.stringValue == "127.0.0.1" && host["port"]?.intValue == 5900)
        #expect(block.settings["wstunnel.frame-type"]?.value == .string("binary"))
        #expect(block.settings["server.stream-request-body"]?.value == .integer(2))
        #expect(block.settings["server.stream-response-body"]?.value == .integer(2))
        #expect(document.matchingContexts(ConditionInput(url: "/websockify")) == [0])
        #expect(document.matchingContexts(ConditionInput(url: "/vnc.html")) == [])
        #expect(document.value("wstunnel.frame-type", matching: [0])?.location.line == 6)
        let keys = document.allKeys().map(\.key)
        #expect(keys.contains("wstunnel.frame-type") && keys.contains("server.indexfiles"))
    }
}
