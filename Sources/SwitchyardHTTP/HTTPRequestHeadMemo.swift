#if canImport(Glibc)
import Glibc
#endif

/// The last request head parsed from a short head block, kept with the block's bytes.
///
/// Keep-alive clients that repeat a request — pollers, health checks, API clients, load
/// generators — send byte-identical heads. Parsing is a pure function of the block and the
/// limits, so an identical block can have the same head back: a length check and one `memcmp`
/// instead of a `String` per part and per field and the head's storage built and later freed
/// (about 4k instructions for a four-field head). A block that differs costs the compare and a
/// copy of its bytes into storage the memo already holds; when only its request line differs,
/// its field lines are not parsed again either (`fields(matching:)`).
///
/// A server keeps one memo per event loop and lends it to each of the loop's connections'
/// parsers, so its memory is one block and one head per loop, not per connection. Only heads
/// that parsed are kept; a rejected block is parsed (and rejected) again.
public struct HTTPRequestHeadMemo: Sendable {
    /// Longest block kept; longer heads are always parsed. 0 keeps nothing.
    public let capacity: Int
    /// `capacity` bytes once the first block is kept, of which the first `length` are the block:
    /// a new block is copied over the old one with one `memcpy`.
    private var bytes: [UInt8] = []
    private var length = 0
    private var head: HTTPRequestHead?
    private var limits = HTTPParserLimits()
    /// Where the block's field lines start (after the request line's LF), and what parsing them
    /// gave: they do not depend on the request line (`FieldState` notes each field on its own;
    /// only `makeHead` combines it with the line), so a head whose request line differs but
    /// whose field lines are the same bytes — a browser fetching the next resource — takes them.
    private var fieldsStart = 0
    private var fieldState = FieldState()
    private var headers = HTTPHeaders()

    public init(capacity: Int = 1024) {
        self.capacity = capacity
    }

    /// The head parsed earlier from exactly these bytes under the same limits.
    func head(for block: UnsafeRawBufferPointer, limits: HTTPParserLimits) -> HTTPRequestHead? {
        guard block.count == length else { return nil }
        return head(prefixing: block, limits: limits)
    }

    /// The remembered head when `input` starts with its block, under the same limits. The block
    /// starts with a request line and ends with the first empty line, so scanning `input` afresh
    /// would end that head at the same byte and check the same limits: the caller may take
    /// `count` bytes as the head without scanning them.
    func head(prefixing input: UnsafeRawBufferPointer, limits: HTTPParserLimits) -> HTTPRequestHead? {
        guard length > 0, input.count >= length else { return nil }
        let same = bytes.withUnsafeBytes { kept in memcmp(kept.baseAddress!, input.baseAddress!, length) == 0 }
        guard same, limits == self.limits else { return nil }
        return head
    }

    /// Bytes of the remembered block (0 when none).
    var count: Int { length }

    /// The parsed field lines of the remembered block when `fieldLines` (a block's bytes after
    /// its request line) are the same bytes.
    func fields(matching fieldLines: UnsafeRawBufferPointer) -> (FieldState, HTTPHeaders)? {
        guard length > 0, fieldLines.count == length - fieldsStart, let base = fieldLines.baseAddress else { return nil }
        let same = bytes.withUnsafeBytes { kept in memcmp(kept.baseAddress! + fieldsStart, base, fieldLines.count) == 0 }
        return same ? (fieldState, headers) : nil
    }

    /// Keeps `head` as the parse of `block` (when the block fits), with its field lines' parse:
    /// they start at `fieldsStart`.
    mutating func remember(_ head: HTTPRequestHead, for block: UnsafeRawBufferPointer, limits: HTTPParserLimits,
                           fieldsStart: Int, fieldState: FieldState, headers: HTTPHeaders) {
        guard block.count <= capacity, block.count > 0 else { return }
        if bytes.count != capacity { bytes = [UInt8](repeating: 0, count: capacity) }
        bytes.withUnsafeMutableBytes { _ = memcpy($0.baseAddress!, block.baseAddress!, block.count) }
        length = block.count
        self.head = head
        self.limits = limits
        self.fieldsStart = fieldsStart
        self.fieldState = fieldState
        self.headers = headers
    }

    /// Lets go of the kept head and its bytes (a worker's reload).
    public mutating func forget() {
        bytes = []
        length = 0
        head = nil
        fieldState = FieldState()
        headers = HTTPHeaders()
    }
}
