import Testing
@testable import SwitchyardServer

@Suite struct ExpireRulesTests {
    @Test func rulesParseLikeLighttpd() throws {
        #expect(try ExpireRule(parsing: "access plus 1 hours 30 minutes") == ExpireRule(base: .access, seconds: 5400))
        #expect(try ExpireRule(parsing: "now plus 1 day") == ExpireRule(base: .access, seconds: 86400))
        #expect(try ExpireRule(parsing: "modification 2 weeks") == ExpireRule(base: .modification, seconds: 14 * 86400))
        #expect(try ExpireRule(parsing: " ACCESS  plus 1 months 1 years ") == ExpireRule(base: .access, seconds: 395 * 86400))
        #expect(try ExpireRule(parsing: "access plus 0 seconds") == ExpireRule(base: .access, seconds: 0))
    }

    @Test func badRulesSayWhy() {
        for text in ["", "later plus 1 days", "access plus", "access plus 1", "access plus x days",
                     "access plus 1 fortnights", "access plus -1 days", "access plus 999999999999 years"] {
            #expect(throws: ExpireRule.ParseError.self, "\(text)") { try ExpireRule(parsing: text) }
        }
    }

    @Test func urlPrefixesWinOverTypesAndTheFirstMatchCounts() {
        var rules = ExpireRules()
        rules.urls = [("/img/", ExpireRule(base: .access, seconds: 1)), ("/", ExpireRule(base: .access, seconds: 2))]
        rules.mimeTypes = [("image/", ExpireRule(base: .access, seconds: 3))]
        #expect(rules.rule(path: "/img/a.png", contentType: "image/png")?.seconds == 1)
        #expect(rules.rule(path: "/b.png", contentType: "image/png")?.seconds == 2)
        rules.urls = []
        #expect(rules.rule(path: "/b.png", contentType: "image/png")?.seconds == 3)
        #expect(rules.rule(path: "/b.txt", contentType: "text/plain") == nil)
    }

    @Test func expiryCountsFromAccessOrModificationAndMaxAgeIsNeverNegative() {
        let access = ExpireRule(base: .access, seconds: 60)
        let modified = ExpireRule(base: .modification, seconds: 60)
        #expect(access.expires(now: 1000, mtime: 10) == 1060)
        #expect(modified.expires(now: 1000, mtime: 10) == 70)
    }
}
