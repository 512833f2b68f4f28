import SwitchyardHTTP
import SwitchyardHTTP2

/// The HTTP/1.1 view of an HTTP/2 connection's last plain request, kept by the identity of its
/// decoded header list.
///
/// The HPACK decoder hands a header block it has just seen (the same bytes against the same
/// table) back as the same array (`HPACKDecoder`'s repeated block), and mapping a request is a
/// function of that list, END_STREAM and the parser limits alone — except for an RFC 8441
/// upgrade, which gets a fresh `Sec-WebSocket-Key`, and is never kept. So a client repeating a
/// request gets the head built the first time: no builder, no strings, no storage allocated and
/// freed (about 2.5k instructions of an h2 request's 17k).
///
/// Holding the list keeps its buffer alive, so an equal buffer address is the same array, never a
/// new one that happens to sit where a freed one was.
struct RepeatedRequestMemo {
    private var list: [HPACKHeaderField] = []
    private var endStream = false
    private var limits = HTTPParserLimits()
    private var mapped: HTTP2RequestMapping.Mapped?

    /// The mapping made earlier from this very list under the same END_STREAM and limits.
    func mapped(for request: HTTP2RequestHead, endStream: Bool, limits: HTTPParserLimits) -> HTTP2RequestMapping.Mapped? {
        guard let mapped, endStream == self.endStream, Self.isSameArray(request.list, list),
              limits == self.limits else { return nil }
        return mapped
    }

    /// Lists of more decoded bytes are not kept. Only a list the HPACK decoder can hand back again
    /// is worth keeping: one from a short block (`HPACKDecoder`'s 256 bytes) that only indexes its
    /// table (4 KiB by default) and small literals. A longer one never repeats by identity, and
    /// kept it would pin its fields twice (list and head) in every idle connection: after one
    /// request with seven 900-byte fields, 300 idle h2c connections held 56.6 KiB each with such
    /// lists kept and 51.5 KiB without (32.7 KiB after a request without them).
    static let maxListBytes = 4096

    /// Keeps `mapped` for `request` unless it is an upgrade or a tunnel, or its list is long.
    mutating func remember(_ mapped: HTTP2RequestMapping.Mapped, for request: HTTP2RequestHead, endStream: Bool,
                           limits: HTTPParserLimits) {
        guard !mapped.isTunnel, !request.isExtendedConnect, !request.list.isEmpty,
              Self.decodedBytes(request.list) <= Self.maxListBytes else {
            forget()
            return
        }
        list = request.list
        self.endStream = endStream
        self.limits = limits
        self.mapped = mapped
    }

    mutating func forget() {
        list = []
        mapped = nil
    }

    private static func decodedBytes(_ list: [HPACKHeaderField]) -> Int {
        list.withUnsafeBufferPointer { fields in
            var total = 0
            for field in fields { total += field.name.count + field.value.count }
            return total
        }
    }

    private static func isSameArray(_ a: [HPACKHeaderField], _ b: [HPACKHeaderField]) -> Bool {
        guard a.count == b.count, !a.isEmpty else { return false }
        return a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in pa.baseAddress == pb.baseAddress } }
    }
}
