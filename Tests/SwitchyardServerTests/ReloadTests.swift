import Glibc
import Testing
@testable import SwitchyardServer
import SwitchyardConfig
import SwitchyardOS

/// The parts of live reload (SIGUSR1) that need no running server: the checks a reloaded file
/// goes through, which backend hosts count as unchanged, and a retired pool closing its
/// connections. The signal itself, workers and spawned backends: Tests/e2e/test_reload.py.
@Suite("live reload")
struct ReloadTests {
    func configFile(_ text: String) throws -> String {
        let dir = try makeTempDirectory()
        let path = dir + "/r.conf"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        _ = text.withCString { Glibc.write(fd, $0, strlen($0)) }
        close(fd)
        return path
    }

    func makeTempDirectory() throws -> String {
        var template = Array("/tmp/switchyard-reload-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw SystemError("mkdtemp") }
        return String(cString: p)
    }

    @Test func aSnapshotIsCheckedLikeDashTAndStampsItsGeneration() throws {
        let good = try configFile("server.document-root = \"/tmp\"\nserver.modules = (\"mod_cgi\")\n$HTTP[\"url\"] =~ \"^/x\" { server.document-root = \"/srv\" }\n")
        let snapshot = try ConfigSnapshot.load(configPath: good, generation: 3)
        #expect(snapshot.generation == 3)
        #expect(snapshot.globalSettings.generation == 3)
        #expect(try snapshot.resolver.resolve(matching: [0]).generation == 3, "settings resolved later carry it too")

        let bad = try configFile("server.document-root = \"/tmp\"\nserver.max-read-idle = 99999999999\n")
        #expect {
            _ = try ConfigSnapshot.load(configPath: bad, generation: 1)
        } throws: { error in
            "\(error)".contains("r.conf:2") && "\(error)".contains("server.max-read-idle")
        }
    }

    @Test func aHostIsTheSameBackendWhereverItIsWritten() throws {
        func host(_ text: String, line: Int, route: String = "/a/") throws -> BackendHostConfig {
            let padding = String(repeating: "\n", count: line)
            let doc = try ConfigParser.parse(text: "server.modules = (\"mod_scgi\")\n" + padding + "scgi.server = (\"\(route)\" => ((" + text + ")))\n",
                                             fileName: "t.conf", baseDirectory: "/tmp", environment: [:])
            let resolver = SettingsResolver(document: doc, server: try ServerSettings(document: doc))
            return try #require(try resolver.resolve(matching: []).scgi?.routes.first?.hosts.first)
        }
        let a = try host(#""socket" => "/tmp/a.sock", "max-procs" => 2"#, line: 0)
        let moved = try host(#""socket" => "/tmp/a.sock", "max-procs" => 2"#, line: 5)
        #expect(a.location != moved.location)
        #expect(a.isSameBackend(as: moved), "only the place in the file differs")
        #expect(a.isSameBackend(as: try host(#""socket" => "/tmp/a.sock", "max-procs" => 2"#, line: 0, route: "/b/")),
                "nor does the route it serves (the host's default name)")
        #expect(!a.isSameBackend(as: try host(#""socket" => "/tmp/a.sock", "max-procs" => 3"#, line: 0)))
        #expect(!a.isSameBackend(as: try host(#""socket" => "/tmp/b.sock", "max-procs" => 2"#, line: 0)))
        let spawned = try host(#""socket" => "/tmp/a.sock", "bin-path" => "/bin/true", "bin-environment" => ("A" => "1")"#, line: 0)
        #expect(!spawned.isSameBackend(as: try host(#""socket" => "/tmp/a.sock", "bin-path" => "/bin/true", "bin-environment" => ("A" => "2")"#, line: 0)))
    }

    @Test func spawnedHostsAreListedOncePerAddress() throws {
        let doc = try ConfigParser.parse(text: """
            server.modules = ("mod_scgi", "mod_fastcgi")
            scgi.server = ("/a/" => (("socket" => "/tmp/s.sock", "bin-path" => "/bin/true")), "/b/" => (("socket" => "/tmp/s.sock", "bin-path" => "/bin/true")))
            fastcgi.server = ("/c/" => (("host" => "127.0.0.1", "port" => 9000)))
            """, fileName: "t.conf", baseDirectory: "/tmp", environment: [:])
        let resolver = SettingsResolver(document: doc, server: try ServerSettings(document: doc))
        let hosts = BackendSupervisor.spawnedHosts(try resolver.validateAll())
        #expect(hosts.map(\.addressDescription) == ["/tmp/s.sock"])
    }

    @Test func exchangesCountAgainstTheBackendInstanceThatServedTheirGeneration() {
        // /s.sock: instance A served generations 0..<3, B 3..<5, C from 5 on.
        let uses: [SpawnedUse: Int] = [SpawnedUse(address: "/s.sock", generation: 1): 2,
                                       SpawnedUse(address: "/other.sock", generation: 3): 7]
        #expect(BackendSupervisor.users(of: "/s.sock", served: 0..<3, in: uses) == 2)
        #expect(BackendSupervisor.users(of: "/s.sock", served: 3..<5, in: uses) == 0,
                "a WebSocket on an old instance does not keep a later one alive")
        #expect(BackendSupervisor.users(of: "/s.sock", served: 2..<5, in: [SpawnedUse(address: "/s.sock", generation: 1): 1]) == 1,
                "the generation before its start may have connected to its renamed socket")
        #expect(BackendSupervisor.users(of: "/other.sock", served: 0..<Int.max, in: uses) == 7)
    }

    @Test func aRetiredPoolClosesIdleConnectionsNowAndBusyOnesAtCheckin() throws {
        let f = try BackendConnectionPoolTests.Fixture()
        let (idle, _) = try #require(try f.lease())
        let (busy, _) = try #require(try f.lease())
        f.end(idle)
        #expect(f.pool.idleCount == 1)
        f.pool.retire()
        #expect(idle.isClosed, "an idle connection to a host that left the configuration closes at once")
        #expect(!busy.isClosed, "the request on it goes on")
        f.end(busy)
        #expect(busy.isClosed, "and closes when that request ends, instead of waiting in the pool")
        #expect(f.pool.count == 0)
    }
}
