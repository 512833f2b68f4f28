/// Entry points for reading lighttpd-syntax configuration. The parser does no I/O of its own beyond
/// reading the named file and whatever it `include`s (through `fileSource`, the disk unless a caller
/// passes `InMemoryConfigFiles`); the environment is passed in so callers (and tests) decide what
/// `env.NAME` sees.
public struct ConfigParser {
    /// Parses the file at `path` and everything it includes.
    public static func parse(file path: String,
                             environment: [String: String] = ConfigParser.processEnvironment(),
                             fileSource: any ConfigFileSource = DiskConfigFiles())
        throws(ConfigError) -> ConfigDocument {
        var engine = ConfigParserEngine(environment: environment,
                                        baseDirectory: ConfigFileSystem.directory(of: path), fileSource: fileSource)
        try engine.includeFile(path, at: ConfigSourceLocation(file: path, line: 1, column: 1), what: "config file")
        return engine.document
    }

    /// Parses `text` as if read from `fileName`; relative includes resolve against `baseDirectory`.
    public static func parse(text: String, fileName: String, baseDirectory: String,
                             environment: [String: String],
                             fileSource: any ConfigFileSource = DiskConfigFiles()) throws(ConfigError) -> ConfigDocument {
        var engine = ConfigParserEngine(environment: environment, baseDirectory: baseDirectory, fileSource: fileSource)
        let canonical = fileSource.canonical(ConfigFileSystem.resolve(fileName, relativeTo: baseDirectory))
        engine.files.append(fileName)
        try engine.parseSource(Array(text.utf8), fileName: fileName, baseDirectory: baseDirectory,
                               canonicalPath: canonical)
        return engine.document
    }

    /// The current process environment, the default for `parse(file:environment:)`.
    public static func processEnvironment() -> [String: String] {
        ConfigFileSystem.processEnvironment()
    }
}
