// switchyard-echo-app: a long-running SCGI/FastCGI WebSocket echo application (one process, one
// epoll loop, many connections), the "native" rows of the benchmark. See EchoApp.swift.
import Glibc

exit(EchoApp.run(arguments: Array(CommandLine.arguments.dropFirst())))
