import Testing
import CSwitchyardShims
@testable import SwitchyardOS

/// `IOEvents` spells the epoll bits as literals (so they are static constants, not lazily
/// initialised globals); they must be the values the C headers give.
@Test func ioEventBitsMatchTheEpollHeaders() {
    #expect(IOEvents.input.rawValue == sy_epollin())
    #expect(IOEvents.output.rawValue == sy_epollout())
    #expect(IOEvents.readHangup.rawValue == sy_epollrdhup())
    #expect(IOEvents.hangup.rawValue == sy_epollhup())
    #expect(IOEvents.error.rawValue == sy_epollerr())
}
