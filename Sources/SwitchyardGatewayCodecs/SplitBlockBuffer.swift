/// Buffers the bytes of a length-prefixed header block that arrive across several reads, so that
/// the decoders can parse straight from the caller's input when the block arrives whole (the
/// common case) and copy only when it is split.
struct SplitBlockBuffer: Sendable {
    private(set) var bytes: [UInt8] = []

    var isEmpty: Bool { bytes.isEmpty }

    /// `parse` returns the parsed value and the bytes used from the start of the block, or nil if
    /// the block is incomplete. The result's `consumed` counts bytes of `input` only.
    mutating func feed<T, E: Error>(
        _ input: UnsafeRawBufferPointer,
        _ parse: (UnsafeRawBufferPointer) throws(E) -> (T, Int)?
    ) throws(E) -> (T, consumed: Int)? {
        if bytes.isEmpty {
            if let (value, used) = try parse(input) { return (value, used) }
            bytes.append(contentsOf: input)
            return nil
        }
        let before = bytes.count
        bytes.append(contentsOf: input)
        let result: Result<(T, Int)?, E> = bytes.withUnsafeBytes { b in
            do throws(E) { return .success(try parse(b)) } catch { return .failure(error) }
        }
        guard let (value, used) = try result.get() else { return nil }
        bytes = []
        return (value, used - before)
    }

    mutating func reset() { bytes = [] }
}
