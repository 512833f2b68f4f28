/// Byte-at-a-time state machine for the chunked transfer coding (RFC 9112 7.1).
///
/// Framing bytes are consumed as they arrive (nothing to buffer), chunk data is handed
/// out as ranges of the input. Strict where laxness enables smuggling: the size is 1–15
/// hex digits (no sign, no "0x"), every framing line ends in CRLF, chunk data must be
/// followed by CRLF. Extensions are skipped; trailer fields are checked for syntax and
/// dropped.
struct ChunkedDecoder: Sendable {
    enum Phase: Sendable {
        case size, sizeWhitespace, extensions, sizeLF
        case data, dataCR, dataLF
        case trailerLineStart, trailerName, trailerValue, trailerLF, finalLF
    }

    /// Longest chunk-size line (size + extensions) accepted.
    static let maxChunkLineLength = 4096
    static let maxSizeDigits = 15

    var phase: Phase = .size
    var chunkSize = 0
    var sizeDigits = 0
    var lineLength = 0
    var remaining = 0
    var bodyTotal = 0
    var trailerBytes = 0
    var trailerFields = 0

    mutating func decode(_ input: UnsafeRawBufferPointer, limits: HTTPParserLimits) -> Result<(HTTPRequestParser.Event, consumed: Int), HTTPParseError> {
        var i = 0
        let count = input.count
        while i < count {
            if phase == .data {
                let n = min(remaining, count - i)
                remaining -= n
                if remaining == 0 { phase = .dataCR }
                return .success((.body(i..<(i + n)), i + n))
            }
            let b = input[i]
            i += 1
            switch phase {
            case .size:
                lineLength += 1
                if let v = ASCII.hexValue(b) {
                    sizeDigits += 1
                    if sizeDigits > Self.maxSizeDigits { return .failure(.badRequest("chunk size too large")) }
                    chunkSize = chunkSize &* 16 &+ v
                } else if sizeDigits == 0 {
                    return .failure(.badRequest("invalid chunk size"))
                } else if b == ASCII.semicolon {
                    phase = .extensions
                } else if ASCII.isWhitespace(b) {
                    phase = .sizeWhitespace
                } else if b == ASCII.cr {
                    phase = .sizeLF
                } else {
                    return .failure(.badRequest("invalid chunk size"))
                }
            case .sizeWhitespace:
                lineLength += 1
                if b == ASCII.semicolon {
                    phase = .extensions
                } else if b == ASCII.cr {
                    phase = .sizeLF
                } else if !ASCII.isWhitespace(b) {
                    return .failure(.badRequest("invalid chunk size"))
                }
            case .extensions:
                lineLength += 1
                if lineLength > Self.maxChunkLineLength { return .failure(.badRequest("chunk extensions too long")) }
                if b == ASCII.cr {
                    phase = .sizeLF
                } else if ASCII.isForbiddenInValue(b) {
                    return .failure(.badRequest("control character in chunk extension"))
                }
            case .sizeLF:
                guard b == ASCII.lf else { return .failure(.badRequest("chunk size line not terminated by CRLF")) }
                if let e = startChunk(limits) { return .failure(e) }
            case .data:
                preconditionFailure("handled above")
            case .dataCR:
                guard b == ASCII.cr else { return .failure(.badRequest("missing CRLF after chunk data")) }
                phase = .dataLF
            case .dataLF:
                guard b == ASCII.lf else { return .failure(.badRequest("missing CRLF after chunk data")) }
                phase = .size
            case .trailerLineStart, .trailerName, .trailerValue, .trailerLF, .finalLF:
                trailerBytes += 1
                if trailerBytes > limits.maxHeaderBlockSize {
                    return .failure(.init(status: 431, reason: "chunked trailer section larger than \(limits.maxHeaderBlockSize) bytes"))
                }
                switch trailerByte(b, limits: limits) {
                case .failure(let e): return .failure(e)
                case .success(true):
                    self = ChunkedDecoder()
                    return .success((.end, i))
                case .success(false):
                    break
                }
            }
        }
        return .success((.needMoreData, count))
    }

    /// A complete chunk-size line has been read.
    private mutating func startChunk(_ limits: HTTPParserLimits) -> HTTPParseError? {
        let size = chunkSize
        chunkSize = 0
        sizeDigits = 0
        lineLength = 0
        if size == 0 {
            phase = .trailerLineStart
            return nil
        }
        if limits.maxBodySize > 0 && size > limits.maxBodySize - bodyTotal {
            return .init(status: 413, reason: "chunked body exceeds limit \(limits.maxBodySize)")
        }
        bodyTotal += size
        remaining = size
        phase = .data
        return nil
    }

    /// Returns true when the final CRLF of the message has been read.
    private mutating func trailerByte(_ b: UInt8, limits: HTTPParserLimits) -> Result<Bool, HTTPParseError> {
        switch phase {
        case .trailerLineStart:
            if b == ASCII.cr {
                phase = .finalLF
            } else if ASCII.isWhitespace(b) {
                return .failure(.badRequest("obsolete line folding in trailer"))
            } else if ASCII.isTokenChar(b) {
                trailerFields += 1
                if trailerFields > limits.maxHeaderCount {
                    return .failure(.init(status: 431, reason: "more than \(limits.maxHeaderCount) trailer fields"))
                }
                phase = .trailerName
            } else {
                return .failure(.badRequest("invalid trailer field"))
            }
        case .trailerName:
            if b == ASCII.colon {
                phase = .trailerValue
            } else if !ASCII.isTokenChar(b) {
                return .failure(.badRequest("invalid trailer field name"))
            }
        case .trailerValue:
            if b == ASCII.cr {
                phase = .trailerLF
            } else if ASCII.isForbiddenInValue(b) {
                return .failure(.badRequest("control character in trailer value"))
            }
        case .trailerLF:
            guard b == ASCII.lf else { return .failure(.badRequest("bare CR in trailer")) }
            phase = .trailerLineStart
        case .finalLF:
            guard b == ASCII.lf else { return .failure(.badRequest("chunked body not terminated by CRLF")) }
            return .success(true)
        default:
            break
        }
        return .success(false)
    }
}
