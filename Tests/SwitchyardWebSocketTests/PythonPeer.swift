import Foundation

/// Runs a short python3 program as the real peer of a codec test (python3 is a test prerequisite,
/// installed by `make deps`): `input` on its stdin, its stdout returned. Fails loudly if python3 is
/// missing or the program exits non-zero, so such a test cannot pass without the peer.
enum PythonPeer {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func run(_ program: String, input: [UInt8] = []) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", program]
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        // Write and read from separate threads: a large input must not deadlock on full pipes.
        let writer = Thread {
            stdin.fileHandleForWriting.write(Data(input))
            try? stdin.fileHandleForWriting.close()
        }
        writer.start()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        let errors = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "python3 exited \(process.terminationStatus): \(String(decoding: errors, as: UTF8.self))")
        }
        return [UInt8](output)
    }
}
