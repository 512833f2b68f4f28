import SwitchyardBenchCore
import Glibc
import SwitchyardOS

// switchyard-bench: WebSocket load generator (see BenchOptions.usage).

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "compare" {
    exit(CompareCommand.main(Array(arguments.dropFirst())))
}
if arguments.first == "h2ws" {   // RFC 8441 WebSockets over HTTP/2 (compare's h2 rows)
    exit(H2WebSocketLoad.main(Array(arguments.dropFirst())))
}
if arguments.first == "scale" {
    exit(ScaleCommand.main(Array(arguments.dropFirst())))
}
let options: BenchOptions
do {
    switch try BenchOptions.parse(arguments) {
    case .help:
        print(BenchOptions.usage)
        exit(0)
    case .run(let parsed):
        options = parsed
    }
} catch {
    BenchErrorLog.printErr("switchyard-bench: \(error)\n(switchyard-bench --help for usage)")
    exit(2)
}

let runner = BenchRunner(options: options)
let summary: RunSummary
do {
    summary = try runner.run()
} catch {
    BenchErrorLog.printErr("switchyard-bench: \(error)")
    exit(2)
}
if options.json {
    print(summary.json)
} else {
    print(summary.table)
}
fflush(nil)
exit(runner.wasInterrupted ? 130 : (summary.failed ? 1 : 0))
