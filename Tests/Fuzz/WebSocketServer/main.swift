// fuzz-websocket-server: the tunnel's WebSocket server pieces. Input: [mode][rest].
// mode % 4 == 0: rest is a Sec-WebSocket-Extensions value: offers parse, the accepted response
//   re-parses to itself, and its window bits are within the configuration.
// mode % 4 == 1: rest is a compressed message: inflating stays within the 4096-byte limit or fails
//   with 1007/1009; compressing rest and inflating it gives rest back (context takeover on and off).
// mode % 4 == 2: rest is base64 text fed in pieces: the same bytes or error as one piece, and
//   re-encoding valid input gives the canonical text.
// mode % 4 == 3: rest is "name: value" lines of a handshake: never crashes, a success echoes only
//   offered subprotocols and a 28-character accept.
import FuzzSupport
import SwitchyardWebSocket

func string(_ bytes: UnsafeRawBufferPointer) -> String { String(decoding: bytes, as: UTF8.self) }

func extensions(_ text: String) {
    let config = PerMessageDeflateConfig(serverMaxWindowBits: 12, clientMaxWindowBits: 10)
    let offers = PerMessageDeflateNegotiation.offers([text])
    guard let response = PerMessageDeflateNegotiation.accept(offers: offers, config: config) else { return }
    fuzzCheck((response.serverMaxWindowBits ?? 12) <= 12, "server window \(String(describing: response.serverMaxWindowBits))")
    if let client = response.clientMaxWindowBits { fuzzCheck((client ?? 10) <= 10, "client window too large") }
    let again = PerMessageDeflateNegotiation.offers([response.headerValue])
    fuzzCheck(again.count == 1 && again[0] == response, "response \(response.headerValue) does not re-parse")
}

func inflate(_ bytes: [UInt8], noContextTakeover: Bool) {
    guard let codec = try? PerMessageDeflateCodec(parameters: .init(serverNoContextTakeover: noContextTakeover,
                                                                    clientNoContextTakeover: noContextTakeover)) else { return }
    do throws(WebSocketProtocolError) {
        let out = try codec.decompress(bytes, limit: 4096)
        fuzzCheck(out.count <= 4096, "inflated \(out.count) bytes past the limit")
    } catch {
        fuzzCheck([1007, 1009].contains(error.closeCode), "close code \(error.closeCode)")
    }
    guard let sender = try? PerMessageDeflateCodec(parameters: .init(serverNoContextTakeover: noContextTakeover)),
          let receiver = try? PerMessageDeflateCodec(parameters: .init(clientNoContextTakeover: noContextTakeover)) else { return }
    for _ in 0..<2 {
        guard let compressed = try? sender.compress(bytes) else { fuzzCheck(false, "compress failed"); return }
        let back = try? receiver.decompress(compressed, limit: bytes.count + 1)
        fuzzCheck(back == bytes, "round trip changed \(bytes.count) bytes")
    }
}

func base64(_ text: UnsafeRawBufferPointer, seed: UInt8) {
    func decode(_ pieces: [Range<Int>]) -> [UInt8]? {
        var decoder = Base64StreamDecoder()
        var out: [UInt8] = []
        do {
            for piece in pieces { try decoder.decode(slice(text, piece), into: &out) }
            try decoder.finish()
            return out
        } catch { return nil }
    }
    let whole = decode([0..<text.count])
    fuzzCheck(whole == decode(readSizes(count: text.count, seed: seed)), "split base64 decodes differently")
    if let bytes = whole {
        var encoder = Base64StreamEncoder()
        var encoded: [UInt8] = []
        encoder.encode(bytes, into: &encoded)
        encoder.finish(into: &encoded)
        fuzzCheck(String(decoding: encoded, as: UTF8.self) == Base64.encode(bytes), "stream encoder differs")
    }
}

func handshake(_ text: String) {
    var headers: [(name: String, value: String)] = []
    for line in text.split(separator: "\n").prefix(32) {
        guard let colon = line.firstIndex(of: ":") else { continue }
        headers.append((String(line[..<colon]), String(line[line.index(after: colon)...])))
    }
    let options = WebSocketServerHandshake.Options(deflate: PerMessageDeflateConfig())
    switch WebSocketServerHandshake.evaluate(method: "GET", isHTTP11: true, headers: headers, options: options) {
    case .success(let ok):
        fuzzCheck(ok.accept.utf8.count == 28, "accept \(ok.accept)")
        if let p = ok.subprotocol { fuzzCheck(text.contains(p), "subprotocol \(p) not offered") }
    case .failure(let rejection):
        fuzzCheck(rejection.status == 400, "status \(rejection.status)")
    }
}

runFuzzer { data in
    var input = FuzzInput(data)
    let mode = input.byte()
    let rest = input.rest
    switch mode % 4 {
    case 0: extensions(string(rest))
    case 1: inflate(Array(rest), noContextTakeover: mode & 4 != 0)
    case 2: base64(rest, seed: mode >> 2)
    default: handshake(string(rest))
    }
}
