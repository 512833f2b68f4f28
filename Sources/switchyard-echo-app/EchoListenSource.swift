/// Where the listening socket comes from.
enum EchoListenSource: Equatable, Sendable {
    /// fd 0, created by the spawner (the gateway's `bin-path`, spawn-fcgi): the default.
    case inheritedStdin
    /// `--listen HOST:PORT`.
    case tcp(String)
    /// `--socket PATH`: a unix socket we create (a stale file is removed first, ours on exit).
    case unix(String)
}
