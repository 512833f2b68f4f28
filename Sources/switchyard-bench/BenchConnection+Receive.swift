import Glibc
import SwitchyardOS
import SwitchyardWebSocket
import SwitchyardBenchCore

/// The receive side of a load-generator connection: frames streamed in without copying, every
/// echoed byte compared with the payload that was sent, latency taken when a message completes.
extension BenchConnection {
    /// Streams frames out of `input`: control frames whole, data payloads chunk by chunk.
    func processInput(now: UInt64) {
        while state == .open || state == .closing {
            if inFrame {
                if frameRemaining > 0 {
                    let available = input.readableBytes
                    if available == 0 { return }
                    let n = min(available, frameRemaining)
                    verify(input.readPointer, n)
                    input.consume(n)
                    frameRemaining -= n
                    if frameRemaining > 0 { return }
                }
                inFrame = false
                if frameFin { messageComplete(now: now) }
                continue
            }
            let header: WebSocketFrameHeader?
            do {
                header = try decoder.decodeHeader(input.readable)
            } catch {
                protocolFailure("\(error)")
                return
            }
            guard let header else { return }
            if header.opcode.isControl {
                guard input.readableBytes >= header.frameLength else { return }
                handleControl(header)
                if state == .idle { return }
                input.consume(header.frameLength)
                continue
            }
            if header.opcode == .continuation {
                guard inMessage else { protocolFailure("continuation frame without a message"); return }
            } else {
                guard !inMessage else { protocolFailure("new data frame before the previous message ended"); return }
                guard recvSeq < sendSeq, state == .open else {
                    protocolFailure("unexpected \(header.opcode) message from the server (nothing in flight)")
                    return
                }
                inMessage = true
                messageLength = 0
                messageBad = false
                expected = context.pattern.payload(connection: id, message: recvSeq)
                if header.opcode != context.opcode {
                    mismatch("echo is a \(header.opcode) message, sent \(context.opcode)")
                }
            }
            input.consume(header.headerLength)
            inFrame = true
            frameRemaining = header.payloadLength
            frameFin = header.fin
            frameMask = header.maskKey
            framePhase = 0
        }
    }

    /// Compares `count` payload bytes at `p` (the next bytes of the current echo) with what was sent.
    @inline(__always)
    func verify(_ p: UnsafeMutableRawPointer, _ count: Int) {
        if let key = frameMask {
            framePhase = WebSocketMasking.apply(key: key, phase: framePhase, from: p, to: p, count: count)
        }
        let size = context.options.size
        if !messageBad && messageLength < size {
            let m = min(count, size - messageLength)
            if memcmp(p, expected + messageLength, m) != 0 {
                var i = 0
                while i < m && p.load(fromByteOffset: i, as: UInt8.self) == expected.load(fromByteOffset: messageLength + i, as: UInt8.self) {
                    i += 1
                }
                let want = expected.load(fromByteOffset: messageLength + i, as: UInt8.self)
                let got = p.load(fromByteOffset: i, as: UInt8.self)
                mismatch("first differing byte at offset \(messageLength + i) of \(size): expected \(BenchConnection.describe(want)), got \(BenchConnection.describe(got))")
            }
        }
        if !messageBad && messageLength + count > size {
            mismatch("echo is longer than the \(size) bytes sent (at least \(messageLength + count))")
        }
        messageLength += count
    }

    func messageComplete(now: UInt64) {
        inMessage = false
        if !messageBad && messageLength != context.options.size {
            mismatch("echo is \(messageLength) bytes, sent \(context.options.size)")
        }
        let sent = sendTimes[Int(recvSeq % UInt64(context.ringSize))]
        recvSeq &+= 1
        if worker.measuring {
            worker.stats.messages &+= 1
            worker.stats.bytes &+= UInt64(messageLength)
            if worker.mode != .upgrades { worker.stats.latency.record(nanoseconds: now &- sent) }
        }
        switch worker.mode {
        case .pingpong, .pipeline:
            if worker.running { queueMessage(now: now) }
        case .hold, .handshakes:
            break
        case .upgrades:
            sendClose()
            state = .closing
            deadline = now &+ context.timeoutNanoseconds
        }
    }

    func mismatch(_ detail: String) {
        messageBad = true
        worker.stats.mismatches &+= 1
        context.errorLog.report("\(worker.probe ? "preflight: " : "")mismatch on connection \(id), message \(recvSeq): \(detail)")
    }

    func handleControl(_ header: WebSocketFrameHeader) {
        let payload = input.readPointer + header.headerLength
        let count = header.payloadLength
        if let key = header.maskKey {
            WebSocketMasking.apply(key: key, phase: 0, from: payload, to: payload, count: count)
        }
        switch header.opcode {
        case .ping:
            let key = UInt32(truncatingIfNeeded: worker.random.next())
            ClientFrameWriter.append(opcode: .pong, payload: UnsafeRawPointer(payload), count: count, maskKey: key, to: output)
        case .close:
            if state == .closing {
                cycleDone(now: BenchConnection.clock())
                return
            }
            var code = "no status code"
            if count >= 2 {
                let c = UInt16(payload.load(as: UInt8.self)) << 8 | UInt16(payload.load(fromByteOffset: 1, as: UInt8.self))
                let reason = String(decoding: UnsafeRawBufferPointer(start: payload + 2, count: count - 2), as: UTF8.self)
                code = "code \(c)" + (reason.isEmpty ? "" : " \"\(reason)\"")
            }
            fail("\(context.address) sent CLOSE (\(code)) on connection \(id) after \(recvSeq) echoes")
        default:
            break   // pong: nothing to do
        }
    }

    func protocolFailure(_ what: String) {
        var message = "protocol error from \(context.address) on connection \(id): \(what)"
        if what.contains("server frame is masked") {
            message += " (the seed ws_echo.py masks its echoes: use --lenient)"
        }
        fail(message)
    }
}

/// Text for error messages about unexpected bytes.
extension BenchConnection {
    static func describe(_ b: UInt8) -> String {
        let hex = String(b, radix: 16)
        let h = "0x" + (hex.count < 2 ? "0" : "") + hex
        return b >= 0x20 && b < 0x7F ? "\(h) '\(Character(Unicode.Scalar(b)))'" : h
    }

    static func indented(_ text: String) -> String {
        text.split(omittingEmptySubsequences: true, whereSeparator: { $0.isNewline })
            .map { "    " + $0 }
            .joined(separator: "\n")
    }

    static func quoted(_ bytes: UnsafeRawBufferPointer) -> String {
        let shown = bytes.prefix(1024)
        var text = ""
        for b in shown {
            switch b {
            case 0x0A: text += "\n"
            case 0x0D: continue
            case 0x20..<0x7F, 0x09: text.append(Character(Unicode.Scalar(b)))
            default: text += "\\x" + (b < 16 ? "0" : "") + String(b, radix: 16)
            }
        }
        return indented(text) + (bytes.count > shown.count ? "\n    ..." : "")
    }
}
