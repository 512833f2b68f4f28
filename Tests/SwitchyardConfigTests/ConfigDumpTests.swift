import Testing
@testable import SwitchyardConfig

/// `dump()` prints valid configuration that parses back to the same document.
struct ConfigDumpTests {
    @Test func roundTripOfEverything() throws {
        let original = try parse(ConditionalTests.text + """

        var.root = "/srv"
        weird = "quote\\" backslash\\\\ tab\\t nl\\n keep\\.dot"
        big = ( "a" => ( ( "b" => 1, "c" => ( "x", "y" ) ) ), "d" => ( ), "plain" )
        $HTTP["url"] =^ "/x" {
          $HTTP["host"] == "h" { inner = var.root + "/inner" }
          else $HTTP["host"] =~ "^w" { inner = 2 }
        }
        $PHYSICAL["existing-path"] =$ ".py" { py = 1 }
        """)
        let text = original.dump()
        let reparsed = try parse(text, file: "dump.conf")
        #expect(sameStructure(original, reparsed), "\(text)")
        #expect(reparsed.warnings.isEmpty)
        // Dumping again is stable.
        #expect(reparsed.dump() == text)
    }

    @Test func format() throws {
        let doc = try parse("""
        z = 1
        a = ("x", "y")
        $HTTP["url"] =^ "/ws/" {
          cgi.assign = ("" => "")
          $HTTP["host"] == "h" { n = ( "k" => ( "v" ) ) }
        }
        else { e = "s" }
        """)
        #expect(doc.dump() == """
        a = ( "x", "y" )
        z = 1
        $HTTP["url"] =^ "/ws/" {
            cgi.assign = ( "" => "" )
            $HTTP["host"] == "h" {
                n = (
                    "k" => ( "v" ),
                )
            }
        }
        else {
            e = "s"
        }

        """)
    }
}
