import SwitchyardHTTP

/// One request as seen through the parser events.
struct ParsedMessage {
    var head: HTTPRequestHead
    var body: [UInt8] = []
    var complete = false
    var bodyString: String { String(decoding: body, as: UTF8.self) }
}

/// Plays the role of the connection: owns a buffer, feeds the unconsumed bytes, drops what
/// the parser consumed, and collects the events.
struct ParserDriver {
    var parser: HTTPRequestParser
    var buffer: [UInt8] = []
    var messages: [ParsedMessage] = []
    var error: HTTPParseError?
    var idleAfterEachEnd: [Bool] = []

    init(limits: HTTPParserLimits = .init()) {
        parser = HTTPRequestParser(limits: limits)
    }

    mutating func feed(_ bytes: [UInt8]) {
        buffer += bytes
        guard error == nil else { return }
        while true {
            let result = buffer.withUnsafeBytes { parser.parse($0) }
            switch result {
            case .failure(let e):
                error = e
                return
            case .success(let (event, consumed)):
                precondition(consumed <= buffer.count)
                switch event {
                case .needMoreData:
                    buffer.removeFirst(consumed)
                    return
                case .head(let head):
                    precondition(messages.last?.complete ?? true, "head before previous end")
                    messages.append(ParsedMessage(head: head))
                case .body(let range):
                    precondition(range.upperBound <= consumed)
                    messages[messages.count - 1].body += buffer[range]
                case .end:
                    messages[messages.count - 1].complete = true
                    idleAfterEachEnd.append(parser.isIdle)
                }
                buffer.removeFirst(consumed)
            }
        }
    }

    mutating func feed(_ s: String) { feed(Array(s.utf8)) }

    /// Whole input at once.
    static func run(_ s: String, limits: HTTPParserLimits = .init()) -> ParserDriver {
        var d = ParserDriver(limits: limits)
        d.feed(s)
        return d
    }

    /// One byte per read.
    static func runByteByByte(_ s: String, limits: HTTPParserLimits = .init()) -> ParserDriver {
        var d = ParserDriver(limits: limits)
        for b in Array(s.utf8) {
            d.feed([b])
            if d.error != nil { break }
        }
        return d
    }

    /// The error status for an input, fed at once and byte by byte (both must agree).
    static func status(_ s: String, limits: HTTPParserLimits = .init()) -> Int? {
        let a = run(s, limits: limits).error?.status
        let b = runByteByByte(s, limits: limits).error?.status
        precondition(a == b, "whole-buffer status \(String(describing: a)) != byte-by-byte \(String(describing: b)) for \(s.debugDescription)")
        return a
    }

    /// Parses exactly one complete request and returns its head.
    static func head(_ s: String) -> HTTPRequestHead? {
        let d = run(s)
        guard d.error == nil, d.messages.count == 1, d.messages[0].complete else { return nil }
        return d.messages[0].head
    }
}
