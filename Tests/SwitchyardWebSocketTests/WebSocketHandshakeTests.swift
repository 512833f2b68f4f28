import Testing
@testable import SwitchyardWebSocket

@Suite struct WebSocketHandshakeTests {
    @Test(arguments: [
        ("dGhlIHNhbXBsZSBub25jZQ==", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),  // RFC 6455 1.3
        ("lkUx3lTpjFwO5OI7xY3+1Q==", "2T9o4TGeL7V6QJ/PnOsqmx4nEBk="),  // seed 004 curl
        ("Ap4ZCLgwbnDQ2ump+7ea3g==", "Ih1TB0gxAY3zGzvQCYrIeM5bEdw="),  // seed 003 capture
    ])
    func acceptValue(key: String, accept: String) {
        #expect(WebSocketHandshake.acceptValue(forKey: key) == accept)
    }

    @Test func generatedKeysAreSixteenRandomBytes() {
        var rng = FastRandom(seed: 1)
        let a = WebSocketHandshake.generateKey(using: &rng)
        let b = WebSocketHandshake.generateKey(using: &rng)
        #expect(a.count == 24 && a.hasSuffix("=="))
        #expect(Base64.decode(a)?.count == 16)
        #expect(a != b)
        #expect(WebSocketHandshake.isValidKey(a))
        #expect(WebSocketHandshake.generateKey() != WebSocketHandshake.generateKey())
        #expect(!WebSocketHandshake.isValidKey("abc"))
    }
}

@Suite struct SHA1Tests {
    func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

    @Test func vectors() {
        #expect(hex(SHA1.hash(Array("abc".utf8))) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(hex(SHA1.hash([])) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(hex(SHA1.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
                == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        #expect(hex(SHA1.hash(Array("The quick brown fox jumps over the lazy dog".utf8)))
                == "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12")
    }

    @Test func millionA() {
        #expect(hex(SHA1.hash([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)))
                == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }

    @Test func paddingBoundaries() {
        // Lengths around the 55/56/64-byte padding edges must all differ and be stable.
        var seen = Set<String>()
        for n in 50..<70 { seen.insert(hex(SHA1.hash([UInt8](repeating: 0x61, count: n)))) }
        #expect(seen.count == 20)
        #expect(hex(SHA1.hash([UInt8](repeating: 0x61, count: 64))) == "0098ba824b5c16427bd7a1122a5a442a25ec644d")
    }
}

@Suite struct Base64Tests {
    @Test(arguments: [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="),
                      ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")])
    func rfc4648Vectors(plain: String, encoded: String) {
        #expect(Base64.encode(Array(plain.utf8)) == encoded)
        #expect(Base64.decode(encoded) == Array(plain.utf8))
    }

    @Test func roundTripsAllLengths() {
        var rng = FastRandom(seed: 9)
        for n in 0..<200 {
            let bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let encoded = Base64.encode(bytes)
            #expect(encoded.count == (n + 2) / 3 * 4)
            #expect(Base64.decode(encoded) == bytes)
        }
        let all = (0...255).map { UInt8($0) }
        #expect(Base64.decode(Base64.encode(all)) == all)
        #expect(Base64.encode([0xFB, 0xFF]) == "+/8=")
    }

    @Test func rejectsMalformed() {
        #expect(Base64.decode("Zg=") == nil)
        #expect(Base64.decode("Z") == nil)
        #expect(Base64.decode("Zm 9v") == nil)
        #expect(Base64.decode("Zm9v\n") == nil)
        #expect(Base64.decode("Z=g=") == nil)
        #expect(Base64.decode("Zm9v====") == nil)
        #expect(Base64.decode("Zh==") == nil)   // non-zero leftover bits
        #expect(Base64.decode("Zm8") == Array("fo".utf8))  // unpadded is accepted
    }
}
