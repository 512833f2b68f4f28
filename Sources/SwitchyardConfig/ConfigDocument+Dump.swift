/// `switchyard -p`: print the resolved configuration the way `lighttpd -p` does, so an operator can see
/// what includes, variables and `+=` produced. The output is itself valid configuration and parses back
/// to an equal document.
extension ConfigDocument {
    /// Global keys sorted, then each conditional block nested in document order, values in config syntax.
    public func dump() -> String {
        var children: [Int?: [Int]] = [:]
        for context in contexts { children[context.parent, default: []].append(context.index) }
        var out = ""
        appendSettings(global, indent: "", to: &out)
        appendBlocks(children[nil] ?? [], children: children, indent: "", to: &out)
        return out
    }

    private func appendSettings(_ settings: [String: ConfigEntry], indent: String, to out: inout String) {
        for key in settings.keys.sorted() {
            out += "\(indent)\(key) = \(settings[key]!.value.configSyntax(indent: indent))\n"
        }
    }

    private func appendBlocks(_ indices: [Int], children: [Int?: [Int]], indent: String, to out: inout String) {
        for index in indices {
            let context = contexts[index]
            if context.elsePredecessors.isEmpty {
                out += "\(indent)\(context.condition) {\n"
            } else if context.isElse {
                out += "\(indent)else {\n"
            } else {
                out += "\(indent)else \(context.condition) {\n"
            }
            let inner = indent + "    "
            appendSettings(context.settings, indent: inner, to: &out)
            appendBlocks(children[index] ?? [], children: children, indent: inner, to: &out)
            out += "\(indent)}\n"
        }
    }
}
