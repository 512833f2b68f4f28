import Foundation
import SwitchyardGatewayCodecs

/// A hand-written FastCGI front end: builds records with the codecs' encoder and collects the
/// bridge's records with the codecs' decoder.
final class FastCGITestClient {
    let socket: TestSocket
    private var pending: [UInt8] = []
    private var decoder = FastCGIRecordDecoder()

    init(path: String) throws { socket = try TestSocket(path: path) }

    func begin(_ id: UInt16, keepConnection: Bool = false, role: UInt16 = 1) {
        var out: [UInt8] = []
        FastCGIRecordEncoder.beginRequest(requestId: id, role: role, keepConnection: keepConnection, into: &out)
        socket.send(out)
    }

    func params(_ id: UInt16, _ vars: [(String, String)]) {
        var out: [UInt8] = []
        FastCGIRecordEncoder.params(CGIEnvironment(vars.map { (name: $0.0, value: $0.1) }), requestId: id, into: &out)
        socket.send(out)
    }

    func stdin(_ id: UInt16, _ text: String) {
        var out: [UInt8] = []
        FastCGIRecordEncoder.stream(.stdin, requestId: id, payload: Array(text.utf8), into: &out)
        socket.send(out)
    }

    func endStdin(_ id: UInt16) {
        var out: [UInt8] = []
        FastCGIRecordEncoder.stream(.stdin, requestId: id, payload: [], into: &out)
        socket.send(out)
    }

    func send(_ bytes: [UInt8]) { socket.send(bytes) }

    /// The next record, nil on EOF/timeout.
    func nextRecord() -> FastCGIRecord? {
        while true {
            let parsed: (record: FastCGIRecord, consumed: Int)? = pending.withUnsafeBytes { try? decoder.nextRecord($0) }
            if let (record, consumed) = parsed {
                pending.removeFirst(consumed)
                return record
            }
            guard case .bytes(let b) = socket.receive() else { return nil }
            pending += b
        }
    }

    struct Response {
        var stdout: [UInt8] = []
        var stdoutEnded = false
        var end: FastCGIEndRequest?
    }

    /// Collects records until END_REQUEST has arrived for every id in `ids`.
    func responses(_ ids: Set<UInt16>) -> [UInt16: Response] {
        var result: [UInt16: Response] = [:]
        var open = ids
        while !open.isEmpty, let r = nextRecord() {
            var resp = result[r.requestId] ?? Response()
            switch r.knownType {
            case .stdout:
                if r.content.isEmpty { resp.stdoutEnded = true } else { resp.stdout += r.content }
            case .endRequest:
                resp.end = r.content.withUnsafeBytes { FastCGIEndRequest(content: $0) }
                open.remove(r.requestId)
            default:
                break
            }
            result[r.requestId] = resp
        }
        return result
    }

    /// stdout bytes of `id` until `predicate` holds on them.
    func stdout(_ id: UInt16, until predicate: ([UInt8]) -> Bool) -> [UInt8] {
        var out: [UInt8] = []
        while !predicate(out), let r = nextRecord() {
            if r.requestId == id && r.knownType == .stdout { out += r.content }
        }
        return out
    }
}
