import Glibc
import SwitchyardConfig

/// One loaded and validated configuration: the document and everything derived from it that
/// workers read per request. Immutable and shared by every worker; a live reload (SIGUSR1) builds
/// a new one on the main thread and hands it to each worker through its loop's task queue, so a
/// worker never sees a half-applied configuration and never reads the server's current one from
/// another thread. Requests already routed keep the `RequestSettings` they captured.
final class ConfigSnapshot: Sendable {
    let document: ConfigDocument
    let settings: ServerSettings
    let resolver: SettingsResolver
    /// The settings outside every conditional.
    let globalSettings: RequestSettings
    /// Every route table of every conditional scope (spawned backends come from these).
    let gatewayTables: [GatewayRouteTable]
    /// Load-time warnings (unknown keys, keys without effect, modules not served).
    let warnings: [ConfigDiagnostic]
    /// 0 for the configuration the server started with, +1 per applied reload.
    let generation: Int

    private init(document: ConfigDocument, settings: ServerSettings, resolver: SettingsResolver, globalSettings: RequestSettings,
                 gatewayTables: [GatewayRouteTable], warnings: [ConfigDiagnostic], generation: Int) {
        self.document = document
        self.settings = settings
        self.resolver = resolver
        self.globalSettings = globalSettings
        self.gatewayTables = gatewayTables
        self.warnings = warnings
        self.generation = generation
    }

    /// Reads the file (nil: the built-in defaults) and makes every check `switchyard -t` makes
    /// except those that need the server's files (TLS certificates, the error log): the start and
    /// a reload run exactly these, so a file `-t` accepts is one a reload accepts.
    static func load(configPath: String?, generation: Int = 0) throws -> ConfigSnapshot {
        var doc: ConfigDocument
        do {
            if let configPath {
                doc = try ConfigParser.parse(file: configPath)
            } else {
                doc = try ConfigParser.parse(text: "server.document-root = \".\"\nserver.bind = \"127.0.0.1\"\nserver.port = 8080\n",
                                             fileName: "(defaults)", baseDirectory: ".", environment: [:])
            }
        } catch {
            throw ServerError.config("\(error)")
        }
        return try validate(doc, generation: generation)
    }

    static func validate(_ parsed: ConfigDocument, generation: Int) throws -> ConfigSnapshot {
        var doc = parsed
        doc.warnUnknownKeys(known: KnownKeys.all.union(KnownKeys.withoutEffect.keys))
        var warnings = doc.warnings
        for (key, location) in doc.allKeys() {
            if let why = KnownKeys.withoutEffect[key] {
                warnings.append(ConfigDiagnostic(location: location, message: "\(key) has no effect in Switchyard: \(why)"))
            }
        }
        if let modules = doc.global["server.modules"] {
            for m in modules.value.stringList ?? [] where !KnownKeys.modules.contains(m) {
                if KnownKeys.parsedOnly.contains(m) {
                    warnings.append(ConfigDiagnostic(location: modules.location, message: "module \"\(m)\": settings are checked, requests are not served by it yet"))
                    continue
                }
                warnings.append(ConfigDiagnostic(location: modules.location, message: "module \"\(m)\" is not available in Switchyard yet; its settings are ignored"))
            }
        }
        let settings = try ServerSettings(document: doc)
        let resolver = SettingsResolver(document: doc, server: settings, generation: generation)
        let tables = try resolver.validateAll()
        try BackendPreflight.check(tables)
        let global = try resolver.resolve(matching: [])
        return ConfigSnapshot(document: doc, settings: settings, resolver: resolver, globalSettings: global,
                              gatewayTables: tables, warnings: warnings, generation: generation)
    }

    /// The document root is checked for a warning only: lighttpd starts without one too.
    var documentRootWarning: String? {
        var root = stat()
        if stat(globalSettings.documentRoot, &root) != 0 || (root.st_mode & S_IFMT) != S_IFDIR {
            return "server.document-root \"\(globalSettings.documentRoot)\" is not a directory"
        }
        return nil
    }
}
