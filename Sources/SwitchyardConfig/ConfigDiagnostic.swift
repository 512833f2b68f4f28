/// A non-fatal finding (tolerated syntax such as a missing comma, a duplicate assignment, an unknown key).
/// lighttpd rejects some of these outright; Switchyard accepts them but tells the operator where they are.
public struct ConfigDiagnostic: Sendable, Equatable, CustomStringConvertible {
    public var location: ConfigSourceLocation
    public var message: String

    public init(location: ConfigSourceLocation, message: String) {
        self.location = location
        self.message = message
    }

    /// `file:line:column: warning: message`.
    public var description: String { "\(location): warning: \(message)" }
}
