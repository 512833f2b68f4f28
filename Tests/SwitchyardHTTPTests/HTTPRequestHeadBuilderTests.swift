import Testing
@testable import SwitchyardHTTP

/// `HTTPRequestHeadBuilder` must give what `HTTPRequestParser` gives for the same request written
/// as HTTP/1.1 text: the same head, or the same status. Each case is run both ways and compared.
@Suite("HTTP request head builder")
struct HTTPRequestHeadBuilderTests {
    typealias Fields = [(String, String)]

    func built(_ method: String, _ target: String, _ fields: Fields, limits: HTTPParserLimits,
               tokenNames: Bool = false) -> Result<HTTPRequestHead, HTTPParseError> {
        var method = method, target = target
        return method.withUTF8 { m in
            target.withUTF8 { t in
                var builder = HTTPRequestHeadBuilder(method: UnsafeRawBufferPointer(m), target: UnsafeRawBufferPointer(t), limits: limits)
                for (name, value) in fields {
                    var name = name, value = value
                    name.withUTF8 { n in
                        value.withUTF8 { v in
                            if tokenNames {
                                builder.add(tokenName: UnsafeRawBufferPointer(n), value: UnsafeRawBufferPointer(v))
                            } else {
                                builder.add(name: UnsafeRawBufferPointer(n), value: UnsafeRawBufferPointer(v))
                            }
                        }
                    }
                }
                do throws(HTTPParseError) { return .success(try builder.finish()) } catch { return .failure(error) }
            }
        }
    }

    /// Through `add(tokenName:value:cache:)`, the fields as arrays (HTTP/2's, read from its tables).
    func builtCached(_ method: String, _ target: String, _ fields: [([UInt8], [UInt8])], limits: HTTPParserLimits,
                     cache: inout FieldStringCache) -> Result<HTTPRequestHead, HTTPParseError> {
        builtCached(Array(method.utf8), Array(target.utf8), fields, limits: limits, cache: &cache)
    }

    /// The line from arrays too (the same arrays again: the line from the cache).
    func builtCached(_ method: [UInt8], _ target: [UInt8], _ fields: [([UInt8], [UInt8])], limits: HTTPParserLimits,
                     cache: inout FieldStringCache) -> Result<HTTPRequestHead, HTTPParseError> {
        var builder = HTTPRequestHeadBuilder(method: method, target: target, limits: limits, cache: &cache)
        for (name, value) in fields { builder.add(tokenName: name, value: value, cache: &cache) }
        do throws(HTTPParseError) { return .success(try builder.finish()) } catch { return .failure(error) }
    }

    func parsed(_ method: String, _ target: String, _ fields: Fields, limits: HTTPParserLimits) -> Result<HTTPRequestHead, HTTPParseError> {
        var text = "\(method) \(target) HTTP/1.1\r\n"
        for (name, value) in fields { text += "\(name): \(value)\r\n" }
        text += "\r\n"
        var parser = HTTPRequestParser(limits: limits)
        switch parser.parse(Array(text.utf8)) {
        case .success((.head(let head), _)): return .success(head)
        case .success: return .failure(HTTPParseError(status: 0, reason: "no head"))
        case .failure(let error): return .failure(error)
        }
    }

    func expectSame(_ method: String, _ target: String, _ fields: Fields, limits: HTTPParserLimits = HTTPParserLimits(),
                    sourceLocation: SourceLocation = #_sourceLocation) {
        // The cached way, cold then warm (the same arrays again: every field a hit), must agree too.
        let arrays = fields.map { (Array($0.0.utf8), Array($0.1.utf8)) }
        let methodBytes = Array(method.utf8), targetBytes = Array(target.utf8)
        var cache = FieldStringCache()
        let parsedResult = parsed(method, target, fields, limits: limits)
        for pass in ["cold", "warm"] {
            switch (builtCached(methodBytes, targetBytes, arrays, limits: limits, cache: &cache), parsedResult) {
            case (.success(let a), .success(let b)):
                #expect(a == b, "cached (\(pass)): \(method) \(target) \(fields)", sourceLocation: sourceLocation)
            case (.failure(let a), .failure(let b)):
                #expect(a.status == b.status, "cached (\(pass)): \(method) \(target) \(fields): \(a.reason) vs \(b.reason)",
                        sourceLocation: sourceLocation)
            case (let a, let b):
                Issue.record("cached (\(pass)): \(method) \(target) \(fields): built \(a), parsed \(b)", sourceLocation: sourceLocation)
            }
        }
        switch (built(method, target, fields, limits: limits), parsedResult) {
        case (.success(let a), .success(let b)):
            #expect(a == b, "\(method) \(target) \(fields)", sourceLocation: sourceLocation)
            // Names already known to be tokens (HTTP/2's) give the same head.
            if case .success(let c) = built(method, target, fields, limits: limits, tokenNames: true) {
                #expect(c == a, "token names: \(method) \(target) \(fields)", sourceLocation: sourceLocation)
            } else {
                Issue.record("token names: \(method) \(target) \(fields) refused", sourceLocation: sourceLocation)
            }
        case (.failure(let a), .failure(let b)):
            #expect(a.status == b.status, "\(method) \(target) \(fields): \(a.reason) vs \(b.reason)", sourceLocation: sourceLocation)
        case (let a, let b):
            Issue.record("\(method) \(target) \(fields): built \(a), parsed \(b)", sourceLocation: sourceLocation)
        }
    }

    @Test func acceptedHeadsAreTheParsersHeads() {
        let host: Fields = [("host", "a.test")]
        expectSame("GET", "/x?y=1", host + [("accept", "*/*"), ("user-agent", "h2load nghttp2/1.52.0"), ("cookie", "a=1; b=2")])
        expectSame("POST", "/p", host + [("content-length", "12")])
        expectSame("POST", "/p", host + [("transfer-encoding", "chunked")])
        expectSame("GET", "/ws", host + [("upgrade", "websocket"), ("connection", "upgrade"), ("sec-websocket-version", "13")])
        expectSame("PUT", "/e", host + [("expect", "100-continue"), ("content-length", "3")])
        expectSame("CONNECT", "a.test:443", host)
        expectSame("OPTIONS", "*", host)
        expectSame("GET", "http://b.test/abs", host)
        expectSame("GET", "/", host + [("x-empty", ""), ("x-high", "caf\u{e9}"), ("cookie", "a=1; ")])
        expectSame("FOO", "/", host)
    }

    @Test func refusalsHaveTheParsersStatus() {
        let host: Fields = [("host", "a.test")]
        expectSame("GET", "/", [])                                              // no Host
        expectSame("GET", "/", host + [("host", "b.test")])                     // two
        expectSame("GET", "/", [("host", "a/b")])                               // invalid Host
        expectSame("GET", "/a#f", host)                                         // fragment
        expectSame("G:T", "/", host)                                            // not a token
        expectSame("GET", "/caf\u{e9}", host)                                   // not visible ASCII
        expectSame("POST", "/", host + [("content-length", "1"), ("content-length", "2")])
        expectSame("POST", "/", host + [("content-length", "x")])
        expectSame("POST", "/", host + [("transfer-encoding", "gzip")])         // 501
        expectSame("POST", "/", host + [("transfer-encoding", "chunked"), ("content-length", "3")])
        expectSame("GET", "/", host + [("x", "a\u{1}b")])                       // control character
        expectSame("CONNECT", "/", host)
        expectSame("GET", "*", host)
    }

    /// The cache is keyed by the arrays' storage: a value refused once is refused on every later
    /// request that carries it, and a new array never gets what an old one left in the cache,
    /// not even when it is made right after the old one is gone (the cache holds the old one's
    /// storage, so its address cannot come back with other bytes).
    @Test func cachedFieldsAreTheirOwnBytes() {
        let limits = HTTPParserLimits()
        var cache = FieldStringCache()
        func head(_ fields: [([UInt8], [UInt8])]) -> Result<HTTPRequestHead, HTTPParseError> {
            builtCached("GET", "/", fields, limits: limits, cache: &cache)
        }
        let host = (Array("host".utf8), Array("a.test".utf8))
        let bad = (Array("x".utf8), Array("a\u{1}b".utf8))
        for _ in 0..<3 {
            guard case .failure(let error) = head([host, bad]) else { Issue.record("control byte accepted"); return }
            #expect(error.status == 400)
        }
        // Fresh arrays, one after another, each freed before the next is made: each reads as itself.
        for i in 0..<200 {
            let value = Array(" v\(i) ".utf8)
            guard case .success(let h) = head([host, (Array("x-n".utf8), value)]) else { Issue.record("refused \(i)"); return }
            #expect(h.headers["x-n"] == "v\(i)")
        }
        // A changed array is another array (copy on write): its new bytes are read.
        var value = Array("ok".utf8)
        let name = Array("x-v".utf8)
        guard case .success(let first) = head([host, (name, value)]) else { Issue.record("refused ok"); return }
        #expect(first.headers["x-v"] == "ok")
        value[0] = 0x7f
        if case .success = head([host, (name, value)]) { Issue.record("DEL accepted after a change") }
        value[0] = UInt8(ascii: "n")
        guard case .success(let changed) = head([host, (name, value)]) else { Issue.record("refused nk"); return }
        #expect(changed.headers["x-v"] == "nk")
        // The rules across fields still apply to a cached field: the same Host twice is refused.
        if case .success = head([host, host]) { Issue.record("two Host fields accepted") }
        // A Host value's authority check is kept with it: an invalid one is refused every time,
        // as is the same bytes' value under a 4-byte name that is not Host accepted every time.
        let badHost = (Array("host".utf8), Array("a/b".utf8))
        let other = (Array("x-ab".utf8), badHost.1)
        for _ in 0..<3 {
            if case .success = head([badHost]) { Issue.record("invalid Host accepted") }
            guard case .success(let h) = head([host, other]) else { Issue.record("x-ab refused"); return }
            #expect(h.headers["x-ab"] == "a/b" && h.host == "a.test")
        }
    }

    /// What the cache holds stays within its byte budget however large and varied the fields a
    /// client sends, the heads stay right, and old large values make room for the fields that
    /// come after them.
    @Test func cachedBytesStayWithinTheBudget() {
        let limits = HTTPParserLimits(maxHeaderBlockSize: 1 << 16)
        var cache = FieldStringCache()
        let host = (Array("host".utf8), Array("a.test".utf8))
        var kept: [([UInt8], [UInt8])] = []   // held here too, as the HPACK table would
        for request in 0..<40 {
            var fields = [host]
            for i in 0..<7 { fields.append((Array("x-\(request)-\(i)".utf8), [UInt8](repeating: UInt8(97 + i), count: 900))) }
            kept += fields
            guard case .success(let h) = builtCached("GET", "/", fields, limits: limits, cache: &cache) else {
                Issue.record("refused \(request)"); return
            }
            #expect(h.headers["x-\(request)-3"] == String(repeating: "d", count: 900))
            #expect(cache.heldBytes <= FieldStringCache.heldBytesLimit, "request \(request): \(cache.heldBytes)")
        }
        // A small field sent now is kept (the large ones made room) and found the next time.
        let small = (Array("y".utf8), Array("v".utf8))
        _ = builtCached("GET", "/", [host, small], limits: limits, cache: &cache)
        #expect(cache.slot(name: small.0, value: small.1).hit)
        #expect(cache.heldBytes <= FieldStringCache.heldBytesLimit)
        _ = kept
    }

    /// A set of fields remembered (`rememberFields`) is adopted whole only by a builder that has
    /// no field yet and stays within the limits, and gives the head the fields give one by one;
    /// a set that raised an error is not remembered; the arrays are compared by storage.
    @Test func rememberedFieldsAreAdoptedOnlyWhenTheSame() {
        var cache = FieldStringCache()
        let fields = [(Array("host".utf8), Array("a.test".utf8)), (Array("accept".utf8), Array("*/*".utf8)),
                      (Array("connection".utf8), Array("close".utf8))]
        let arrays = fields.flatMap { [$0.0, $0.1] }
        func builder(_ limits: HTTPParserLimits = HTTPParserLimits()) -> HTTPRequestHeadBuilder {
            HTTPRequestHeadBuilder(method: Array("GET".utf8), target: Array("/".utf8), limits: limits, cache: &cache)
        }
        var count = cache.rememberedArrayCount()
        #expect(count == -1)
        var first = builder()
        let before = first.countedBytes
        for (name, value) in fields { first.add(tokenName: name, value: value, cache: &cache) }
        first.rememberFields(in: &cache, arrays: arrays, bytesBefore: before)
        count = cache.rememberedArrayCount()
        #expect(count == 6)
        for (i, array) in arrays.enumerated() {
            let same = cache.rememberedArray(i, is: array)
            #expect(same)
        }
        let copy = cache.rememberedArray(1, is: Array("a.test".utf8))
        #expect(!copy, "another array with the same bytes")
        let expected = try? first.finish()
        var second = builder()
        let adoptedWhole = second.adoptRememberedFields(&cache)
        #expect(adoptedWhole)
        let adopted = try? second.finish()
        #expect(adopted != nil && adopted == expected && adopted?.keepAlive == false && adopted?.host == "a.test")
        // A builder with a field already, or limits the set would cross, takes the fields one by one.
        var third = builder()
        third.add(tokenName: fields[1].0, value: fields[1].1, cache: &cache)
        let thirdAdopted = third.adoptRememberedFields(&cache)
        #expect(!thirdAdopted)
        var fourth = builder(HTTPParserLimits(maxHeaderCount: 2))
        let fourthAdopted = fourth.adoptRememberedFields(&cache)
        #expect(!fourthAdopted)
        // An erroneous set (two Host fields) is not remembered.
        var fifth = builder()
        let twice = [fields[0], fields[0]]
        let bytes = fifth.countedBytes
        for (name, value) in twice { fifth.add(tokenName: name, value: value, cache: &cache) }
        fifth.rememberFields(in: &cache, arrays: twice.flatMap { [$0.0, $0.1] }, bytesBefore: bytes)
        count = cache.rememberedArrayCount()
        #expect(count == 6, "the earlier set stays")
    }

    /// Request lines are cached by the identity of the method's and the target's arrays: a
    /// changed target is read again, a refused one is refused every time, and the limits apply
    /// to a cached line as to a new one.
    @Test func cachedRequestLinesAreTheirOwnBytes() {
        var cache = FieldStringCache()
        let host = (Array("host".utf8), Array("a.test".utf8))
        let get = Array("GET".utf8)
        var target = Array("/a?x=1".utf8)
        for _ in 0..<2 {
            guard case .success(let h) = builtCached(get, target, [host], limits: HTTPParserLimits(), cache: &cache) else {
                Issue.record("refused /a?x=1"); return
            }
            #expect(h.method == "GET" && h.path == "/a" && h.query == "x=1" && h.target == "/a?x=1")
        }
        target[1] = UInt8(ascii: "b")
        guard case .success(let changed) = builtCached(get, target, [host], limits: HTTPParserLimits(), cache: &cache) else {
            Issue.record("refused /b?x=1"); return
        }
        #expect(changed.path == "/b" && changed.target == "/b?x=1")
        let small = HTTPParserLimits(maxRequestLineLength: 16)
        guard case .failure(let long) = builtCached(get, target, [host], limits: small, cache: &cache) else {
            Issue.record("a cached line over the limit accepted"); return
        }
        #expect(long.status == 414)
        let fragment = Array("/a#f".utf8)
        for _ in 0..<3 {
            guard case .failure(let error) = builtCached(get, fragment, [host], limits: HTTPParserLimits(), cache: &cache) else {
                Issue.record("fragment accepted"); return
            }
            #expect(error.status == 400)
        }
        // Fresh targets, each freed before the next: each reads as itself.
        for i in 0..<50 {
            let path = "/p\(i)"
            guard case .success(let h) = builtCached(get, Array(path.utf8), [host], limits: HTTPParserLimits(), cache: &cache) else {
                Issue.record("refused \(path)"); return
            }
            #expect(h.path == path)
        }
    }

    @Test func limitsHaveTheParsersStatus() {
        let host: Fields = [("host", "a.test")]
        let small = HTTPParserLimits(maxRequestLineLength: 40, maxHeaderBlockSize: 120, maxBodySize: 10, maxHeaderCount: 3)
        expectSame("GET", "/" + String(repeating: "a", count: 40), host, limits: small)                     // 414
        expectSame("GET", "/" + String(repeating: "a", count: 40) + "#", host, limits: small)               // 414 first
        expectSame("GET", "/", host + [("a", "1"), ("b", "2"), ("c", "3")], limits: small)                 // 431 count
        expectSame("GET", "/", host + [("x", String(repeating: "v", count: 100))], limits: small)          // 431 size
        expectSame("G:T", "/", host + [("x", String(repeating: "v", count: 100))], limits: small)          // 431 before 400
        expectSame("POST", "/", host + [("content-length", "11")], limits: small)                          // 413
        expectSame("GET", "/", host + [("x", String(repeating: "v", count: 82))], limits: small)           // at the limit
        expectSame("GET", "/", host + [("x", String(repeating: "v", count: 83))], limits: small)           // one over
    }
}
