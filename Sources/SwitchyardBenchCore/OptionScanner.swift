/// Walks the arguments of a bench subcommand (`compare`, `scale`): `--name value`,
/// `--name=value` and flags, one option at a time, so each subcommand's parser is only its
/// `switch` over the names.
struct OptionScanner {
    let arguments: [String]
    private var index = -1
    private var inline: String?

    init(_ arguments: [String]) {
        self.arguments = arguments
    }

    /// The next option's name (`--name=value` split at the `=`), or nil at the end.
    mutating func next() -> String? {
        index += 1
        guard index < arguments.count else { return nil }
        var name = arguments[index]
        inline = nil
        if name.hasPrefix("--"), let eq = name.firstIndex(of: "=") {
            inline = String(name[name.index(after: eq)...])
            name = String(name[..<eq])
        }
        return name
    }

    /// The current option's value: after its `=`, or the next argument.
    mutating func value(_ name: String) throws(BenchOptions.UsageError) -> String {
        if let inline { return inline }
        index += 1
        guard index < arguments.count else { throw BenchOptions.UsageError("option \(name) needs a value") }
        return arguments[index]
    }

    /// The current option's value as seconds (`2`, `1.5`, `500ms`, as `BenchOptions.parseSeconds`).
    mutating func seconds(_ name: String, allowZero: Bool) throws(BenchOptions.UsageError) -> Double {
        let text = try value(name)
        guard let s = BenchOptions.parseSeconds(text), s.isFinite, allowZero ? s >= 0 : s > 0 else {
            throw BenchOptions.UsageError("\(name): expected \(allowZero ? "a non-negative" : "a positive") number of seconds, got \"\(text)\"")
        }
        return s
    }

    /// The error for an argument no case of the parser knows.
    var unexpected: BenchOptions.UsageError {
        BenchOptions.UsageError("unexpected argument \"\(arguments[index])\"")
    }
}
