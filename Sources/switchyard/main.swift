import Glibc
import SwitchyardOS
import SwitchyardServer

/// `switchyard` command line, in lighttpd's habits: -f FILE, -t, -p, -v, -h.
let usage = """
usage: switchyard [-f FILE] [-t | -p] [-v] [-h]

Switchyard \(SwitchyardVersion.string): a small HTTP gateway for CGI, SCGI and FastCGI programs,
with WebSocket upgrade, configured in lighttpd's language.

  -f FILE   configuration file (lighttpd syntax). Without -f: serve the current
            directory on http://127.0.0.1:8080/
  -t        test the configuration and exit (0 = ok, 1 = error), like lighttpd -t
  -p        print the parsed configuration and exit
  -D        accepted for lighttpd compatibility (Switchyard always runs in the foreground)
  -v        print the version
  -h        this help

Switchyard always runs in the foreground and never daemonises: run it under
systemd, a container runtime or a supervisor. SIGTERM/SIGINT stop it gracefully,
SIGHUP reopens the log files and reloads TLS certificates and keys, SIGUSR1
reloads the configuration file in place (see README: live reload).
"""

func fail(_ message: String) -> Never {
    Syscall.writeStderr("switchyard: \(message)\n")
    exit(1)
}

var configPath: String? = nil
var testOnly = false
var printConfig = false
var args = CommandLine.arguments.dropFirst()
while let arg = args.popFirst() {
    switch arg {
    case "-f":
        guard let v = args.popFirst() else { fail("-f needs a file name\n\(usage)") }
        configPath = v
    case "-t", "-tt": testOnly = true
    case "-p": printConfig = true
    case "-D": break
    case "-v", "--version":
        print("switchyard/\(SwitchyardVersion.string)")
        exit(0)
    case "-h", "--help":
        print(usage)
        exit(0)
    default:
        fail("unknown option \(arg)\n\(usage)")
    }
}

// Before any thread exists: block the signals the main loop reads through signalfd, ignore
// SIGPIPE, raise RLIMIT_NOFILE to the hard limit.
ProcessSetup.prepare(blockSignals: !testOnly && !printConfig)

let server: Server
do {
    let (s, warnings) = try Server.load(configPath: configPath)
    server = s
    for w in warnings { Syscall.writeStderr("switchyard: warning: \(w)\n") }
} catch {
    fail("\(error)")
}

if printConfig {
    print(server.document.dump(), terminator: "")
    exit(0)
}
if testOnly {
    print("Syntax OK")
    exit(0)
}
do {
    try server.run { address in
        Syscall.writeStderr("switchyard: listening on \(address)\n")
    }
} catch {
    fail("\(error)")
}
exit(0)
