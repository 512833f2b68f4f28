import Glibc
import SwitchyardOS
import SwitchyardConfig

/// The TLS side of the configuration, lighttpd's `ssl.*` keys: which listeners speak TLS and
/// with what, and which certificate each SNI name gets. Built once at load, so a missing or
/// unreadable file, a key that does not match its certificate or a rejected OpenSSL command is
/// a configuration error with file:line (and `-t` reports it).
///
/// - `ssl.engine = "enable"` in the global scope makes the main listener TLS; in a
///   `$SERVER["socket"] == ":8443"` block, that socket's listener. A block inherits the global
///   `ssl.*` values and overrides them.
/// - `$HTTP["host"]` blocks that set `ssl.pemfile` (and optionally `ssl.privkey`) give that name
///   its own certificate, chosen by SNI; inside a socket block only for that socket.
struct TLSSettings {
    /// The main listener's (`server.bind`/`server.port`) context, nil for plain HTTP.
    var main: TLSContext?
    /// `$SERVER["socket"]` pattern -> its context (plain-HTTP sockets are absent).
    var sockets: [String: TLSContext] = [:]
    /// Key files readable by group or others, and similar non-fatal findings.
    var warnings: [ConfigDiagnostic] = []

    static let keys: [String] = ["ssl.engine", "ssl.pemfile", "ssl.privkey", "ssl.ca-file", "ssl.cipher-list",
                                 "ssl.openssl.ssl-conf-cmd", "ssl.honor-cipher-order"]

    var isEmpty: Bool { main == nil && sockets.isEmpty }

    /// The context of the listener configured as `text` (a socket block's pattern), if TLS.
    func context(forSocket text: String, isMain: Bool) -> TLSContext? {
        isMain ? main : sockets[text]
    }

    init() {}

    init(document: ConfigDocument) throws {
        let global = document.global
        if try Self.engineEnabled(global) {
            main = try makeContext(global, document: document, socketContext: nil)
        }
        for i in document.serverSocketContexts {
            let block = document.contexts[i]
            let merged = global.merging(block.settings.filter { $0.key.hasPrefix("ssl.") }) { _, own in own }
            guard try Self.engineEnabled(merged) else { continue }
            sockets[block.condition.pattern] = try makeContext(merged, document: document, socketContext: i)
        }
        warnIgnoredKeys(document)
    }

    /// `ssl.*` keys where they change nothing: in blocks other than `$SERVER["socket"]` and
    /// `$HTTP["host"]`, and, in a host block, anything but the certificate and key (a session's
    /// protocol range and ciphers are fixed before SNI picks the host's certificate).
    private mutating func warnIgnoredKeys(_ document: ConfigDocument) {
        for block in document.contexts {
            let allowed: Set<String>
            switch block.condition.field {
            case .serverSocket: continue
            case .host: allowed = ["ssl.pemfile", "ssl.privkey"]
            default: allowed = []
            }
            for (key, entry) in block.settings where key.hasPrefix("ssl.") && !allowed.contains(key) {
                let why = block.condition.field == .host
                    ? "only ssl.pemfile and ssl.privkey apply per host name (SNI)"
                    : "ssl.* applies only globally and in $SERVER[\"socket\"] and $HTTP[\"host\"] blocks"
                warnings.append(ConfigDiagnostic(location: entry.location, message: "\(key) is ignored here: \(why)"))
            }
        }
    }

    private static func engineEnabled(_ settings: [String: ConfigEntry]) throws -> Bool {
        guard let e = settings["ssl.engine"] else { return false }
        return try GatewayRoutes.bool(e, "ssl.engine")
    }

    /// The listener's context and its SNI names.
    private mutating func makeContext(_ settings: [String: ConfigEntry], document: ConfigDocument,
                                      socketContext: Int?) throws -> TLSContext {
        let options = try Self.options(settings, at: settings["ssl.engine"]!.location)
        let context = try build(options, settings: settings)
        var names: [TLSContext.ServerName] = []
        for block in document.contexts where block.condition.field == .host && !block.isElse {
            guard let pem = block.settings["ssl.pemfile"] else { continue }
            let socket = Self.enclosingSocket(block, in: document)
            guard socket == nil || socket == socketContext else { continue }
            var own = options
            own.certificateFile = try Self.path(pem, "ssl.pemfile")
            own.privateKeyFile = try block.settings["ssl.privkey"].map { try Self.path($0, "ssl.privkey") }
            let merged = settings.merging(block.settings.filter { $0.key.hasPrefix("ssl.") }) { _, b in b }
            let condition = block.condition
            names.append(.init(matches: { condition.matches($0) }, context: try build(own, settings: merged)))
        }
        context.setServerNames(names)
        return context
    }

    /// The `$SERVER["socket"]` block a block sits in, if any.
    private static func enclosingSocket(_ block: ConfigContext, in document: ConfigDocument) -> Int? {
        var parent = block.parent
        while let p = parent {
            if document.contexts[p].condition.field == .serverSocket { return p }
            parent = document.contexts[p].parent
        }
        return nil
    }

    /// Makes the context; OpenSSL's refusal becomes a config error at the key it concerns.
    private mutating func build(_ options: TLSContextOptions, settings: [String: ConfigEntry]) throws -> TLSContext {
        let keyEntry = settings["ssl.privkey"] ?? settings["ssl.pemfile"]
        do {
            let context = try TLSContext(options)
            if let keyEntry { warnIfReadable(options.privateKeyFile ?? options.certificateFile, entry: keyEntry) }
            return context
        } catch {
            let key = TLSSettings.keys.first(where: { error.message.hasPrefix($0 + " ") || error.message.hasPrefix($0 + ":") }) ?? "ssl.pemfile"
            let location = (settings[key] ?? settings["ssl.pemfile"] ?? settings["ssl.engine"])!.location
            throw ConfigError(location: location, message: error.message)
        }
    }

    /// A private key others can read is not an error (lighttpd starts too) but deserves a line.
    private mutating func warnIfReadable(_ path: String, entry: ConfigEntry) {
        var st = stat()
        guard stat(path, &st) == 0, st.st_mode & (S_IRGRP | S_IROTH) != 0 else { return }
        warnings.append(ConfigDiagnostic(location: entry.location,
                                         message: "private key \(path) is readable by group or others (chmod 600 it)"))
    }

    /// The typed options of one scope.
    static func options(_ s: [String: ConfigEntry], at location: ConfigSourceLocation) throws -> TLSContextOptions {
        guard let pem = s["ssl.pemfile"] else {
            throw ConfigError(location: location, message: "ssl.engine = \"enable\" needs ssl.pemfile (certificate chain, PEM)")
        }
        var o = TLSContextOptions(certificateFile: try path(pem, "ssl.pemfile"))
        o.privateKeyFile = try s["ssl.privkey"].map { try path($0, "ssl.privkey") }
        o.caFile = try s["ssl.ca-file"].map { try path($0, "ssl.ca-file") }
        if let e = s["ssl.cipher-list"] {
            guard let v = e.value.stringValue else { throw ConfigError(location: e.location, message: "ssl.cipher-list must be a string") }
            o.cipherList = v
        }
        if let e = s["ssl.honor-cipher-order"] { o.honorCipherOrder = try GatewayRoutes.bool(e, "ssl.honor-cipher-order") }
        // `server.h2proto` (default enable): `h2` first, so a client offering both gets HTTP/2.
        if try s["server.h2proto"].map({ try GatewayRoutes.bool($0, "server.h2proto") }) ?? true {
            o.alpnProtocols = ["h2", "http/1.1"]
        }
        if let e = s["ssl.openssl.ssl-conf-cmd"] {
            guard let elements = e.value.arrayElements else {
                throw ConfigError(location: e.location, message: "ssl.openssl.ssl-conf-cmd must be an array (\"MinProtocol\" => \"TLSv1.2\", ...)")
            }
            for element in elements {
                guard let name = element.key, let value = element.value.stringValue else {
                    throw ConfigError(location: e.location, message: "ssl.openssl.ssl-conf-cmd: each entry is \"Command\" => \"value\"")
                }
                o.confCommands.append(.init(name: name, value: value))
            }
        }
        return o
    }

    /// A file key: a non-empty string naming a readable file (checked here for a clear message).
    static func path(_ e: ConfigEntry, _ key: String) throws -> String {
        guard let v = e.value.stringValue, !v.isEmpty else {
            throw ConfigError(location: e.location, message: "\(key) must be a file name")
        }
        guard access(v, R_OK) == 0 else {
            throw ConfigError(location: e.location, message: "\(key) \(v): \(String(cString: strerror(errno)))")
        }
        return v
    }
}
