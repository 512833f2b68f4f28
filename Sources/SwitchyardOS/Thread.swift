import Glibc

/// Starts a detached-joinable pthread running `body`; used for one event loop per core.
public final class LoopThread {
    private var thread = pthread_t()
    private final class Box { let body: () -> Void; init(_ b: @escaping () -> Void) { body = b } }

    public init(name: String, _ body: @escaping () -> Void) throws {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
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
