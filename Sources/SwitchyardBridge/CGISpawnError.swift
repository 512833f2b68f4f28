/// Why a request's CGI could not be started, as the status the front end should see. The bridge
/// answers these itself with a short text body (the CGI never ran, so nobody else can).
public struct CGISpawnError: Error, Sendable, CustomStringConvertible {
    public var status: Int
    public var message: String

    public init(status: Int, _ message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { "\(status): \(message)" }

    static let reasons: [Int: String] = [400: "Bad Request", 403: "Forbidden", 404: "Not Found", 500: "Internal Server Error",
                                         503: "Service Unavailable"]

    /// A complete CGI response (`Status:` header, text body), for SCGI or FCGI_STDOUT.
    public var cgiResponse: [UInt8] { CGISpawnError.cgiResponse(status: status, body: message) }

    static func cgiResponse(status: Int, body: String) -> [UInt8] {
        let reason = reasons[status] ?? "Error"
        let text = "\(status) \(reason): \(body)\n"
        return Array("Status: \(status) \(reason)\r\nContent-Type: text/plain\r\nContent-Length: \(text.utf8.count)\r\n\r\n\(text)".utf8)
    }
}
