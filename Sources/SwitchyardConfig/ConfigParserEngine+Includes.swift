/// `include "path"` (relative to the including file, glob patterns allowed) and `include_shell "cmd"`.
extension ConfigParserEngine {
    mutating func parseInclude() throws(ConfigError) {
        let keyword = try take()
        let argumentToken = try peek()
        let argument = try parseExpression()
        guard case .string(let text) = argument else {
            throw ConfigError(location: argumentToken.location,
                              message: "\(keyword.display) expects a string, found \(argument.typeName)")
        }
        if keyword.kind == .name("include_shell") {
            switch fileSource.runShell(text) {
            case .success(let output):
                try parseSource(output, fileName: "include_shell \(ConfigValue.quoted(text))",
                                baseDirectory: baseDirectory, canonicalPath: nil)
            case .failure(let failure):
                throw ConfigError(location: keyword.location,
                                  message: "include_shell \(ConfigValue.quoted(text)) failed: \(failure.message)")
            }
            return
        }
        let path = ConfigFileSystem.resolve(text, relativeTo: baseDirectory)
        if ConfigFileSystem.hasGlobCharacters(text) {
            // Like lighttpd, a pattern that matches nothing is not an error.
            for match in fileSource.glob(path) {
                try includeFile(match, at: keyword.location)
            }
        } else {
            try includeFile(path, at: keyword.location)
        }
    }

    /// Reads and parses one included file into the current scope, refusing include cycles.
    mutating func includeFile(_ path: String, at location: ConfigSourceLocation,
                              what: String = "include file") throws(ConfigError) {
        let canonical = fileSource.canonical(path)
        if let position = includeStack.firstIndex(of: canonical) {
            let cycle = (includeNames[position...] + [path]).joined(separator: " -> ")
            throw ConfigError(location: location, message: "include cycle: \(cycle)")
        }
        switch fileSource.read(path: path) {
        case .success(let bytes):
            files.append(path)
            try parseSource(bytes, fileName: path, baseDirectory: ConfigFileSystem.directory(of: path),
                            canonicalPath: canonical)
        case .failure(let failure):
            throw ConfigError(location: location,
                              message: "cannot read \(what) \(ConfigValue.quoted(path)): \(failure.message)")
        }
    }
}
