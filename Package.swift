// swift-tools-version: 6.1
// Switchyard: a small HTTP gateway (CGI, SCGI, FastCGI with WebSocket upgrade).
// No package dependencies by design: Glibc, Dispatch and Foundation only, plus an
// in-package C shim for the Linux APIs Glibc does not expose (epoll, signalfd, spawn extensions).
import PackageDescription

/// Release builds skip Swift's dynamic exclusivity checks in the I/O and codec modules: on the
/// request path they cost ~14 % of the instructions (measured with callgrind on small-file GETs).
let hotPathSettings: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "Switchyard",
    products: [
        .executable(name: "switchyard", targets: ["switchyard"]),
        .executable(name: "scgi-cgi", targets: ["scgi-cgi"]),
        .executable(name: "fcgi-cgi", targets: ["fcgi-cgi"]),
        .executable(name: "switchyard-bench", targets: ["switchyard-bench"]),
        .executable(name: "switchyard-echo-app", targets: ["switchyard-echo-app"]),
        .library(name: "SwitchyardWebSocket", targets: ["SwitchyardWebSocket"]),
    ],
    targets: [
        // C shim: epoll/signalfd/eventfd/timerfd/pidfd, variadic fcntl/ioctl, splice, GNU posix_spawn extensions.
        // libcrypt (crypt_r for htpasswd hashes) comes with libc6-dev, which the toolchain needs anyway.
        .target(name: "CSwitchyardShims", linkerSettings: [.linkedLibrary("crypt")]),
        // Event loop and OS layer: the only place that performs I/O.
        .target(name: "SwitchyardOS", dependencies: ["CSwitchyardShims", "COpenSSL"], swiftSettings: hotPathSettings),
        // Sans-I/O codecs.
        .target(name: "SwitchyardHTTP", swiftSettings: hotPathSettings),
        .target(name: "SwitchyardConfig"),
        // zlib for permessage-deflate (RFC 7692): a system library, not a package dependency.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "SwitchyardWebSocket", dependencies: ["CZlib"], swiftSettings: hotPathSettings),
        // Sans-I/O HTTP/2 (RFC 9113) with HPACK (RFC 7541) and extended CONNECT (RFC 8441): bytes in, events out.
        .target(name: "SwitchyardHTTP2", swiftSettings: hotPathSettings),
        // Debian's OpenSSL 3 for TLS (libssl-dev): a system library, not a package dependency.
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        // Depends on SwitchyardHTTP for one rule: header value bytes kept by the parser (FieldValueBytes).
        .target(name: "SwitchyardGatewayCodecs", dependencies: ["SwitchyardHTTP"], swiftSettings: hotPathSettings),
        // Connections, routing, static files, the shared backend layer (CGI, SCGI, FastCGI).
        .target(name: "SwitchyardServer",
                dependencies: ["SwitchyardOS", "SwitchyardHTTP", "SwitchyardConfig", "SwitchyardGatewayCodecs", "SwitchyardWebSocket",
                               "SwitchyardHTTP2", "CSwitchyardShims", "COpenSSL"],
                swiftSettings: hotPathSettings),
        .executableTarget(name: "switchyard", dependencies: ["SwitchyardServer"]),
        // Shared machinery of the scgi-cgi / fcgi-cgi bridges: accept, run a CGI per request, relay.
        .target(name: "SwitchyardBridge", dependencies: ["SwitchyardOS", "SwitchyardGatewayCodecs", "CSwitchyardShims"]),
        .executableTarget(name: "scgi-cgi", dependencies: ["SwitchyardBridge"]),
        .executableTarget(name: "fcgi-cgi", dependencies: ["SwitchyardBridge"]),
        // The load generator's pure parts (options, histogram, payloads, summaries, reports), unit-tested.
        .target(name: "SwitchyardBenchCore", dependencies: ["SwitchyardOS", "SwitchyardWebSocket", "SwitchyardHTTP2", "CSwitchyardShims"],
                swiftSettings: hotPathSettings),
        .executableTarget(name: "switchyard-bench",
                          dependencies: ["SwitchyardBenchCore", "SwitchyardOS", "SwitchyardWebSocket", "SwitchyardHTTP2", "CSwitchyardShims"],
                          swiftSettings: hotPathSettings),
        // A long-running SCGI/FastCGI WebSocket echo application (no process per connection), the
        // "native" rows of the benchmark.
        .executableTarget(name: "switchyard-echo-app",
                          dependencies: ["SwitchyardOS", "SwitchyardHTTP", "SwitchyardGatewayCodecs", "SwitchyardWebSocket", "CSwitchyardShims"]),

        .testTarget(name: "SwitchyardHTTPTests", dependencies: ["SwitchyardHTTP"]),
        .testTarget(name: "SwitchyardConfigTests", dependencies: ["SwitchyardConfig"]),
        .testTarget(name: "SwitchyardWebSocketTests", dependencies: ["SwitchyardWebSocket"]),
        .testTarget(name: "SwitchyardHTTP2Tests", dependencies: ["SwitchyardHTTP2"]),
        .testTarget(name: "SwitchyardGatewayCodecsTests", dependencies: ["SwitchyardGatewayCodecs"]),
        .testTarget(name: "SwitchyardOSTests", dependencies: ["SwitchyardOS", "CSwitchyardShims"]),
        .testTarget(name: "SwitchyardServerTests", dependencies: ["SwitchyardServer", "SwitchyardOS", "SwitchyardWebSocket", "SwitchyardHTTP2"]),
        .testTarget(name: "SwitchyardBridgeTests", dependencies: ["SwitchyardBridge"]),
        .testTarget(name: "SwitchyardBenchTests", dependencies: ["SwitchyardBenchCore", "SwitchyardHTTP2"]),
        .testTarget(name: "IntegrationTests", dependencies: ["SwitchyardWebSocket"]),
    ],
    swiftLanguageModes: [.v6]
)

// libFuzzer targets (Tests/Fuzz, see README "Fuzzing"): declared only when `make fuzz` sets
// SWITCHYARD_FUZZ=1, so the normal build and test graph never compiles them.
if Context.environment["SWITCHYARD_FUZZ"] != nil {
    let fuzzTargets: [(name: String, directory: String, dependencies: [Target.Dependency])] = [
        ("fuzz-http-request", "HTTPRequest", ["FuzzHTTPSupport"]),
        ("fuzz-chunked", "Chunked", ["FuzzHTTPSupport"]),
        ("fuzz-cgi-response", "CGIResponse", ["SwitchyardGatewayCodecs"]),
        ("fuzz-scgi", "SCGI", ["SwitchyardGatewayCodecs"]),
        ("fuzz-uwsgi", "UWSGI", ["SwitchyardGatewayCodecs"]),
        ("fuzz-fastcgi-record", "FastCGIRecord", ["SwitchyardGatewayCodecs"]),
        ("fuzz-fastcgi-params", "FastCGIParams", ["SwitchyardGatewayCodecs"]),
        ("fuzz-websocket-frame", "WebSocketFrame", ["SwitchyardWebSocket"]),
        ("fuzz-config", "Config", ["SwitchyardConfig"]),
        ("fuzz-http-response", "HTTPResponse", ["SwitchyardHTTP", "SwitchyardGatewayCodecs"]),
        ("fuzz-websocket-server", "WebSocketServer", ["SwitchyardWebSocket"]),
        ("fuzz-http2-session", "HTTP2Session", ["SwitchyardHTTP2"]),
    ]
    package.targets += [Target]([
        .target(name: "CFuzzDriver", path: "Tests/Fuzz/CFuzzDriver"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzDriver"], path: "Tests/Fuzz/Support"),
        .target(name: "FuzzHTTPSupport", dependencies: ["FuzzSupport", "SwitchyardHTTP"], path: "Tests/Fuzz/HTTPSupport"),
    ])
    package.targets += fuzzTargets.map { target -> Target in
        .executableTarget(name: target.name, dependencies: ["FuzzSupport"] + target.dependencies,
                          path: "Tests/Fuzz/\(target.directory)")
    }
}
