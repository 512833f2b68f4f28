import Glibc
import SwitchyardOS

/// The whole life of the process: parse the command line, open the listener, serve until
/// SIGTERM/SIGINT, exit 0.
enum EchoApp {
    static func run(arguments: [String]) -> Int32 {
        let log = EchoLog()
        let options: EchoAppOptions
        do {
            switch try EchoAppOptions.parse(arguments) {
            case .help: print(EchoAppOptions.usage); return 0
            case .run(let o): options = o
            }
        } catch {
            log.error("\(error)")
            log.write(EchoAppOptions.usage + "\n")
            return 2
        }

        ProcessSetup.prepare()  // SIGPIPE ignored; TERM/INT/HUP blocked for the signalfd
        do {
            let loop = try EventLoop(name: "switchyard-echo-app")
            let server = EchoServer(loop: loop, log: log, proto: options.proto)
            let listener = try AppListener.open(options.listen, loop: loop)
            listener.onError = { log.error($0) }
            let tcp = listener.isTCP
            listener.onAccept = { fd in server.accept(fd, tcp: tcp) }
            try listener.start()
            server.startSweeping()
            let signals = try SignalSource(signals: [SIGTERM, SIGINT, SIGHUP], loop: loop) { signo in
                if signo == SIGHUP { return }  // nothing to reload
                loop.stop()
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
