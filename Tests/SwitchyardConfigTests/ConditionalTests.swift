import Testing
@testable import SwitchyardConfig

/// Conditional blocks, else-chains and per-request evaluation.
struct ConditionalTests {
    static let text = #"""
    a = "global"
    $HTTP["host"] == "example.com" {
      a = "host"
      $HTTP["url"] =^ "/api/" {
        a = "api"
      } else $HTTP["url"] =~ "\.php$" {
        a = "php"
      } else {
        a = "other"
      }
    }
    else $HTTP["host"] =$ ".org" { a = "org" }
    elseif $HTTP["host"] == "x" { a = "x" }
    elsif $HTTP["host"] == "y" { a = "y" }
    else if $HTTP["host"] == "z" { a = "z" }
    else { a = "fallback" }
    $HTTP["remote-ip"] == "10.0.0.0/8" { trusted = "enable" }
    $HTTP["remote-ip"] != "192.168.0.0/16" { external = "enable" }
    $SERVER["socket"] == ":8443" { ssl.engine = "enable" }
    $HTTP["useragent"] =~ "curl" { ua = "curl" }
    $REQUEST_HEADER["Upgrade"] == "websocket" { ws = 1 }
    $HTTP["request-method"] != "GET" { post = 1 }
    $HTTP["querystring"] !~ "debug" { quiet = 1 }
    $HTTP["scheme"] == "https" { secure = 1 }
    """#

    static func input(host: String = "", url: String = "/", method: String = "GET", scheme: String = "http",
                      ip: String = "192.168.1.1", query: String = "debug=1", socket: String = "0.0.0.0:80",
                      headers: [String: String] = [:]) -> ConditionInput {
        ConditionInput(url: url, host: host, method: method, scheme: scheme, remoteIP: ip, queryString: query,
                       serverSocket: socket, header: { headers[$0] })
    }

    @Test func structure() throws {
        let doc = try parse(Self.text)
        #expect(doc.contexts.count == 17)
        #expect(doc.contexts.map(\.parent) == [nil, 0, 0, 0, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil])
        #expect(doc.contexts[2].elsePredecessors == [1])
        #expect(doc.contexts[3].elsePredecessors == [1, 2] && doc.contexts[3].isElse)
        #expect(doc.contexts[8].elsePredecessors == [0, 4, 5, 6, 7] && doc.contexts[8].isElse)
        #expect(doc.contexts[5].condition.field == .host && doc.contexts[5].condition.pattern == "x")
        #expect(doc.contexts[12].condition.field == .requestHeader("User-Agent"))
        #expect(doc.contexts[13].condition.field == .requestHeader("Upgrade"))
        #expect(doc.serverSocketContexts == [11])
        #expect(doc.contexts.enumerated().allSatisfy { $0.offset == $0.element.index })
    }

    @Test func evaluation() throws {
        let doc = try parse(Self.text)
        func a(_ input: ConditionInput) -> String? { doc.value("a", matching: doc.matchingContexts(input))?.value.stringValue }
        #expect(a(Self.input(host: "example.com", url: "/api/v1")) == "api")
        #expect(a(Self.input(host: "EXAMPLE.com", url: "/x/index.php")) == "php")
        #expect(a(Self.input(host: "example.com", url: "/x/index.html")) == "other")
        #expect(a(Self.input(host: "www.example.org")) == "org")
        #expect(a(Self.input(host: "x")) == "x")
        #expect(a(Self.input(host: "y")) == "y")
        #expect(a(Self.input(host: "z")) == "z")
        #expect(a(Self.input(host: "other.net")) == "fallback")
        #expect(doc.matchingContexts(Self.input(host: "example.com", url: "/api/")) == [0, 1])

        let plain = doc.matchingContexts(Self.input(host: "q"))
        #expect(plain == [8])

        let rich = doc.matchingContexts(Self.input(host: "q", url: "/", method: "POST", scheme: "https", ip: "10.1.2.3",
                                                   query: "", socket: "127.0.0.1:8443",
                                                   headers: ["User-Agent": "curl/8.0", "Upgrade": "websocket"]))
        #expect(rich == [8, 9, 10, 11, 12, 13, 14, 15, 16])
        #expect(doc.value("trusted", matching: rich)?.value.boolValue == true)
    }

    /// Documents of up to 64 blocks are matched as bits (`matchingMask`, what the worker's settings
    /// cache is keyed by), larger ones as a list: the same document padded past 64 blocks with
    /// blocks that never match must give the same blocks for every input here (nested blocks,
    /// else-chains, headers, sockets).
    @Test func bitsAndListAgree() throws {
        let doc = try parse(Self.text)
        let padded = try parse(Self.text + "\n" + (0..<64).map { "$HTTP[\"url\"] == \"/never/\($0)\" { n = \($0) }" }.joined(separator: "\n"))
        #expect(padded.contexts.count > 64 && padded.matchingMask(Self.input(host: "q")) == nil)
        let inputs = [
            Self.input(host: "example.com", url: "/api/v1"), Self.input(host: "EXAMPLE.com", url: "/x/index.php"),
            Self.input(host: "example.com", url: "/x/index.html"), Self.input(host: "www.example.org"),
            Self.input(host: "x"), Self.input(host: "y"), Self.input(host: "z"), Self.input(host: "other.net"), Self.input(host: "q"),
            Self.input(host: "q", url: "/", method: "POST", scheme: "https", ip: "10.1.2.3", query: "", socket: "127.0.0.1:8443",
                       headers: ["User-Agent": "curl/8.0", "Upgrade": "websocket"]),
        ]
        for input in inputs {
            let mask = try #require(doc.matchingMask(input))
            #expect(ConfigDocument.contextIndices(of: mask) == padded.matchingContexts(input))
        }
        let last = Self.input(host: "h", url: "/never/63")   // the last padding block matches too
        #expect(padded.matchingContexts(last) == ConfigDocument.contextIndices(of: try #require(doc.matchingMask(last))) + [doc.contexts.count + 63])
    }

    @Test func conditionsInsideElseBranchesAreNestedUnderThem() throws {
        let doc = try parse("""
        $HTTP["url"] == "/a" { x = 1 }
        else {
          $HTTP["host"] == "h" { x = 2 } else { x = 3 }
        }
        """)
        #expect(doc.contexts.count == 4)
        #expect(doc.contexts[2].parent == 1 && doc.contexts[3].parent == 1 && doc.contexts[3].elsePredecessors == [2])
        func x(_ url: String, _ host: String) -> Int? {
            doc.value("x", matching: doc.matchingContexts(ConditionInput(url: url, host: host)))?.value.intValue
        }
        #expect(x("/a", "h") == 1)
        #expect(x("/b", "h") == 2)
        #expect(x("/b", "g") == 3)
    }

    @Test func regexMatching() throws {
        let regex = try POSIXRegex("^/(ws|api)/(.*)$")
        #expect(regex.matches("/ws/echo"))
        #expect(!regex.matches("/static/ws/echo"))
        #expect(regex.captures("/api/v1/x") == ["/api/v1/x", "api", "v1/x"])
        #expect(regex.captures("/nope") == nil)
        #expect(throws: POSIXRegexError.self) { try POSIXRegex("a(") }

        let notRegex = try ConfigCondition(field: .url, op: .notRegex, pattern: "\\.(png|jpg)$",
                                           location: ConfigSourceLocation(file: "t", line: 1, column: 1))
        #expect(notRegex.matches("/index.html"))
        #expect(!notRegex.matches("/a.png"))
        let empty = try ConfigCondition(field: .url, op: .regex, pattern: "",
                                        location: ConfigSourceLocation(file: "t", line: 1, column: 1))
        #expect(empty.matches("/anything"))
    }

    @Test func cidrMatching() throws {
        func condition(_ op: ConditionOperator, _ pattern: String) throws -> ConfigCondition {
            try ConfigCondition(field: .remoteIP, op: op, pattern: pattern,
                                location: ConfigSourceLocation(file: "t", line: 1, column: 1))
        }
        let ten = try condition(.equal, "10.0.0.0/8")
        #expect(ten.matches("10.255.0.1"))
        #expect(ten.matches("::ffff:10.1.2.3"))
        #expect(!ten.matches("11.0.0.1"))
        #expect(!ten.matches("not-an-ip"))
        let odd = try condition(.equal, "192.168.1.128/25")
        #expect(odd.matches("192.168.1.200") && !odd.matches("192.168.1.100"))
        let v6 = try condition(.equal, "2001:db8::/32")
        #expect(v6.matches("2001:db8:1::5") && v6.matches("[2001:db8::1]") && !v6.matches("2001:db9::1"))
        let exact = try condition(.equal, "127.0.0.1")
        #expect(exact.matches("127.0.0.1") && exact.matches("::ffff:127.0.0.1") && !exact.matches("127.0.0.2"))
        let all = try condition(.equal, "0.0.0.0/0")
        #expect(all.matches("8.8.8.8"))
        let not = try condition(.notEqual, "10.0.0.0/8")
        #expect(not.matches("192.168.0.1") && !not.matches("10.0.0.1"))
        let v4InV6 = try condition(.equal, "::ffff:0:0/96")
        #expect(v4InV6.matches("1.2.3.4"))
    }

    @Test func serverSocketMatching() throws {
        func socket(_ pattern: String) throws -> ConfigCondition {
            try ConfigCondition(field: .serverSocket, op: .equal, pattern: pattern,
                                location: ConfigSourceLocation(file: "t", line: 1, column: 1))
        }
        #expect(try socket(":8443").matches("0.0.0.0:8443"))
        #expect(try socket(":8443").matches("127.0.0.1:8443"))
        #expect(try !socket(":8443").matches("127.0.0.1:8080"))
        #expect(try socket("127.0.0.1:80").matches("127.0.0.1:80"))
        #expect(try !socket("127.0.0.1:80").matches("10.0.0.1:80"))
        #expect(try socket("[::1]:80").matches("[::1]:80"))
        #expect(try socket("[::1]:80").matches("[0:0::1]:80"))
        #expect(try !socket("[::1]:80").matches("[::2]:80"))
        #expect(ConfigCondition.splitSocket("[::1]:8080") == ("::1", "8080"))
        #expect(ConfigCondition.splitSocket(":81") == ("", "81"))
        #expect(ConfigCondition.splitSocket("81") == ("", "81"))
    }

    @Test func prefixSuffixAndHostCase() throws {
        let loc = ConfigSourceLocation(file: "t", line: 1, column: 1)
        #expect(try ConfigCondition(field: .url, op: .prefix, pattern: "/ws/", location: loc).matches("/ws/x"))
        #expect(try !ConfigCondition(field: .url, op: .prefix, pattern: "/ws/", location: loc).matches("/WS/x"))
        #expect(try ConfigCondition(field: .host, op: .suffix, pattern: ".Example.com", location: loc).matches("www.example.COM"))
        #expect(try ConfigCondition(field: .url, op: .suffix, pattern: ".py", location: loc).matches("/a.py"))
    }

    @Test func physicalPathUsesOtherField() throws {
        let doc = try parse(#"$PHYSICAL["path"] =~ "\.cgi$" { cgi = 1 } else { cgi = 0 }"#)
        #expect(doc.contexts[0].condition.field == .other("$PHYSICAL[\"path\"]"))
        let unknown = doc.matchingContexts(ConditionInput())
        #expect(unknown == [1])
        let known = doc.matchingContexts(ConditionInput(otherField: { $0 == "$PHYSICAL[\"path\"]" ? "/x/a.cgi" : nil }))
        #expect(known == [0])
    }
}
