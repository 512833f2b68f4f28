import SwitchyardOS
import SwitchyardGatewayCodecs

/// FastCGI records written straight into an output buffer (no scratch array on the hot path).
extension ByteBuffer {
    /// Appends `head` followed by `body` as stream records of `type` (content split at 65535
    /// bytes, each record padded to a multiple of 8). Nothing is appended when both are empty:
    /// use `appendFastCGIStreamEnd` to end a stream.
    func appendFastCGIStream(_ type: FastCGIRecordType, requestId: UInt16,
                             head: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
                             body: UnsafeRawBufferPointer) {
        let total = head.count + body.count
        guard total > 0 else { return }
        let maxContent = FastCGIRecordEncoder.maxContentLength
        let records = (total + maxContent - 1) / maxContent
        reserve(total + records * 16)
        var headLeft = head.count
        var headAt = head.baseAddress
        var bodyAt = body.baseAddress
        var remaining = total
        while remaining > 0 {
            let n = min(maxContent, remaining)
            let pad = (8 - n & 7) & 7
            appendFastCGIHeader(type: type.rawValue, requestId: requestId, contentLength: n, paddingLength: pad)
            var left = n
            if headLeft > 0, let h = headAt {
                let k = min(headLeft, left)
                writePointer.copyMemory(from: h, byteCount: k)
                commit(k)
                headAt = h + k
                headLeft -= k
                left -= k
            }
            if left > 0, let b = bodyAt {
                writePointer.copyMemory(from: b, byteCount: left)
                commit(left)
                bodyAt = b + left
            }
            if pad > 0 {
                writePointer.initializeMemory(as: UInt8.self, repeating: 0, count: pad)
                commit(pad)
            }
            remaining -= n
        }
    }

    /// The empty record that ends a stream.
    func appendFastCGIStreamEnd(_ type: FastCGIRecordType, requestId: UInt16) {
        reserve(8)
        appendFastCGIHeader(type: type.rawValue, requestId: requestId, contentLength: 0, paddingLength: 0)
    }

    /// `FCGI_END_REQUEST`.
    func appendFastCGIEndRequest(requestId: UInt16, appStatus: UInt32, protocolStatus: FastCGIProtocolStatus) {
        reserve(16)
        appendFastCGIHeader(type: FastCGIRecordType.endRequest.rawValue, requestId: requestId, contentLength: 8, paddingLength: 0)
        let p = writePointer
        p.storeBytes(of: appStatus.bigEndian, as: UInt32.self)
        p.storeBytes(of: protocolStatus.rawValue, toByteOffset: 4, as: UInt8.self)
        (p + 5).initializeMemory(as: UInt8.self, repeating: 0, count: 3)
        commit(8)
    }

    /// Eight header bytes; the caller has reserved the room.
    @inline(__always)
    private func appendFastCGIHeader(type: UInt8, requestId: UInt16, contentLength: Int, paddingLength: Int) {
        let p = writePointer
        p.storeBytes(of: FastCGIRecordEncoder.version, as: UInt8.self)
        p.storeBytes(of: type, toByteOffset: 1, as: UInt8.self)
        p.storeBytes(of: requestId.bigEndian, toByteOffset: 2, as: UInt16.self)
        p.storeBytes(of: UInt16(contentLength).bigEndian, toByteOffset: 4, as: UInt16.self)
        p.storeBytes(of: UInt8(paddingLength), toByteOffset: 6, as: UInt8.self)
        p.storeBytes(of: 0, toByteOffset: 7, as: UInt8.self)
        commit(8)
    }
}
