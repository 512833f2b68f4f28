import Glibc
import SwitchyardConfig

/// File-system checks of spawned backends, made when the configuration is loaded so that
/// `switchyard -t` reports them with the config location instead of the start failing later:
/// the `bin-path` program must be an executable regular file, and the directory of the unix
/// `socket` the gateway will create for it must exist.
///
/// Kept out of `GatewayRouteTable.parse`, which stays a pure function of the text (unit tests
/// parse tables naming programs that do not exist on the test machine).
enum BackendPreflight {
    static func check(_ tables: [GatewayRouteTable]) throws {
        for table in tables {
            for route in table.routes {
                for host in route.hosts { try check(host, key: table.key) }
            }
        }
    }

    static func check(_ host: BackendHostConfig, key: String) throws {
        guard let binPath = host.binPath else { return }
        let what = "\(key.split(separator: "@").first ?? "") host \"\(host.name)\""
        // lighttpd runs bin-path through a shell-less split on spaces (program + arguments).
        guard let program = binPath.split(separator: " ").first.map(String.init) else {
            throw ConfigError(location: host.location, message: "\(what): \"bin-path\" is empty")
        }
        var st = stat()
        if stat(program, &st) != 0 {
            let reason = String(cString: strerror(errno))
            throw ConfigError(location: host.location, message: "\(what): \"bin-path\" \"\(program)\" does not exist (\(reason))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG, access(program, X_OK) == 0 else {
            throw ConfigError(location: host.location, message: "\(what): \"bin-path\" \"\(program)\" is not an executable file")
        }
        if let socket = host.socket {
            let dir = socket.lastIndex(of: "/").map { String(socket[..<$0]) } ?? "."
            var dst = stat()
            if stat(dir.isEmpty ? "/" : dir, &dst) != 0 || (dst.st_mode & S_IFMT) != S_IFDIR {
                throw ConfigError(location: host.location,
                                  message: "\(what): the directory of \"socket\" \"\(socket)\" does not exist")
            }
        }
    }
}
