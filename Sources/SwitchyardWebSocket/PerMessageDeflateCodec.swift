import CZlib

/// The permessage-deflate (RFC 7692) compressor and decompressor of one connection, through zlib.
///
/// A class because it owns two zlib streams (freed in `deinit`); it is confined to the connection's
/// event loop like the connection itself (`@unchecked Sendable` only so a value holding it can be
/// handed to that loop). Memory is bounded by the negotiated window bits: inflating costs about
/// 2^clientWindowBits + 7 KiB, deflating 2^(serverWindowBits+2) + 2^(memoryLevel+9) bytes; with
/// no context takeover the state is reset after every message. Inflated output is bounded per
/// message, so a decompression bomb fails with 1009 after at most `limit` bytes were produced.
public final class PerMessageDeflateCodec: @unchecked Sendable {
    public let parameters: PerMessageDeflateParameters
    private var deflater = z_stream()
    private var inflater = z_stream()
    private var deflaterReady = false
    private var inflaterReady = false
    /// Inflated bytes of the message in progress (for the per-message bound).
    private var inflatedInMessage = 0
    private static let tail: [UInt8] = [0x00, 0x00, 0xFF, 0xFF]
    private static let step = 16 * 1024
    /// `step` zero bytes: appending them is one copy even in a debug build, where appending a
    /// `repeatElement` sequence went byte by byte (~10 ms per message, 40 ms per echo round trip).
    private static let zeros = [UInt8](repeating: 0, count: step)

    /// Sets up both directions for the negotiated `parameters` (the server's point of view).
    public init(parameters: PerMessageDeflateParameters, config: PerMessageDeflateConfig = .init()) throws(WebSocketProtocolError) {
        self.parameters = parameters
        let serverBits = max(parameters.serverMaxWindowBits ?? config.serverMaxWindowBits, 9)
        let clientBits = max((parameters.clientMaxWindowBits ?? nil) ?? 15, 9)
        guard sy_deflate_init_raw(&deflater, Int32(config.compressionLevel), Int32(serverBits), Int32(config.memoryLevel)) == Z_OK else {
            throw .internalError("deflateInit2 failed")
        }
        deflaterReady = true
        guard sy_inflate_init_raw(&inflater, Int32(clientBits)) == Z_OK else { throw .internalError("inflateInit2 failed") }
        inflaterReady = true
    }

    deinit {
        if deflaterReady { deflateEnd(&deflater) }
        if inflaterReady { inflateEnd(&inflater) }
    }

    /// Compresses one whole message for sending (payload of a frame with RSV1 set): deflate with a
    /// sync flush, then the trailing 00 00 FF FF removed (RFC 7692 7.2.1).
    public func compress(_ message: [UInt8]) throws(WebSocketProtocolError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(message.count / 2 + 64)
        var status: Int32 = Z_OK
        message.withUnsafeBytes { input in
            deflater.next_in = UnsafeMutablePointer(mutating: input.bindMemory(to: Bytef.self).baseAddress)
            deflater.avail_in = UInt32(input.count)
            repeat {
                status = drain(stream: &deflater, into: &out) { deflate(&$0, Z_SYNC_FLUSH) }
            } while status == Z_OK && (deflater.avail_in > 0 || deflater.avail_out == 0)
            deflater.next_in = nil
        }
        guard status == Z_OK || status == Z_BUF_ERROR else { throw .internalError("deflate failed (\(status))") }
        if out.count >= 4 && Array(out.suffix(4)) == Self.tail { out.removeLast(4) }
        if out.isEmpty { out = [0x00] }  // an empty message still needs one empty block (7.2.3.6)
        if parameters.serverNoContextTakeover { deflateReset(&deflater) }
        return out
    }

    /// Inflates one fragment of a compressed message into `out`; on the final fragment the
    /// removed 00 00 FF FF is put back first. More than `limit` inflated bytes in the message: 1009.
    public func decompress(_ fragment: [UInt8], isFinal: Bool, limit: Int, into out: inout [UInt8]) throws(WebSocketProtocolError) {
        try inflatePiece(fragment, limit: limit, into: &out)
        if isFinal {
            try inflatePiece(Self.tail, limit: limit, into: &out)
            inflatedInMessage = 0
            if parameters.clientNoContextTakeover { inflateReset(&inflater) }
        }
    }

    /// Whole-message convenience.
    public func decompress(_ message: [UInt8], limit: Int) throws(WebSocketProtocolError) -> [UInt8] {
        var out: [UInt8] = []
        try decompress(message, isFinal: true, limit: limit, into: &out)
        return out
    }

    private func inflatePiece(_ piece: [UInt8], limit: Int, into out: inout [UInt8]) throws(WebSocketProtocolError) {
        var failure: WebSocketProtocolError?
        piece.withUnsafeBytes { input in
            inflater.next_in = UnsafeMutablePointer(mutating: input.bindMemory(to: Bytef.self).baseAddress)
            inflater.avail_in = UInt32(input.count)
            defer { inflater.next_in = nil; inflater.avail_in = 0 }
            while true {
                let before = out.count
                let status = drain(stream: &inflater, into: &out) { inflate(&$0, Z_SYNC_FLUSH) }
                inflatedInMessage += out.count - before
                if inflatedInMessage > limit {
                    failure = .tooBig("inflated message exceeds \(limit) bytes")
                    return
                }
                if status == Z_STREAM_END {
                    // BFINAL blocks are allowed; the next message starts a fresh stream.
                    inflateReset(&inflater)
                    if inflater.avail_in == 0 { return }
                    continue
                }
                if status == Z_BUF_ERROR || (status == Z_OK && inflater.avail_in == 0 && inflater.avail_out != 0) { return }
                if status != Z_OK {
                    failure = .invalidPayload("compressed data is corrupt (\(status))")
                    return
                }
            }
        }
        if let failure { throw failure }
    }

    /// Runs `operation` with the stream writing into spare capacity of `out` (one step at a time).
    private func drain(stream: inout z_stream, into out: inout [UInt8], _ operation: (inout z_stream) -> Int32) -> Int32 {
        let start = out.count
        out.append(contentsOf: Self.zeros)
        var status: Int32 = Z_OK
        out.withUnsafeMutableBufferPointer { buffer in
            stream.next_out = buffer.baseAddress! + start
            stream.avail_out = UInt32(Self.step)
            status = operation(&stream)
            stream.next_out = nil
        }
        out.removeLast(Int(stream.avail_out))
        return status
    }
}
