/// A configuration value as lighttpd's language knows it: only strings, integers and (possibly keyed,
/// arbitrarily nested) arrays exist. Booleans stay the strings `"enable"`/`"disable"` so the document
/// reproduces the source faithfully; consumers interpret them through the typed accessors.
public indirect enum ConfigValue: Sendable, Equatable {
    case string(String)
    case integer(Int)
    case array([ConfigArrayElement])
}
