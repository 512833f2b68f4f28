import Glibc
import SwitchyardOS
import SwitchyardBenchCore

/// `switchyard-bench h2ws`: WebSockets over HTTP/2 (RFC 8441), for the h2 rows of `compare`.
///
///     h2ws [--connections N] [--streams S] [--size B] [-d S] [-w S] [--server-pid PID] URL
///     h2ws --hold N [--streams S] [--server-pid PID] URL
///
/// Round trips: N connections (one thread each) with S WebSocket streams each, one binary
/// message of B bytes in flight per stream, every echo checked; counts what came back in the
/// measured interval after the warm-up. Hold: N streams, S per connection, each opened and echoed
/// once, then the server's VmRSS growth from before the first connection ÷ N. One JSON line out.
enum H2WebSocketLoad {
    struct Options {
        var connections = 2, streams = 8, size = 64
        var duration = 3.0, warmup = 1.0
        var hold: Int? = nil
        var serverPID: Int32? = nil
        var port = 0, path = "/", tls = true
    }

    static func main(_ arguments: [String]) -> Int32 {
        guard let o = parse(arguments) else {
            BenchErrorLog.printErr("usage: switchyard-bench h2ws [--connections N] [--streams S] [--size B] [-d S] [-w S] [--hold N] [--server-pid PID] https://127.0.0.1:PORT/PATH")
            return 2
        }
        let context: TLSClientContext?
        do { context = o.tls ? try TLSClientContext(alpnProtocols: ["h2"]) : nil } catch {
            BenchErrorLog.printErr("switchyard-bench h2ws: TLS client context: \(error)")
            return 2
        }
        var json = JSONObjectWriter()
        json.add("mode", o.hold == nil ? "h2ws" : "h2ws-hold")
        let failure = o.hold.map { hold(o, streams: $0, context: context, json: &json) } ?? roundTrips(o, context: context, json: &json)
        json.add("errors", failure == nil ? 0 : 1)
        if let failure { BenchErrorLog.printErr("switchyard-bench: \(failure)") }
        print(json.text)
        fflush(nil)
        return failure == nil ? 0 : 1
    }

    static func parse(_ arguments: [String]) -> Options? {
        var o = Options()
        var i = 0
        func next() -> String? {
            i += 1
            return i < arguments.count ? arguments[i] : nil
        }
        var url: String? = nil
        while i < arguments.count {
            switch arguments[i] {
            case "--connections": guard let n = next().flatMap(Int.init), n > 0 else { return nil }; o.connections = n
            case "--streams": guard let n = next().flatMap(Int.init), n > 0 else { return nil }; o.streams = n
            case "--size": guard let n = next().flatMap(Int.init), n > 0, n <= 1 << 20 else { return nil }; o.size = n
            case "-d": guard let s = next().flatMap(Double.init), s > 0 else { return nil }; o.duration = s
            case "-w": guard let s = next().flatMap(Double.init), s >= 0 else { return nil }; o.warmup = s
            case "--hold": guard let n = next().flatMap(Int.init), n > 0 else { return nil }; o.hold = n
            case "--server-pid": guard let n = next().flatMap(Int32.init), n > 0 else { return nil }; o.serverPID = n
            case "--json", "--no-progress": break   // always JSON; accepted like the other modes
            default: url = arguments[i]
            }
            i += 1
        }
        // https://127.0.0.1:PORT/PATH or http://127.0.0.1:PORT/PATH (h2c prior knowledge)
        guard let url, let schemeEnd = url.firstRange(of: "://") else { return nil }
        o.tls = url[..<schemeEnd.lowerBound] == "https"
        let rest = url[schemeEnd.upperBound...]
        let hostPort = rest.prefix(while: { $0 != "/" })
        o.path = rest.count > hostPort.count ? String(rest.dropFirst(hostPort.count)) : "/"
        guard let p = hostPort.split(separator: ":").last.flatMap({ Int($0) }), p > 0, p < 65536 else { return nil }
        o.port = p
        return o
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// The round-trip workload; nil or why it failed.
    static func roundTrips(_ o: Options, context: TLSClientContext?, json: inout JSONObjectWriter) -> String? {
        let start = now()
        let warmupEnd = start + o.warmup, end = warmupEnd + o.duration
        let workers = (0..<o.connections).map { RoundTripWorker(options: o, context: context, seed: UInt32($0 + 1), warmupEnd: warmupEnd, end: end) }
        var threads: [LoopThread] = []
        for (k, w) in workers.enumerated() {
            guard let t = try? LoopThread(name: "h2ws-\(k)", { w.run() }) else { return "cannot start a thread" }
            threads.append(t)
        }
        let probe = o.serverPID.map(ServerProbe.init)
        usleep(UInt32(max(0, warmupEnd - now()) * 1e6))
        let cpu0 = probe?.cpuSeconds() ?? 0
        usleep(UInt32(max(0, end - now()) * 1e6))
        let cpu1 = probe?.cpuSeconds() ?? 0
        for t in threads { t.join() }
        let messages = workers.reduce(0) { $0 + $1.messages }
        let mismatches = workers.reduce(0) { $0 + $1.mismatches }
        json.add("connections", o.connections)
        json.add("streams", o.connections * o.streams)
        json.add("message_bytes", o.size)
        json.add("messages", messages)
        json.add("mismatches", mismatches)
        json.add("messages_per_sec", Double(messages) / o.duration, decimals: 1)
        if probe != nil, messages > 0 { json.add("server_cpu_us_per_message", (cpu1 - cpu0) * 1e6 / Double(messages)) }
        return workers.compactMap(\.failure).first
    }

    /// The hold workload; nil or why it failed.
    static func hold(_ o: Options, streams total: Int, context: TLSClientContext?, json: inout JSONObjectWriter) -> String? {
        let probe = o.serverPID.map(ServerProbe.init)
        let before = probe?.residentKiB() ?? 0
        var open: [H2WebSocketConnection] = []
        defer { for c in open { c.close() } }
        let payload = [UInt8](repeating: 0x61, count: o.size)
        var opened = 0
        do throws(H2WebSocketConnection.Failure) {
            while opened < total {
                let c = try H2WebSocketConnection(port: o.port, tlsContext: context, timeoutSeconds: 20)
                open.append(c)
                try c.awaitSettings()
                let ids = try c.openWebSockets(min(o.streams, total - opened), path: o.path)
                for id in ids { c.client.send(message: payload, on: id, maskKey: 0x1234_5678 &+ id) }
                try c.flush()
                var echoed = 0
                while echoed < ids.count {
                    for event in try c.receive() {
                        switch event {
                        case .message(_, let p):
                            guard p == payload else { throw .init("echo mismatch") }
                            echoed += 1
                        case .closed(let id, _): throw .init("stream \(id) ended while held")
                        case .goAway(_, let code): throw .init("GOAWAY \(code) while held")
                        default: break
                        }
                    }
                    try c.flush()
                }
                opened += ids.count
            }
        } catch {
            return "after \(opened) streams: \(error)"
        }
        usleep(500_000)   // the server's last allocations for the newest streams settle
        let end = probe?.residentKiB() ?? 0
        json.add("streams", opened)
        json.add("connections", open.count)
        json.add("mismatches", 0)
        json.add("server_rss_kib_before", before)
        json.add("server_rss_kib_end", end)
        json.add("server_rss_kib_per_stream", Double(end - before) / Double(max(opened, 1)), decimals: 2)
        return nil
    }
}

/// One connection of the round-trip workload, on a thread of its own.
final class RoundTripWorker: @unchecked Sendable {
    let options: H2WebSocketLoad.Options
    let context: TLSClientContext?
    let warmupEnd: Double, end: Double
    var mask: UInt32
    private(set) var messages = 0, mismatches = 0
    private(set) var failure: String? = nil

    init(options: H2WebSocketLoad.Options, context: TLSClientContext?, seed: UInt32, warmupEnd: Double, end: Double) {
        self.options = options
        self.context = context
        self.warmupEnd = warmupEnd
        self.end = end
        mask = seed &* 0x9E37_79B9
    }

    func nextMask() -> UInt32 {
        mask ^= mask << 13; mask ^= mask >> 17; mask ^= mask << 5
        return mask
    }

    func run() {
        let payload = (0..<options.size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        do throws(H2WebSocketConnection.Failure) {
            let c = try H2WebSocketConnection(port: options.port, tlsContext: context)
            defer { c.close() }
            try c.awaitSettings()
            let ids = try c.openWebSockets(options.streams, path: options.path)
            for id in ids { c.client.send(message: payload, on: id, maskKey: nextMask()) }
            try c.flush()
            while true {
                let events = try c.receive()
                let t = H2WebSocketLoad.now()
                for event in events {
                    switch event {
                    case .message(let id, let p):
                        if p != payload { mismatches += 1 }
                        if t >= warmupEnd && t < end { messages += 1 }
                        c.client.send(message: payload, on: id, maskKey: nextMask())
                    case .closed(let id, let code): throw .init("stream \(id) ended (\(code.map { "\($0)" } ?? "END_STREAM"))")
                    case .goAway(_, let code): throw .init("GOAWAY \(code)")
                    default: break
                    }
                }
                if t >= end { break }
                try c.flush()
            }
        } catch {
            failure = error.description
        }
    }
}
