/// Stream and END_REQUEST records written into raw memory: how a connection writes them straight
/// into its output buffer, with no intermediate array (reserve `streamLength(contentLength:)` or
/// `endRequestLength` bytes, write, commit the count returned). The `[UInt8]` variants are built
/// on these, so the record layout lives in one place.
extension FastCGIRecordEncoder {
    public static let endRequestLength = 16

    /// Exactly the bytes `stream(_:requestId:head:body:into:)` writes for `contentLength` content
    /// bytes: 8 for the empty record that ends a stream.
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
    public static func stream(_ type: FastCGIRecordType, requestId: UInt16,
                              head: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
                              body: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) -> Int {
        let total = head.count + body.count
        let length = streamLength(contentLength: total)
        precondition(out.count >= length, "\(length) bytes of FastCGI records do not fit in \(out.count)")
        var p = out.baseAddress!
        if total == 0 {
            writeHeader(type: type.rawValue, requestId: requestId, contentLength: 0, paddingLength: 0, to: p)
            return headerLength
        }
        var offset = 0
        while offset < total {
            let n = min(maxContentLength, total - offset)
            let pad = padding(for: n)
            writeHeader(type: type.rawValue, requestId: requestId, contentLength: n, paddingLength: pad, to: p)
            copyContent(head, body, from: offset, count: n, to: p + headerLength)
            if pad > 0 { (p + headerLength + n).initializeMemory(as: UInt8.self, repeating: 0, count: pad) }
            p += headerLength + n + pad
            offset += n
        }
        return length
    }

    /// `FCGI_END_REQUEST` at the start of `out` (at least `endRequestLength` bytes); returns its length.
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

    /// Copies content bytes `start..<start+count` of `head` + `body` (as if joined) to `to`.
    @inline(__always)
    private static func copyContent(_ head: UnsafeRawBufferPointer, _ body: UnsafeRawBufferPointer,
                                    from start: Int, count: Int, to: UnsafeMutableRawPointer) {
        var to = to, start = start, count = count
        if start < head.count {
            let k = min(count, head.count - start)
            to.copyMemory(from: head.baseAddress! + start, byteCount: k)
            to += k
            start += k
            count -= k
        }
        if count > 0 { to.copyMemory(from: body.baseAddress! + (start - head.count), byteCount: count) }
    }
}
