import Glibc
import SwitchyardBenchCore

/// Where `compare` finds its programs and the repository, and what it says about the machine.
struct CompareSetup {
    let root: String
    let binDir: String
    let benchBinary: String
    let switchyard: String
    let scgiCGI: String
    let fcgiCGI: String
    let echoApp: String
    let echoCGI: String
    let helloCGI: String
    let lighttpd: String?
    let wrk: String?
    /// nghttp2's h2load (Debian nghttp2-client): the h2 rows' static-file load.
    var h2load: String? = nil

    static func locate() throws(CompareFailure) -> CompareSetup {
        let exe = realPath("/proc/self/exe") ?? CommandLine.arguments[0]
        let exeDir = directory(of: exe)
        let env = { (name: String) -> String? in getenv(name).map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } }
        let binDir = env("SWITCHYARD_BIN_DIR") ?? exeDir
        var root = env("SWITCHYARD_ROOT")
        if root == nil {
            var dir = exeDir
            while dir != "/" && !dir.isEmpty {
                if access(dir + "/Package.swift", R_OK) == 0 && access(dir + "/cgi-bin", R_OK) == 0 { root = dir; break }
                dir = directory(of: dir)
            }
        }
        guard let root else { throw CompareFailure("cannot find the repository (set SWITCHYARD_ROOT)") }
        var setup = CompareSetup(root: root, binDir: binDir, benchBinary: exe,
                                 switchyard: env("SWITCHYARD_BIN") ?? binDir + "/switchyard",
                                 scgiCGI: binDir + "/scgi-cgi", fcgiCGI: binDir + "/fcgi-cgi",
                                 echoApp: binDir + "/switchyard-echo-app",
                                 echoCGI: root + "/cgi-bin/ws-echo-fast", helloCGI: root + "/Fixtures/bin/hello-cgi",
                                 lighttpd: findProgram("lighttpd", ["/usr/sbin", "/usr/bin", "/usr/local/sbin"]),
                                 wrk: findProgram("wrk", ["/usr/bin", "/usr/local/bin"]))
        for (path, hint) in [(setup.switchyard, "make release"), (setup.scgiCGI, "make release"), (setup.fcgiCGI, "make release"),
                             (setup.echoCGI, "make c-progs"), (setup.helloCGI, "make c-progs")] where !isExecutable(path) {
            throw CompareFailure("\(path) is missing (\(hint))")
        }
        setup.h2load = findProgram("h2load", ["/usr/bin", "/usr/local/bin"])
        return setup
    }

    var hasEchoApp: Bool { CompareSetup.isExecutable(echoApp) }

    static func isExecutable(_ path: String) -> Bool { access(path, X_OK) == 0 }

    static func findProgram(_ name: String, _ dirs: [String]) -> String? {
        var candidates = dirs
        if let path = getenv("PATH") { candidates += String(cString: path).split(separator: ":").map(String.init) }
        return candidates.map { $0 + "/" + name }.first(where: isExecutable)
    }

    static func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    // MARK: the machine

    /// `cores`: what the processes under test could use (1 when pinned).
    func machine(scratch: String, cores: Int = CPUUsage.cores) -> MachineDescription {
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count)
        var name = utsname()
        uname(&name)
        let kernel = withUnsafeBytes(of: name.release) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        var model = "unknown CPU"
        if let info = ServerProbe.read("/proc/cpuinfo"),
           let line = info.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
           let colon = line.firstIndex(of: ":") {
            model = line[line.index(after: colon)...].trimmingCharacters(in: " \t")
        }
        var version = "lighttpd not installed"
        if let lighttpd, let out = try? Subprocess.run([lighttpd, "-v"], timeout: 5, scratch: scratch) {
            version = String(out.stdout.split(separator: " ").first ?? "lighttpd")
        }
        return MachineDescription(date: CompareSetup.today(), hostname: String(cString: host), cores: cores,
                                  cpuModel: model, kernel: kernel, lighttpdVersion: version)
    }

    static func today() -> String {
        var t = time(nil)
        var tm = tm()
        localtime_r(&t, &tm)
        var buf = [CChar](repeating: 0, count: 32)
        strftime(&buf, buf.count, "%Y-%m-%d", &tm)
        return String(cString: buf)
    }
}

extension Substring {
    func trimmingCharacters(in set: String) -> String {
        var s = self
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
