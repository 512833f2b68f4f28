import Glibc
import CSwitchyardShims

/// Starts a detached-joinable pthread running `body`; used for one event loop per core.
public final class LoopThread {
    private var thread = pthread_t()
    private final class Box { let body: @Sendable () -> Void; init(_ b: @escaping @Sendable () -> Void) { body = b } }

    /// `name` (its first 15 bytes) becomes the thread's name in `top -H`, `ps -L` and /proc.
    public init(name: String, _ body: @escaping @Sendable () -> Void) throws {
        let named: @Sendable () -> Void = {
            _ = sy_set_thread_name(name)
            body()
        }
        let box = Unmanaged.passRetained(Box(named)).toOpaque()
        let rc = pthread_create(&thread, nil, { arg in
            let b = Unmanaged<AnyObject>.fromOpaque(arg!).takeRetainedValue() as! Box
            b.body()
            return nil
        }, box)
        if rc != 0 {
            Unmanaged<AnyObject>.fromOpaque(box).release()
            throw SystemError("pthread_create", errno: rc, context: name)
        }
    }

    public func join() {
        pthread_join(thread, nil)
    }
}

/// A reference to an object confined to one event loop, carried across threads (to the loop's
/// thread through `execute`, or into the thread that will run the loop). Reading `value` off the
/// loop's thread once the loop runs is a programming error, trapped in debug builds. This is the
/// one sanctioned way loop-confined objects cross a thread boundary (swift-nio's NIOLoopBound).
public struct LoopBound<Value: AnyObject>: @unchecked Sendable {
    private let loop: EventLoop
    private let wrapped: Value

    public init(_ value: Value, on loop: EventLoop) {
        self.loop = loop
        self.wrapped = value
    }

    public var value: Value {
        loop.assertInLoop()
        return wrapped
    }
}
