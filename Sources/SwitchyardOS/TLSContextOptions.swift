/// What a TLS listener (or one SNI name) is configured with: lighttpd's `ssl.*` keys, already
/// typed. Files are read when the `TLSContext` is made, so a bad one fails at start (and `-t`).
public struct TLSContextOptions: Sendable, Equatable {
    /// `ssl.pemfile`: the certificate chain (leaf first), PEM; also the key unless `privateKeyFile`.
    public var certificateFile: String
    /// `ssl.privkey`.
    public var privateKeyFile: String?
    /// `ssl.ca-file`: trusted CAs (verify locations; client certificates are not requested yet).
    public var caFile: String?
    /// `ssl.cipher-list` (TLS 1.2 and below; OpenSSL cipher-string syntax).
    public var cipherList: String?
    /// `ssl.openssl.ssl-conf-cmd`: SSL_CONF_cmd pairs applied in order, after the defaults.
    public var confCommands: [ConfCommand]
    /// `ssl.honor-cipher-order` (lighttpd's default: enable).
    public var honorCipherOrder: Bool
    /// ALPN protocols the server accepts, in its order of preference.
    public var alpnProtocols: [String]

    public struct ConfCommand: Sendable, Equatable {
        public var name: String
        public var value: String
        public init(name: String, value: String) { self.name = name; self.value = value }
    }

    public init(certificateFile: String, privateKeyFile: String? = nil, caFile: String? = nil, cipherList: String? = nil,
                confCommands: [ConfCommand] = [], honorCipherOrder: Bool = true, alpnProtocols: [String] = ["http/1.1"]) {
        self.certificateFile = certificateFile
        self.privateKeyFile = privateKeyFile
        self.caFile = caFile
        self.cipherList = cipherList
        self.confCommands = confCommands
        self.honorCipherOrder = honorCipherOrder
        self.alpnProtocols = alpnProtocols
    }

    /// ALPN's wire form: each name prefixed by its length. Names of 1-255 bytes only.
    public var alpnWire: [UInt8] {
        var out: [UInt8] = []
        for name in alpnProtocols where !name.utf8.isEmpty && name.utf8.count <= 255 {
            out.append(UInt8(name.utf8.count))
            out.append(contentsOf: name.utf8)
        }
        return out
    }
}
