import Testing
import SwitchyardHTTP

@Suite struct RequestPathTests {
    func ok(_ raw: String) -> String? {
        if case .success(let s) = RequestPath.normalize(raw) { return s }
        return nil
    }

    func status(_ raw: String) -> Int? {
        if case .failure(let e) = RequestPath.normalize(raw) { return e.status }
        return nil
    }

    @Test(arguments: [
        ("/", "/"),
        ("/index.html", "/index.html"),
        ("/a/b/c", "/a/b/c"),
        ("/a/", "/a/"),
        ("//a///b//", "/a/b/"),
        ("/a/./b/.", "/a/b/"),
        ("/./", "/"),
        ("/a/../b", "/b"),
        ("/a/b/..", "/a/"),
        ("/a/b/../../c", "/c"),
        ("/a/..", "/"),
        ("/a/%2e%2e/b", "/b"),
        ("/a/%2E./b", "/b"),
        ("/a/.%2e", "/"),
        ("/%7Euser/x%20y", "/~user/x y"),
        ("/caf%C3%A9", "/café"),
        ("/a/...", "/a/..."),
        ("/a/..b/.c", "/a/..b/.c"),
        ("/a+b", "/a+b"),
    ])
    func normalizes(_ c: (String, String)) {
        #expect(ok(c.0) == c.1, "\(c.0)")
    }

    @Test(arguments: [
        "/..",
        "/../etc/passwd",
        "/a/../../etc/passwd",
        "/%2e%2e/etc/passwd",
        "/%2E%2E",
        "/a/%2e%2e/%2e%2e/x",
        "/a%2fb",
        "/a%2F..%2F..%2Fetc",
        "/a%00b",
        "/a\u{0}b",
        "/a\\b",
        "/a%5cb",
        "/a%5C..%5C..",
        "/a%",
        "/a%2",
        "/a%zz",
        "/a%2/",
        "/%ff%fe",
        "relative",
        "",
        "*",
    ])
    func rejects(_ raw: String) {
        #expect(status(raw) == 400, "\(raw.debugDescription)")
    }

    @Test func resultNeverEscapesRoot() {
        // A small exhaustive check over tricky segment combinations.
        let parts = ["a", ".", "..", "%2e", "%2e%2e", "", ".%2E"]
        for x in parts { for y in parts { for z in parts {
            let raw = "/\(x)/\(y)/\(z)"
            if let s = ok(raw) {
                #expect(s.hasPrefix("/"))
                #expect(!s.split(separator: "/").contains(".."), "\(raw) -> \(s)")
                #expect(!s.split(separator: "/").contains("."), "\(raw) -> \(s)")
                #expect(!s.contains("//"), "\(raw) -> \(s)")
            }
        } } }
    }

    @Test func percentDecode() {
        #expect(RequestPath.percentDecode("a%20b%3D%26") == "a b=&")
        #expect(RequestPath.percentDecode("a+b") == "a+b")
        #expect(RequestPath.percentDecode("a+b%2B", plusAsSpace: true) == "a b+")
        #expect(RequestPath.percentDecode("plain") == "plain")
        #expect(RequestPath.percentDecode("%e2%82%ac") == "€")
        #expect(RequestPath.percentDecode("%") == nil)
        #expect(RequestPath.percentDecode("%4") == nil)
        #expect(RequestPath.percentDecode("%g0") == nil)
        #expect(RequestPath.percentDecode("%ff") == nil)
    }
}
