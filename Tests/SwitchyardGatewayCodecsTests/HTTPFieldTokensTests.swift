import Testing
@testable import SwitchyardGatewayCodecs

@Suite struct HTTPFieldTokensTests {
    @Test func listsAreCommaSeparatedCaseInsensitiveAndTrimmed() {
        #expect(HTTPFieldTokens.list("keep-alive, Upgrade", contains: "upgrade"))
        #expect(HTTPFieldTokens.list(" \tUPGRADE\t ", contains: "upgrade"))
        #expect(HTTPFieldTokens.list(",,upgrade,", contains: "upgrade"))
        #expect(!HTTPFieldTokens.list("upgrades, keep-alive", contains: "upgrade"))
        #expect(!HTTPFieldTokens.list("up grade", contains: "upgrade"))
        #expect(!HTTPFieldTokens.list("", contains: "upgrade"))
    }

    @Test func onlyMeansExactlyOneToken() {
        #expect(HTTPFieldTokens.list("WebSocket", isOnly: "websocket"))
        #expect(HTTPFieldTokens.list("websocket, ", isOnly: "websocket"))
        #expect(!HTTPFieldTokens.list("websocket, h2c", isOnly: "websocket"))
        #expect(!HTTPFieldTokens.list("h2c, websocket", isOnly: "websocket"))
        #expect(!HTTPFieldTokens.list("", isOnly: "websocket"))
    }

    @Test func connectionValuesNameFieldsInAnyCase() {
        #expect(HTTPFieldTokens.lists(["keep-alive", "X-Secret, close"], name: "x-SECRET"))
        #expect(!HTTPFieldTokens.lists(["keep-alive", "X-Secret, close"], name: "X-Secre"))
        #expect(!HTTPFieldTokens.lists([], name: "X-Secret"))
    }

    @Test func namesCompareWithLowerCaseLiterals() {
        #expect(HTTPFieldTokens.name("Content-Length", is: "content-length"))
        #expect(!HTTPFieldTokens.name("Content-Lengths", is: "content-length"))
        #expect(!HTTPFieldTokens.name("", is: "te"))
        #expect(HTTPFieldTokens.name("Proxy-Authorization", hasPrefix: "proxy-"))
        #expect(HTTPFieldTokens.name("proxy-", hasPrefix: "proxy-"))
        #expect(!HTTPFieldTokens.name("Proxy", hasPrefix: "proxy-"))
        // Bytes beyond ASCII never fold into a match.
        #expect(!HTTPFieldTokens.name("T\u{C9}", is: "te"))
    }
}
