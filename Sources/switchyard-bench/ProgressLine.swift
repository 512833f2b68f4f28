import Glibc
import SwitchyardOS
import Synchronization

/// The one-line progress display on stderr ("\r...", redrawn in place, erased at the end).
struct ProgressLine {
    /// Set while a line is on screen, so error messages start on a fresh line.
    static let active = Atomic<Bool>(false)

    let enabled: Bool

    func show(_ text: String) {
        guard enabled else { return }
        ProgressLine.active.store(true, ordering: .relaxed)
        Syscall.writeStderr("\r\u{1B}[K" + text)
    }

    func clear() {
        guard enabled else { return }
        Syscall.writeStderr("\r\u{1B}[K")
        ProgressLine.active.store(false, ordering: .relaxed)
    }
}
