/// Small shell CGIs used by the end-to-end tests.
enum Scripts {
    /// Prints a header block, two variables, then echoes stdin.
    static let echo = """
    #!/bin/sh
    printf 'Content-Type: text/plain\\r\\n\\r\\n'
    echo "method=$REQUEST_METHOD"
    echo "x=$X_TEST"
    cat
    """

    /// Answers 101, then echoes whatever follows (a stand-in for a WebSocket program).
    static let upgrade = """
    #!/bin/sh
    printf 'Status: 101\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n\\r\\n'
    exec cat
    """

    /// Exits with status 3 without reading stdin.
    static let fail = """
    #!/bin/sh
    printf 'Content-Type: text/plain\\r\\n\\r\\nbye\\n'
    exit 3
    """
}
