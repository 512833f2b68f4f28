/// Stream and END_REQUEST records written into raw memory: how a connection writes them straight
/// into its output buffer, with no intermediate array (reserve `streamLength(contentLength:)` or
/// `endRequestLength` bytes, write, commit the count returned). The `[UInt8]` variants are built
/// on these, so the record layout lives in one place. Inlinable: the callers are per-message hot
/// paths in other modules (the echo app, the bridges), and a call per record costs more than the work.
extension FastCGIRecordEncoder {
    public static let endRequestLength = 16

    /// Exactly the bytes `stream(_:requestId:head:body:into:)` writes for `contentLength` content
    /// bytes: 8 for the empty record that ends a stream.
    @inlinable @inline(__always)
    public static func streamLength(contentLength: Int) -> Int {
        precondition(contentLength >= 0)
        if contentLength == 0 { return headerLength }
        let full = contentLength / maxContentLength, rest = contentLength % maxContentLength
        var length = full * (headerLength + maxContentLength + padding(for: maxContentLength))
        if rest > 0 { length += headerLength + rest + padding(for: rest) }
        return length
    }

    /// Writes `head` followed by `body` as STDIN/STDOUT/STDERR/DATA records (at most 65535
    /// content bytes each, padded to a multiple of 8) at the start of `out`, which must hold
    /// `streamLength(contentLength: head.count + body.count)` bytes; returns that count. Empty
    /// content writes the empty record that ends the stream. `head` lets a frame header share
    /// records with its payload without first being copied next to it.
    @inlinable @inline(__always)
    public static func stream(_ type: FastCGIRecordType, requestId: UInt16,
                              head: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
                              body: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) -> Int {
        let total = head.count + body.count
        guard total <= maxContentLength else { return records(type, requestId, head, body, into: out) }
        // One record (or the empty one that ends the stream): every WebSocket message's case, written
        // in the caller.
        precondition(out.count >= headerLength + total + padding(for: total), "FastCGI record does not fit")
        return writeRecord(type.rawValue, requestId, head, body, from: 0, count: total, to: out.baseAddress!)
    }

    /// Content past one record's maximum, in as many records as it takes.
    @usableFromInline @inline(never)
    static func records(_ type: FastCGIRecordType, _ requestId: UInt16, _ head: UnsafeRawBufferPointer,
                        _ body: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) -> Int {
        let total = head.count + body.count
        precondition(out.count >= streamLength(contentLength: total), "FastCGI records do not fit")
        let start = out.baseAddress!
        var p = start
        var offset = 0
        while offset < total {
            let n = min(maxContentLength, total - offset)
            p += writeRecord(type.rawValue, requestId, head, body, from: offset, count: n, to: p)
            offset += n
        }
        return start.distance(to: p)
    }

    /// `FCGI_END_REQUEST` at the start of `out` (at least `endRequestLength` bytes); returns its length.
    @inlinable
    public static func endRequest(requestId: UInt16, appStatus: UInt32, protocolStatus: FastCGIProtocolStatus = .requestComplete,
                                  into out: UnsafeMutableRawBufferPointer) -> Int {
        precondition(out.count >= endRequestLength)
        let p = out.baseAddress!
        writeHeader(type: FastCGIRecordType.endRequest.rawValue, requestId: requestId, contentLength: 8, paddingLength: 0, to: p)
        p.storeBytes(of: appStatus.bigEndian, toByteOffset: 8, as: UInt32.self)
        p.storeBytes(of: protocolStatus.rawValue, toByteOffset: 12, as: UInt8.self)
        (p + 13).initializeMemory(as: UInt8.self, repeating: 0, count: 3)
        return endRequestLength
    }

    /// One record at `p` whose content is bytes `start..<start+count` of `head` + `body` (as if
    /// joined), padded; returns its length.
    @inlinable @inline(__always)
    static func writeRecord(_ type: UInt8, _ requestId: UInt16, _ head: UnsafeRawBufferPointer, _ body: UnsafeRawBufferPointer,
                            from start: Int, count: Int, to p: UnsafeMutableRawPointer) -> Int {
        let pad = padding(for: count)
        writeHeader(type: type, requestId: requestId, contentLength: count, paddingLength: pad, to: p)
        var to = p + headerLength, start = start, left = count
        if start < head.count {
            let k = min(left, head.count - start)
            to.copyMemory(from: head.baseAddress! + start, byteCount: k)
            to += k
            start += k
            left -= k
        }
        if left > 0 {
            to.copyMemory(from: body.baseAddress! + (start - head.count), byteCount: left)
            to += left
        }
        // At most 7 zero bytes: three stores instead of a memset call (a message's worth of work).
        if pad & 4 != 0 { to.storeBytes(of: 0, as: UInt32.self); to += 4 }
        if pad & 2 != 0 { to.storeBytes(of: 0, as: UInt16.self); to += 2 }
        if pad & 1 != 0 { to.storeBytes(of: 0, as: UInt8.self) }
        return headerLength + count + pad
    }
}
