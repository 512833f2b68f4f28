import Glibc
import SwitchyardOS

/// The whole life of a bridge process: parse the command line, open the listener, serve until
/// SIGTERM/SIGINT, then stop accepting, TERM the CGIs (KILL after 5 s) and exit 0.
public enum BridgeMain {
    public static func run(_ proto: BridgeProtocol, arguments: [String]) -> Int32 {
        let log = BridgeLog(program: proto.programName)
        let options: BridgeOptions
        do {
            switch try BridgeOptions.parse(arguments) {
            case .help: print(BridgeOptions.usage(for: proto)); return 0
            case .version: print("\(proto.programName) (Switchyard) \(BridgeVersion.string)"); return 0
            case .run(let o): options = o
            }
        } catch {
            log.error("\(error)")
            FileHandleStderr.write(BridgeOptions.usage(for: proto) + "\n")
            return 2
        }

        ProcessSetup.prepare()  // SIGPIPE ignored, TERM/INT/HUP blocked for the signalfd
        do {
            let loop = try EventLoop(name: proto.programName)
            let context = BridgeContext(loop: loop, options: options, proto: proto)
            let listener = try AppListener.open(options.listen, loop: loop)
            listener.onError = { log.error($0) }
            listener.onAccept = { fd in
                switch proto {
                case .scgi: _ = SCGIBridgeConnection(fd: fd, context: context)
                case .fastCGI: _ = FastCGIBridgeConnection(fd: fd, context: context)
                }
            }
            try listener.start()
            let signals = try SignalSource(signals: [SIGTERM, SIGINT, SIGHUP], loop: loop) { signo in
                if signo == SIGHUP { return }  // nothing to reload
                guard !context.shuttingDown else { return }
                log.info("signal \(signo): shutting down (\(context.liveChildren) CGI processes)")
                listener.close()
                context.onIdleAfterShutdown = { loop.stop() }
                context.beginShutdown(grace: 5)
                // Children that ignore even KILL cannot hold us up forever.
                loop.schedule(afterSeconds: 6) { loop.stop() }
            }
            loop.run()
            _ = signals
            listener.close()
            return 0
        } catch {
            log.error("\(error)")
            return 1
        }
    }
}

/// Unbuffered stderr output for usage text (the log prefix would be wrong there).
enum FileHandleStderr {
    static func write(_ text: String) {
        var t = text
        t.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }
}
