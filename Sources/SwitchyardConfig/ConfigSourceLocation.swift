/// Where a token, key or diagnostic came from, so every error and warning can name `file:line:column`
/// and an operator can jump straight to the offending spot in the right (possibly included) file.
public struct ConfigSourceLocation: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// The file as it was named when read (the path given to the parser, or the resolved include path).
    public var file: String
    /// 1-based line number.
    public var line: Int
    /// 1-based column, counted in bytes of the UTF-8 source.
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `file:line:column`, the format compilers use, so editors can follow it.
    public var description: String { "\(file):\(line):\(column)" }
}
