// scgi-cgi: SCGI -> CGI bridge (same name and role as lighttpd's companion tool), WebSocket-capable.
import Glibc
import SwitchyardBridge

exit(BridgeMain.run(.scgi, arguments: Array(CommandLine.arguments.dropFirst())))
