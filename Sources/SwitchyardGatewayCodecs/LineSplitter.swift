import Glibc

/// Splits a byte stream (a child's stderr, FastCGI STDERR records) into lines for the error log.
/// Sans-I/O: bytes in, complete lines out through a closure, the partial last line at `finish`.
///
/// Hostile input stays bounded: a line keeps at most `maxLineLength` bytes and the rest up to its
/// LF is dropped. A trailing CR (CRLF line ends) is removed. A line that arrives whole in one
/// `feed` is handed out from the input itself; only a line split across reads is copied.
public struct LineSplitter {
    public static let defaultMaxLineLength = 8192

    public let maxLineLength: Int
    /// The start of a line whose LF has not arrived yet (at most `maxLineLength` bytes).
    private var partial: [UInt8] = []

    public init(maxLineLength: Int = LineSplitter.defaultMaxLineLength) {
        precondition(maxLineLength > 0)
        self.maxLineLength = maxLineLength
    }

    /// Whether bytes of an unfinished line are held (`finish` would emit a line).
    public var hasPartialLine: Bool { !partial.isEmpty }

    /// Splits `bytes`, calling `line` for every line completed by an LF in them. The buffer
    /// handed to `line` is valid only during the call.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, line: (UnsafeRawBufferPointer) -> Void) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        var start = 0
        while start < bytes.count {
            guard let lf = memchr(base + start, 10, bytes.count - start) else {
                keep(UnsafeRawBufferPointer(start: base + start, count: bytes.count - start))
                return
            }
            let end = base.distance(to: UnsafeRawPointer(lf))
            let piece = UnsafeRawBufferPointer(start: base + start, count: end - start)
            if partial.isEmpty {
                emit(UnsafeRawBufferPointer(rebasing: piece.prefix(maxLineLength)), line)
            } else {
                keep(piece)
                partial.withUnsafeBytes { emit($0, line) }
                partial.removeAll(keepingCapacity: true)
            }
            start = end + 1
        }
    }

    /// At end of input: hands out the unfinished last line, if any.
    public mutating func finish(line: (UnsafeRawBufferPointer) -> Void) {
        guard !partial.isEmpty else { return }
        partial.withUnsafeBytes { emit($0, line) }
        partial.removeAll(keepingCapacity: true)
    }

    /// Holds bytes of an unfinished line, up to the cap.
    private mutating func keep(_ piece: UnsafeRawBufferPointer) {
        let room = maxLineLength - partial.count
        if room > 0 { partial.append(contentsOf: piece.prefix(room)) }
    }

    private func emit(_ text: UnsafeRawBufferPointer, _ line: (UnsafeRawBufferPointer) -> Void) {
        if text.last == 13 {
            line(UnsafeRawBufferPointer(rebasing: text.dropLast()))
        } else {
            line(text)
        }
    }
}
