import SwitchyardGatewayCodecs

/// SCGI requests for the tests: the codecs' header encoder plus the body.
enum SCGITestClient {
    static func request(_ vars: [(String, String)], body: String = "", declaredLength: Int? = nil) -> [UInt8] {
        var out: [UInt8] = []
        SCGIRequestEncoder.encodeHeaders(CGIEnvironment(vars.map { (name: $0.0, value: $0.1) }),
                                         contentLength: declaredLength ?? body.utf8.count, into: &out)
        return out + Array(body.utf8)
    }
}
