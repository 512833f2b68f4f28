/// One element of a lighttpd array `( "key" => value, "plain" )`. The key is optional because lighttpd
/// arrays double as lists and as ordered maps; keeping order matters (e.g. `fastcgi.server` extensions
/// are tried in document order).
public struct ConfigArrayElement: Sendable, Equatable {
    public var key: String?
    public var value: ConfigValue

    public init(key: String? = nil, value: ConfigValue) {
        self.key = key
        self.value = value
    }
}
