import SwitchyardOS
import SwitchyardGatewayCodecs

extension ByteBuffer {
    /// Appends `payload` as FastCGI stream records (STDOUT/STDERR), at most 65535 content bytes
    /// each and padded to 8, straight into the output queue without an intermediate array. An
    /// empty payload appends nothing (use `appendFastCGI` with an empty record to end a stream).
    func appendFastCGIStream(_ type: FastCGIRecordType, requestId: UInt16, payload: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < payload.count {
            let n = min(FastCGIRecordEncoder.maxContentLength, payload.count - offset)
            let pad = (8 - n & 7) & 7
            let header: [UInt8] = [1, type.rawValue, UInt8(requestId >> 8), UInt8(requestId & 0xFF),
                                   UInt8(n >> 8), UInt8(n & 0xFF), UInt8(pad), 0]
            append(header)
            append(UnsafeRawBufferPointer(rebasing: payload[offset..<(offset + n)]))
            if pad > 0 { append([UInt8](repeating: 0, count: pad)) }
            offset += n
        }
    }

    /// Appends records built by `FastCGIRecordEncoder` into a scratch array.
    func appendFastCGI(_ build: (inout [UInt8]) -> Void) {
        var out: [UInt8] = []
        build(&out)
        append(out)
    }
}
