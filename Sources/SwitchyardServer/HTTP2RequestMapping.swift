import SwitchyardHTTP
import SwitchyardHTTP2
import SwitchyardWebSocket

/// The HTTP/1.1 view of an HTTP/2 request, which routes and backends already understand.
///
/// The head is built straight from the decoded fields by `HTTPRequestHeadBuilder`, which applies
/// every rule `HTTPRequestParser` applies to the equivalent HTTP/1.1 text (Host rules, Connection
/// tokens, Upgrade, the size limits, a `:path` with a space is a 400 as its HTTP/1.1 form would
/// be) without writing that text and parsing it again: the fields go from HPACK's bytes into the
/// head's strings once.
///
/// - Host comes from `:authority` when the request has no `host` field (RFC 9113 §8.3.1); cookie
///   crumbs are joined with "; " into one field at the place of the first (§8.2.3).
/// - A body of unknown length (no `content-length`, HEADERS without END_STREAM) is announced as
///   `transfer-encoding: chunked`, exactly what an HTTP/1.1 body of unknown length looks like to
///   the routes (CGI streams it; SCGI and uwsgi, which need the length up front, answer 411).
/// - RFC 8441 extended CONNECT with `:protocol websocket` becomes the RFC 6455 upgrade request:
///   `GET`, `Upgrade: websocket`, `Connection: upgrade`, a fresh `Sec-WebSocket-Key` and
///   `Sec-WebSocket-Version: 13` (a client's own key or version fields are replaced).
enum HTTP2RequestMapping {
    struct Mapped {
        var head: HTTPRequestHead
        /// The stream is an RFC 8441 tunnel (or a plain CONNECT): DATA is the byte stream.
        var isTunnel: Bool
        /// DATA frames carry a request body.
        var hasBody: Bool
    }

    static func http1Head(_ request: HTTP2RequestHead, endStream: Bool, limits: HTTPParserLimits,
                          random: inout FastRandom) -> Result<Mapped, HTTPParseError> {
        var cache = FieldStringCache()
        return http1Head(request, endStream: endStream, limits: limits, random: &random, cache: &cache)
    }

    /// `http1Head` through the connection's `memo`: a repeated request's mapping comes from it,
    /// and a new plain request's is kept there.
    static func http1Head(_ request: HTTP2RequestHead, endStream: Bool, limits: HTTPParserLimits,
                          random: inout FastRandom, cache: inout FieldStringCache,
                          memo: inout RepeatedRequestMemo) -> Result<Mapped, HTTPParseError> {
        if let known = memo.mapped(for: request, endStream: endStream, limits: limits) { return .success(known) }
        let result = http1Head(request, endStream: endStream, limits: limits, random: &random, cache: &cache)
        if case .success(let mapped) = result {
            memo.remember(mapped, for: request, endStream: endStream, limits: limits)
        }
        return result
    }

    /// `cache`: the connection's (see `FieldStringCache`): the fields a client repeats on every
    /// request, read from its HPACK table as the same arrays, become Strings once.
    static func http1Head(_ request: HTTP2RequestHead, endStream: Bool, limits: HTTPParserLimits,
                          random: inout FastRandom, cache: inout FieldStringCache) -> Result<Mapped, HTTPParseError> {
        let isTunnel = request.methodIs("CONNECT")
        let hasBody = !endStream && !isTunnel
        let isUpgrade = request.isExtendedConnect
        let method = isUpgrade ? Names.get : request.pseudo(.method) ?? []
        let target = !isUpgrade && isTunnel ? request.pseudo(.authority) ?? [] : request.pseudo(.path) ?? Names.slash
        var builder = HTTPRequestHeadBuilder(method: method, target: target, limits: limits,
                                             fieldCapacity: request.list.count - request.regularStart + 2, cache: &cache)
        let isWebSocket = addUpgradeFields(request, to: &builder, random: &random)
        if hasBody {
            if let length = request.contentLength { builder.add(name: "content-length", value: String(length)) }
            else { builder.add(name: "transfer-encoding", value: "chunked") }
        }
        addFields(request, to: &builder, isWebSocket: isWebSocket, cache: &cache,
                  canRemember: !hasBody && !isUpgrade)
        do throws(HTTPParseError) {
            return .success(Mapped(head: try builder.finish(), isTunnel: isTunnel, hasBody: hasBody))
        } catch {
            return .failure(error)
        }
    }

    /// Extended CONNECT's upgrade fields; true when it is a WebSocket (whose own key and version go).
    private static func addUpgradeFields(_ request: HTTP2RequestHead, to builder: inout HTTPRequestHeadBuilder,
                                         random: inout FastRandom) -> Bool {
        guard let proto = request.connectProtocol else { return false }
        guard proto.lowercased() == "websocket" else {
            builder.add(name: "upgrade", value: proto)
            builder.add(name: "connection", value: "upgrade")
            return false
        }
        var key: [UInt8] = []
        for _ in 0..<2 { withUnsafeBytes(of: random.next()) { key += $0 } }
        builder.add(name: "upgrade", value: "websocket")
        builder.add(name: "connection", value: "upgrade")
        builder.add(name: "sec-websocket-key", value: Base64.encode(key))
        builder.add(name: "sec-websocket-version", value: "13")
        return true
    }

    /// The client's fields: `host` from `:authority` first when there is no `host` field, cookie
    /// crumbs joined, `content-length` left out (re-announced above only when a body follows).
    ///
    /// The fields are read in place through a buffer pointer: iterating the list's slice copied
    /// every field on each of the passes (a retain and release of its name and value).
    ///
    /// `canRemember`: no field was added before these (no body, no upgrade). Then a request whose
    /// fields are exactly the arrays of the last such request (a client repeating its fields from
    /// its HPACK table) takes what they made (`adoptRememberedFields`); else they are added one by
    /// one and remembered for the next request.
    private static func addFields(_ request: HTTP2RequestHead, to builder: inout HTTPRequestHeadBuilder, isWebSocket: Bool,
                                  cache: inout FieldStringCache, canRemember: Bool) {
        request.list.withUnsafeBufferPointer { list in
            let regular = request.regularStart..<list.count
            var hasHost = false, cookies = 0, hasLength = false
            for i in regular {
                if isName(list[i].name, "host") { hasHost = true } else if isName(list[i].name, "cookie") { cookies += 1 }
                else if isName(list[i].name, "content-length") { hasLength = true }
            }
            let authority = hasHost ? nil : request.pseudo(.authority)
            // Fields added as they arrived, each name and value one array: the ones that can be remembered.
            let rememberable = canRemember && cookies <= 1 && !hasLength && !isWebSocket
            if rememberable {
                var same = cache.rememberedArrayCount() == 2 * (regular.count + (authority == nil ? 0 : 1))
                var k = 0
                if same, let authority {
                    same = cache.rememberedArray(0, is: Names.host) && cache.rememberedArray(1, is: authority)
                    k = 2
                }
                for i in regular where same {
                    same = cache.rememberedArray(k, is: list[i].name) && cache.rememberedArray(k + 1, is: list[i].value)
                    k += 2
                }
                if same && builder.adoptRememberedFields(&cache) { return }
            }
            let bytesBefore = builder.countedBytes
            if let authority {
                builder.add(tokenName: Names.host, value: authority, cache: &cache)
            }
            var joined: [UInt8] = []
            if cookies > 1 {
                var first = true
                for i in regular where isName(list[i].name, "cookie") {
                    if !first { joined.append(contentsOf: Names.crumbSeparator) }
                    first = false
                    joined.append(contentsOf: list[i].value)
                }
            }
            var cookieWritten = false
            for i in regular {
                if isName(list[i].name, "content-length") { continue }
                if isWebSocket && (isName(list[i].name, "sec-websocket-key") || isName(list[i].name, "sec-websocket-version")) {
                    continue
                }
                if cookies > 1 && isName(list[i].name, "cookie") {
                    if cookieWritten { continue }   // in the joined field already
                    cookieWritten = true
                    joined.withUnsafeBytes { v in Names.cookie.withUnsafeBytes { n in builder.add(tokenName: n, value: v) } }
                    continue
                }
                // The session validated the name as a lowercase token: not read again.
                builder.add(tokenName: list[i].name, value: list[i].value, cache: &cache)
            }
            if rememberable {
                var arrays: [[UInt8]] = []
                arrays.reserveCapacity(2 * (regular.count + 1))
                if let authority { arrays.append(Names.host); arrays.append(authority) }
                for i in regular { arrays.append(list[i].name); arrays.append(list[i].value) }
                builder.rememberFields(in: &cache, arrays: arrays, bytesBefore: bytesBefore)
            }
        }
    }

    /// Whether `name` is exactly `literal`: the lengths first (most names differ there), no
    /// array for the literal (a static array is a lazy global, checked on every access).
    @inline(__always)
    private static func isName(_ name: [UInt8], _ literal: StaticString) -> Bool {
        guard name.count == literal.utf8CodeUnitCount else { return false }
        return name.withUnsafeBufferPointer { bytes in
            for i in 0..<bytes.count where bytes[i] != literal.utf8Start[i] { return false }
            return true
        }
    }

    private enum Names {
        static let get = Array("GET".utf8)
        static let slash = Array("/".utf8)
        static let host = Array("host".utf8)
        static let cookie = Array("cookie".utf8)
        static let crumbSeparator = Array("; ".utf8)
    }
}
