#if canImport(Glibc)
import Glibc
#endif

import SwitchyardHTTP

/// Appends FastCGI 1.0 records to a caller's buffer (h2o-style: header, content, padding, nothing
/// more). Stream content is split into records of at most 65535 bytes and every record is padded
/// to a multiple of 8 bytes, as the spec recommends for alignment at the receiver.
public enum FastCGIRecordEncoder {
    public static let version: UInt8 = 1
    public static let headerLength = 8
    public static let maxContentLength = 0xFFFF

    /// Appends one record header.
    public static func header(type: UInt8, requestId: UInt16, contentLength: Int, paddingLength: Int, into out: inout [UInt8]) {
        var bytes: UInt64 = 0
        withUnsafeMutableBytes(of: &bytes) {
            writeHeader(type: type, requestId: requestId, contentLength: contentLength, paddingLength: paddingLength, to: $0.baseAddress!)
        }
        withUnsafeBytes(of: &bytes) { out.append(contentsOf: $0) }
    }

    /// The eight header bytes at `p`: the one place the header layout is written.
    @inlinable @inline(__always)
    static func writeHeader(type: UInt8, requestId: UInt16, contentLength: Int, paddingLength: Int, to p: UnsafeMutableRawPointer) {
        precondition(contentLength >= 0 && contentLength <= maxContentLength && paddingLength >= 0 && paddingLength <= 255)
        p.storeBytes(of: version, as: UInt8.self)
        p.storeBytes(of: type, toByteOffset: 1, as: UInt8.self)
        p.storeBytes(of: requestId.bigEndian, toByteOffset: 2, as: UInt16.self)
        p.storeBytes(of: UInt16(contentLength).bigEndian, toByteOffset: 4, as: UInt16.self)
        p.storeBytes(of: UInt8(paddingLength), toByteOffset: 6, as: UInt8.self)
        p.storeBytes(of: 0, toByteOffset: 7, as: UInt8.self)
    }

    @inlinable @inline(__always)
    static func padding(for contentLength: Int) -> Int { (8 - contentLength & 7) & 7 }

    /// `FCGI_BEGIN_REQUEST` (role 1 = responder).
    public static func beginRequest(requestId: UInt16, role: UInt16 = 1, keepConnection: Bool, into out: inout [UInt8]) {
        header(type: FastCGIRecordType.beginRequest.rawValue, requestId: requestId, contentLength: 8, paddingLength: 0, into: &out)
        out.appendUInt16BE(role)
        out.append(keepConnection ? 1 : 0)
        out.append(contentsOf: repeatElement(0, count: 5))
    }

    /// The variables as `FCGI_PARAMS` records (pairs may straddle records), then the empty
    /// `FCGI_PARAMS` record that ends the stream.
    public static func params(_ env: CGIEnvironment, requestId: UInt16, into out: inout [UInt8]) {
        var size = 32
        for (name, value) in env { size += name.utf8.count + value.utf8.count + 8 }
        out.reserveCapacity(out.count + size + (size / maxContentLength + 1) * 16)
        var w = StreamWriter(type: FastCGIRecordType.params.rawValue, requestId: requestId, out: &out)
        for (name, value) in env { w.writePair(name, value, into: &out) }
        w.finish(into: &out, dropIfEmpty: true)
        header(type: FastCGIRecordType.params.rawValue, requestId: requestId, contentLength: 0, paddingLength: 0, into: &out)
    }

    /// STDIN/STDOUT/STDERR/DATA records carrying `payload`; an empty payload appends one empty
    /// record, which ends the stream.
    public static func stream(_ type: FastCGIRecordType, requestId: UInt16, payload: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        out.append(writing: streamLength(contentLength: payload.count)) {
            stream(type, requestId: requestId, body: payload, into: $0)
        }
    }

    /// Convenience for `[UInt8]` payloads.
    public static func stream(_ type: FastCGIRecordType, requestId: UInt16, payload: [UInt8], into out: inout [UInt8]) {
        payload.withUnsafeBytes { stream(type, requestId: requestId, payload: $0, into: &out) }
    }

    /// `FCGI_ABORT_REQUEST` (empty body).
    public static func abortRequest(requestId: UInt16, into out: inout [UInt8]) {
        header(type: FastCGIRecordType.abortRequest.rawValue, requestId: requestId, contentLength: 0, paddingLength: 0, into: &out)
    }

    /// `FCGI_END_REQUEST`.
    public static func endRequest(requestId: UInt16, appStatus: UInt32, protocolStatus: FastCGIProtocolStatus = .requestComplete, into out: inout [UInt8]) {
        out.append(writing: endRequestLength) {
            endRequest(requestId: requestId, appStatus: appStatus, protocolStatus: protocolStatus, into: $0)
        }
    }

    /// `FCGI_GET_VALUES` (request id 0) asking for `names`.
    public static func getValues(names: [String], into out: inout [UInt8]) {
        var w = StreamWriter(type: FastCGIRecordType.getValues.rawValue, requestId: 0, out: &out)
        for name in names { w.writePair(name, "", into: &out) }
        w.finish(into: &out)
    }

    /// `FCGI_GET_VALUES_RESULT` (request id 0).
    public static func getValuesResult(_ pairs: [(String, String)], into out: inout [UInt8]) {
        var w = StreamWriter(type: FastCGIRecordType.getValuesResult.rawValue, requestId: 0, out: &out)
        for (name, value) in pairs { w.writePair(name, value, into: &out) }
        w.finish(into: &out)
    }

    /// `FCGI_UNKNOWN_TYPE` (request id 0) answering a record of type `type`.
    public static func unknownType(_ type: UInt8, into out: inout [UInt8]) {
        header(type: FastCGIRecordType.unknownType.rawValue, requestId: 0, contentLength: 8, paddingLength: 0, into: &out)
        out.append(type)
        out.append(contentsOf: repeatElement(0, count: 7))
    }

    /// Any record, content copied and padded.
    public static func record(_ record: FastCGIRecord, into out: inout [UInt8]) {
        let pad = padding(for: record.content.count)
        header(type: record.type, requestId: record.requestId, contentLength: record.content.count, paddingLength: pad, into: &out)
        out.append(contentsOf: record.content)
        if pad > 0 { out.append(contentsOf: repeatElement(0, count: pad)) }
    }

    /// Writes a byte stream as records directly into `out`: opens a record with a placeholder
    /// header, and patches the length and appends padding when the record is full or finished.
    struct StreamWriter {
        let type: UInt8
        let requestId: UInt16
        private var headerAt: Int
        private var open = true

        init(type: UInt8, requestId: UInt16, out: inout [UInt8]) {
            self.type = type
            self.requestId = requestId
            headerAt = out.count
            FastCGIRecordEncoder.header(type: type, requestId: requestId, contentLength: 0, paddingLength: 0, into: &out)
        }

        mutating func write(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) {
            var offset = 0
            while offset < bytes.count {
                if !open {
                    headerAt = out.count
                    FastCGIRecordEncoder.header(type: type, requestId: requestId, contentLength: 0, paddingLength: 0, into: &out)
                    open = true
                }
                let room = FastCGIRecordEncoder.maxContentLength - (out.count - headerAt - 8)
                let n = min(room, bytes.count - offset)
                out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)]))
                offset += n
                if n == room { close(into: &out) }
            }
        }

        mutating func write(_ s: String, into out: inout [UInt8]) {
            if s.utf8.withContiguousStorageIfAvailable({ write(UnsafeRawBufferPointer($0), into: &out) }) == nil {
                let copy = Array(s.utf8)
                copy.withUnsafeBytes { write($0, into: &out) }
            }
        }

        mutating func writePair(_ name: String, _ value: String, into out: inout [UInt8]) {
            var nameBytes = name, valueBytes = value
            nameBytes.withUTF8 { n in
                valueBytes.withUTF8 { v in
                    // Escaped bytes (FieldValueBytes) all start with 0xF4: without one the value's
                    // bytes are what goes out, and one memchr tells.
                    guard v.count < 4 || memchr(v.baseAddress!, 0xF4, v.count) == nil else {
                        writeEscapedPair(n, value: value, into: &out)
                        return
                    }
                    let needed = (n.count < 128 ? 1 : 4) + (v.count < 128 ? 1 : 4) + n.count + v.count
                    if open && FastCGIRecordEncoder.maxContentLength - (out.count - headerAt - 8) > needed {
                        // The common case: the whole pair fits in the open record.
                        Self.appendLength(n.count, to: &out)
                        Self.appendLength(v.count, to: &out)
                        out.append(contentsOf: n)
                        out.append(contentsOf: v)
                        return
                    }
                    writeLength(n.count, into: &out)
                    writeLength(v.count, into: &out)
                    write(UnsafeRawBufferPointer(n), into: &out)
                    write(UnsafeRawBufferPointer(v), into: &out)
                }
            }
        }

        /// A pair whose value holds escaped bytes (`FieldValueBytes`): written as the bytes they stand for.
        private mutating func writeEscapedPair(_ name: UnsafeBufferPointer<UInt8>, value: String, into out: inout [UInt8]) {
            let bytes = FieldValueBytes.bytes(value)
            writeLength(name.count, into: &out)
            writeLength(bytes.count, into: &out)
            write(UnsafeRawBufferPointer(name), into: &out)
            bytes.withUnsafeBytes { write($0, into: &out) }
        }

        @inline(__always)
        private static func appendLength(_ n: Int, to out: inout [UInt8]) {
            if n < 128 {
                out.append(UInt8(n))
            } else {
                out.appendUInt32BE(UInt32(n) | 0x8000_0000)
            }
        }

        private mutating func writeLength(_ n: Int, into out: inout [UInt8]) {
            if n < 128 {
                var b = UInt8(n)
                withUnsafeBytes(of: &b) { write($0, into: &out) }
            } else {
                var be = (UInt32(n) | 0x8000_0000).bigEndian
                withUnsafeBytes(of: &be) { write($0, into: &out) }
            }
        }

        /// Patches the open record's length and appends its padding.
        private mutating func close(into out: inout [UInt8]) {
            guard open else { return }
            open = false
            let length = out.count - headerAt - 8
            let pad = FastCGIRecordEncoder.padding(for: length)
            out[headerAt + 4] = UInt8(length >> 8)
            out[headerAt + 5] = UInt8(length & 0xFF)
            out[headerAt + 6] = UInt8(pad)
            if pad > 0 { out.append(contentsOf: repeatElement(0, count: pad)) }
        }

        /// Closes the last record. An empty first record is kept (GET_VALUES with no names), or
        /// removed with `dropIfEmpty` (PARAMS, where an empty record would end the stream early).
        mutating func finish(into out: inout [UInt8], dropIfEmpty: Bool = false) {
            if open && dropIfEmpty && out.count == headerAt + 8 {
                out.removeLast(8)
                open = false
                return
            }
            close(into: &out)
        }
    }
}
