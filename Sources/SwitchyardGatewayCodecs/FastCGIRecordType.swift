/// FastCGI 1.0 record types (spec section 8). Decoded records keep the raw byte, because an
/// application must answer an unknown type with `FCGI_UNKNOWN_TYPE` rather than fail.
public enum FastCGIRecordType: UInt8, Sendable {
    case beginRequest = 1, abortRequest, endRequest, params, stdin, stdout, stderr, data
    case getValues, getValuesResult, unknownType

    /// Management records travel with request id 0.
    public var isManagement: Bool {
        switch self {
        case .getValues, .getValuesResult, .unknownType: return true
        default: return false
        }
    }

    /// Content size fixed by the spec, if any.
    public var fixedContentLength: Int? {
        switch self {
        case .beginRequest, .endRequest, .unknownType: return 8
        case .abortRequest: return 0
        default: return nil
        }
    }
}

/// `protocolStatus` of `FCGI_END_REQUEST`.
public enum FastCGIProtocolStatus: UInt8, Sendable {
    case requestComplete = 0, cantMultiplexConnection = 1, overloaded = 2, unknownRole = 3
}

/// `role` of `FCGI_BEGIN_REQUEST`.
public enum FastCGIRole: UInt16, Sendable {
    case responder = 1, authorizer = 2, filter = 3
}
