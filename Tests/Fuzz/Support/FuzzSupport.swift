import CFuzzDriver
import Glibc

/// The running target's body. libFuzzer calls back through a C function pointer, which cannot
/// capture, so `runFuzzer` parks the closure here (the fuzzer runs inputs on one thread).
nonisolated(unsafe) private var fuzzBody: ((UnsafeRawBufferPointer) -> Void)?

/// Hands control to libFuzzer with `body` as the target (`LLVMFuzzerTestOneInput`). Command-line
/// arguments are libFuzzer's (`-max_total_time=60 corpus-dir seed-dir`, or crash files to replay).
public func runFuzzer(_ body: @escaping (UnsafeRawBufferPointer) -> Void) -> Never {
    fuzzBody = body
    exit(switchyard_fuzz_main(CommandLine.argc, CommandLine.unsafeArgv) { data, size in
        fuzzBody?(UnsafeRawBufferPointer(start: size == 0 ? nil : data, count: size))
        return 0
    })
}

/// An invariant of the codec under test. A violation prints `message` and aborts, which libFuzzer
/// reports as a crash and saves the input (`precondition` would not print the message in -O builds).
public func fuzzCheck(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
                      file: StaticString = #fileID, line: UInt = #line) {
    if condition() { return }
    let text = "fuzz invariant violated (\(file):\(line)): \(message())\n"
    text.utf8CString.withUnsafeBufferPointer { _ = write(2, $0.baseAddress, $0.count - 1) }
    abort()
}

/// Reads option bytes from the front of a fuzz input; the rest is the codec's input. Missing bytes
/// read as 0, so every input is valid.
public struct FuzzInput {
    public let bytes: UnsafeRawBufferPointer
    public private(set) var offset = 0

    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    public mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// Everything not taken by `byte()`.
    public var rest: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[min(offset, bytes.count)...]) }
}

/// How a stream of `count` bytes arrives in reads: `seed` 0 = all at once, 1 = byte by byte, otherwise
/// pseudo-random read sizes from 1 to `seed` (the same seed always gives the same split). Sans-I/O
/// codecs must decode every split the same way.
public func readSizes(count: Int, seed: UInt8) -> [Range<Int>] {
    if count == 0 { return [0..<0] }
    if seed == 0 { return [0..<count] }
    var state = UInt32(seed) &* 2_654_435_761 | 1
    var pieces: [Range<Int>] = []
    var start = 0
    while start < count {
        state ^= state << 13; state ^= state >> 17; state ^= state << 5   // xorshift32
        let size = seed == 1 ? 1 : 1 + Int(state % UInt32(seed))
        let end = min(count, start + size)
        pieces.append(start..<end)
        start = end
    }
    return pieces
}

/// A byte view of part of `bytes`.
@inline(__always)
public func slice(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(rebasing: bytes[range])
}
