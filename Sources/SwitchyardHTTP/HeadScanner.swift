#if canImport(Glibc)
import Glibc
#endif

/// Finds the end of a request head in the caller's growing buffer, enforcing the size
/// limits while the head is still incomplete (414 / 431 as soon as they are exceeded).
///
/// It remembers how far it has scanned, so feeding a head one byte at a time costs
/// O(total bytes), not O(n²). Empty lines before the request line (RFC 9112 2.2) are
/// reported as consumed right away.
struct HeadScanner: Sendable {
    enum Outcome: Equatable {
        /// Head not complete; `skipped` leading empty-line bytes may be dropped.
        case incomplete(skipped: Int)
        /// `block` = request line through the final empty line; `consumed` includes any
        /// leading empty lines.
        case complete(block: Range<Int>, consumed: Int)
    }

    /// Empty lines tolerated before a request line.
    static let maxLeadingEmptyLines = 8

    /// Bytes already examined (relative to the start of the current input).
    private var scanPos = 0
    /// Start of the line being scanned.
    private var lineStart = 0
    private var sawRequestLine = false
    private var fieldLines = 0
    private var leadingEmptyLines = 0

    var isEmpty: Bool { scanPos == 0 }

    mutating func scan(_ input: UnsafeRawBufferPointer, limits: HTTPParserLimits) -> Result<Outcome, HTTPParseError> {
        if input.count < scanPos {
            // The caller broke the contract (passed fewer bytes than before); rescan.
            self = HeadScanner()
        }
        guard let base = input.baseAddress else { return .success(.incomplete(skipped: 0)) }
        var skipped = 0
        while scanPos < input.count {
            guard let hit = memchr(base + scanPos, Int32(ASCII.lf), input.count - scanPos) else {
                scanPos = input.count
                break
            }
            let lf = base.distance(to: UnsafeRawPointer(hit))
            var lineEnd = lf
            if lineEnd > lineStart && input[lineEnd - 1] == ASCII.cr { lineEnd -= 1 }
            let lineLength = lineEnd - lineStart
            let next = lf + 1

            if !sawRequestLine {
                if lineLength == 0 {
                    leadingEmptyLines += 1
                    if leadingEmptyLines > Self.maxLeadingEmptyLines {
                        return .failure(.badRequest("too many empty lines before the request line"))
                    }
                    skipped = next
                    lineStart = next
                    scanPos = next
                    continue
                }
                if lineLength > limits.maxRequestLineLength {
                    return .failure(.init(status: 414, reason: "request line longer than \(limits.maxRequestLineLength) bytes"))
                }
                sawRequestLine = true
            } else if lineLength == 0 {
                if next - skipped > limits.maxHeaderBlockSize {
                    return .failure(Self.headerBlockTooLarge(limits))
                }
                return .success(.complete(block: skipped..<next, consumed: next))
            } else {
                fieldLines += 1
                if fieldLines > limits.maxHeaderCount {
                    return .failure(.init(status: 431, reason: "more than \(limits.maxHeaderCount) header fields"))
                }
            }
            if next - skipped > limits.maxHeaderBlockSize {
                return .failure(Self.headerBlockTooLarge(limits))
            }
            lineStart = next
            scanPos = next
        }

        // Incomplete: enforce limits on what is buffered so far.
        // A pending CR at the very end is not counted against the request-line limit.
        var pending = input.count - lineStart
        if pending > 0 && input[input.count - 1] == ASCII.cr { pending -= 1 }
        if !sawRequestLine && pending > limits.maxRequestLineLength {
            return .failure(.init(status: 414, reason: "request line longer than \(limits.maxRequestLineLength) bytes"))
        }
        if input.count - skipped > limits.maxHeaderBlockSize {
            return .failure(Self.headerBlockTooLarge(limits))
        }
        if skipped > 0 {
            // Leading empty lines are dropped by the caller: rebase our offsets.
            scanPos -= skipped
            lineStart -= skipped
        }
        return .success(.incomplete(skipped: skipped))
    }

    private static func headerBlockTooLarge(_ limits: HTTPParserLimits) -> HTTPParseError {
        .init(status: 431, reason: "request header block larger than \(limits.maxHeaderBlockSize) bytes")
    }
}
