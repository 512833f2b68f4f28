import Glibc
import SwitchyardOS
import CSwitchyardShims

extension SpliceRelay {
    enum PumpResult {
        /// Moved what it could; the direction's wants say what to wait for.
        case moving
        /// The source reached EOF and everything read has been written.
        case finished
        case failed(Int32)
    }

    /// Moves as much as possible in one direction without blocking.
    static func pump(_ d: inout Direction, now: UInt64) -> PumpResult {
        var rounds = 0
        while rounds < 32 {
            rounds += 1
            if d.midRead < 0 { return pumpDirect(&d, now: now) }
            // socket -> pipe -> socket
            if !d.srcEOF && d.pending < chunk {
                switch Pipe.splice(from: d.src, to: d.midWrite, count: chunk - d.pending) {
                case .bytes(let n): d.pending += n; d.lastProgress = now
                case .eof: d.srcEOF = true
                case .wouldBlock: break
                case .error(let e): return .failed(e)
                }
            }
            if d.pending > 0 {
                switch Pipe.splice(from: d.midRead, to: d.dst, count: d.pending) {
                case .bytes(let n): d.pending -= n; d.lastProgress = now; d.moved += n; continue
                case .wouldBlock, .eof:
                    d.wantDst = true
                    d.wantSrc = !d.srcEOF && d.pending < chunk
                    return .moving
                case .error(let e): return .failed(e)
                }
            }
            if d.srcEOF { return .finished }
            d.wantDst = false
            d.wantSrc = true
            // Loop again only if the last fill moved bytes.
            var avail: Int32 = 0
            if sy_fionread(d.src, &avail) != 0 || avail == 0 { return .moving }
        }
        return .moving
    }

    /// One end is a pipe: splice straight from source to destination.
    private static func pumpDirect(_ d: inout Direction, now: UInt64) -> PumpResult {
        switch Pipe.splice(from: d.src, to: d.dst, count: chunk) {
        case .bytes(let n):
            d.lastProgress = now
            d.moved += n
            // Back to epoll rather than a second splice that would mostly say EAGAIN:
            // readiness is level-triggered, so bytes still waiting (or an EOF) come
            // straight back, and a full destination shows up as EAGAIN there.
            d.wantSrc = true
            d.wantDst = false
            return .moving
        case .eof:
            d.srcEOF = true
            return .finished
        case .wouldBlock:
            var avail: Int32 = 0
            let srcHasData = sy_fionread(d.src, &avail) == 0 && avail > 0
            d.wantDst = srcHasData
            d.wantSrc = !srcHasData
            return .moving
        case .error(let e):
            return .failed(e)
        }
    }
}
