/// A fatal configuration problem. It always names a source location, because a configuration error
/// without `file:line:column` sends the operator hunting through includes.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public var location: ConfigSourceLocation
    public var message: String

    public init(location: ConfigSourceLocation, message: String) {
        self.location = location
        self.message = message
    }

    /// `file:line:column: message`, e.g. `cgi.conf:3:17: expected '=>' or ',' or ')' but found '{'`.
    public var description: String { "\(location): \(message)" }
}
