import Glibc

/// A transport whose two directions are separate descriptors (a CGI's stdout and stdin pipes):
/// `BufferedStream` watches both, and half-closing the output closes the output descriptor.
public protocol SplitDescriptorTransport: ByteTransport {
    /// Where output goes (`descriptor` is where input comes from).
    var outputDescriptor: Int32 { get }
    /// Gives up both descriptors (to a splice relay); the transport closes neither afterwards.
    func detachDescriptors() -> (input: Int32, output: Int32)
}

/// A read pipe and a write pipe, non-blocking, used as one byte channel. No zero-copy capability
/// (`kernelPath` nil): a file region queued on it goes through user space in chunks.
public final class PipeTransport: SplitDescriptorTransport {
    public private(set) var descriptor: Int32
    public private(set) var outputDescriptor: Int32

    /// Takes ownership of both descriptors.
    public init(input: Int32, output: Int32) {
        descriptor = input
        outputDescriptor = output
    }

    public var kernelPath: KernelPathTransport? { nil }

    @inline(__always)
    public func receive(into buffer: ByteBuffer, minimumSpace: Int) -> IOResult {
        buffer.read(from: descriptor, minimumSpace: minimumSpace)
    }

    /// One write(2) of the first non-empty region: a pipe has no gather send with MSG_MORE, and a
    /// short count tells the caller where to continue.
    public func send(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer, more: Bool) -> IOResult {
        let only = first.isEmpty ? second : first
        guard outputDescriptor >= 0, let base = only.baseAddress, only.count > 0 else { return .bytes(0) }
        return Syscall.write(outputDescriptor, base, only.count)
    }

    /// Closing the write pipe is the only half-close a pipe has (the reader sees EOF).
    public func shutdownOutput() {
        Syscall.close(outputDescriptor)
        outputDescriptor = -1
    }

    public func close() {
        Syscall.close(descriptor)
        Syscall.close(outputDescriptor)
        descriptor = -1
        outputDescriptor = -1
    }

    public func detachDescriptors() -> (input: Int32, output: Int32) {
        defer { descriptor = -1; outputDescriptor = -1 }
        return (descriptor, outputDescriptor)
    }
}
