/// A resolved setting together with the place it was (last) assigned, so the server can report
/// validation problems (`server.port = "x"`) against the right line.
public struct ConfigEntry: Sendable, Equatable {
    public var value: ConfigValue
    public var location: ConfigSourceLocation

    public init(value: ConfigValue, location: ConfigSourceLocation) {
        self.value = value
        self.location = location
    }
}
