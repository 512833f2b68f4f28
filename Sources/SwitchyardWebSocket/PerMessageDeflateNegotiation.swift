/// permessage-deflate (RFC 7692) parameters: parsing a client's offers from
/// `Sec-WebSocket-Extensions`, and the server's choice among them.
///
/// An offer with an unknown, duplicated or malformed parameter is declined (RFC 7692 5.1: "MUST
/// decline"), and the next offer is tried; no acceptable offer means the connection runs without
/// compression rather than failing.
public struct PerMessageDeflateParameters: Sendable, Equatable {
    public var serverNoContextTakeover = false
    public var clientNoContextTakeover = false
    /// 8...15 when present.
    public var serverMaxWindowBits: Int?
    /// In an offer: `.some(nil)` = the parameter without a value (the client accepts any), nil = absent.
    public var clientMaxWindowBits: Int??

    public init(serverNoContextTakeover: Bool = false, clientNoContextTakeover: Bool = false,
                serverMaxWindowBits: Int? = nil, clientMaxWindowBits: Int?? = nil) {
        self.serverNoContextTakeover = serverNoContextTakeover
        self.clientNoContextTakeover = clientNoContextTakeover
        self.serverMaxWindowBits = serverMaxWindowBits
        self.clientMaxWindowBits = clientMaxWindowBits
    }

    /// The extension as written in a `Sec-WebSocket-Extensions` header.
    public var headerValue: String {
        var s = "permessage-deflate"
        if serverNoContextTakeover { s += "; server_no_context_takeover" }
        if clientNoContextTakeover { s += "; client_no_context_takeover" }
        if let bits = serverMaxWindowBits { s += "; server_max_window_bits=\(bits)" }
        if let client = clientMaxWindowBits { s += client.map { "; client_max_window_bits=\($0)" } ?? "; client_max_window_bits" }
        return s
    }
}

/// What the server is willing to do; bounds the memory each compressed connection may cost.
public struct PerMessageDeflateConfig: Sendable, Equatable {
    /// Largest LZ77 window the server compresses with (9...15; zlib cannot do 8 for raw deflate).
    public var serverMaxWindowBits: Int
    /// Largest window the server lets the client use, i.e. what inflating costs (8...15).
    public var clientMaxWindowBits: Int
    /// Reset the compressor after each message (saves the window between messages).
    public var serverNoContextTakeover: Bool
    /// zlib memLevel of the compressor (1...9): state is about 2^(memLevel+9) bytes on top of the window.
    public var memoryLevel: Int
    public var compressionLevel: Int

    public init(serverMaxWindowBits: Int = 15, clientMaxWindowBits: Int = 15, serverNoContextTakeover: Bool = false,
                memoryLevel: Int = 8, compressionLevel: Int = 6) {
        self.serverMaxWindowBits = min(max(serverMaxWindowBits, 9), 15)
        self.clientMaxWindowBits = min(max(clientMaxWindowBits, 8), 15)
        self.serverNoContextTakeover = serverNoContextTakeover
        self.memoryLevel = min(max(memoryLevel, 1), 9)
        self.compressionLevel = min(max(compressionLevel, 0), 9)
    }
}

/// Parsing and choosing.
public enum PerMessageDeflateNegotiation {
    /// The permessage-deflate offers of one or more `Sec-WebSocket-Extensions` values, in order;
    /// each element is nil where an offer was malformed (declined). Other extensions are skipped.
    public static func offers(_ headerValues: [String]) -> [PerMessageDeflateParameters?] {
        var result: [PerMessageDeflateParameters?] = []
        for value in headerValues {
            for ext in splitOutsideQuotes(Array(value.utf8), separator: 0x2C) {
                let parts = splitOutsideQuotes(ext, separator: 0x3B).map(trim)
                guard let name = parts.first, equalsIgnoringCase(name, "permessage-deflate") else { continue }
                result.append(parseParameters(parts.dropFirst()))
                if result.count >= 16 { return result }
            }
        }
        return result
    }

    /// The server's response to the first acceptable offer, or nil (no compression).
    public static func accept(offers: [PerMessageDeflateParameters?], config: PerMessageDeflateConfig) -> PerMessageDeflateParameters? {
        for case let offer? in offers {
            var response = PerMessageDeflateParameters()
            response.clientNoContextTakeover = offer.clientNoContextTakeover
            response.serverNoContextTakeover = offer.serverNoContextTakeover || config.serverNoContextTakeover
            if let wanted = offer.serverMaxWindowBits {
                // zlib's raw deflate has no 8-bit window: an offer that insists on it is declined.
                if wanted < 9 { continue }
                response.serverMaxWindowBits = min(wanted, config.serverMaxWindowBits)
            } else if config.serverMaxWindowBits < 15 {
                response.serverMaxWindowBits = config.serverMaxWindowBits
            }
            if let offered = offer.clientMaxWindowBits {
                let limit = min(offered ?? 15, config.clientMaxWindowBits)
                if limit < 15 || offered != nil { response.clientMaxWindowBits = .some(limit) }
            } else if config.clientMaxWindowBits < 15 {
                // The client cannot be told to use a smaller window: decline rather than inflate unbounded windows.
                continue
            }
            return response
        }
        return nil
    }

    static func parseParameters(_ parts: ArraySlice<[UInt8]>) -> PerMessageDeflateParameters? {
        var p = PerMessageDeflateParameters()
        var seen: Set<String> = []
        for part in parts {
            let pieces = splitOutsideQuotes(part, separator: 0x3D).map(trim)
            guard let rawName = pieces.first, !rawName.isEmpty, pieces.count <= 2 else { return nil }
            let name = String(decoding: rawName.map(lower), as: UTF8.self)
            guard seen.insert(name).inserted else { return nil }
            let value = pieces.count == 2 ? unquote(pieces[1]) : nil
            if pieces.count == 2 && value == nil { return nil }
            switch name {
            case "server_no_context_takeover":
                guard value == nil else { return nil }
                p.serverNoContextTakeover = true
            case "client_no_context_takeover":
                guard value == nil else { return nil }
                p.clientNoContextTakeover = true
            case "server_max_window_bits":
                guard let bits = windowBits(value) else { return nil }
                p.serverMaxWindowBits = bits
            case "client_max_window_bits":
                if let value {
                    guard let bits = windowBits(value) else { return nil }
                    p.clientMaxWindowBits = .some(bits)
                } else {
                    p.clientMaxWindowBits = .some(nil)
                }
            default:
                return nil
            }
        }
        return p
    }

    /// 8...15 written as 1*DIGIT without leading zero (RFC 7692 7.1.2).
    static func windowBits(_ value: [UInt8]?) -> Int? {
        guard let value, !value.isEmpty, value.count <= 2, value[0] != 0x30,
              value.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        let n = value.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        return (8...15).contains(n) ? n : nil
    }

    static func splitOutsideQuotes(_ bytes: [UInt8], separator: UInt8) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var start = 0
        var quoted = false
        var i = 0
        while i <= bytes.count {
            if i == bytes.count || (bytes[i] == separator && !quoted) {
                out.append(Array(bytes[start..<i]))
                start = i + 1
            } else if bytes[i] == 0x22 {
                quoted.toggle()
            } else if bytes[i] == 0x5C && quoted {
                i += 1
            }
            i += 1
        }
        return out
    }

    static func trim(_ bytes: [UInt8]) -> [UInt8] {
        var s = 0, e = bytes.count
        while s < e && (bytes[s] == 0x20 || bytes[s] == 0x09) { s += 1 }
        while e > s && (bytes[e - 1] == 0x20 || bytes[e - 1] == 0x09) { e -= 1 }
        return Array(bytes[s..<e])
    }

    /// A token, or a quoted-string whose content is a token (RFC 7692 7.1 allows both); nil otherwise.
    static func unquote(_ bytes: [UInt8]) -> [UInt8]? {
        var v = bytes
        if v.count >= 2 && v.first == 0x22 && v.last == 0x22 { v = Array(v[1..<(v.count - 1)]) }
        guard !v.isEmpty, v.allSatisfy(isTokenByte) else { return nil }
        return v
    }

    static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x5E, 0x5F, 0x60, 0x7C, 0x7E: return true
        default: return false
        }
    }

    static func lower(_ b: UInt8) -> UInt8 { b >= 0x41 && b <= 0x5A ? b | 0x20 : b }

    static func equalsIgnoringCase(_ bytes: [UInt8], _ literal: String) -> Bool {
        bytes.count == literal.utf8.count && zip(bytes, literal.utf8).allSatisfy { lower($0) == $1 }
    }
}
