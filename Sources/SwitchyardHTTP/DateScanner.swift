/// Fixed-layout scanner for the three HTTP-date forms; each attempt starts from the
/// beginning of the bytes and either matches completely or returns nil.
struct DateScanner {
    let bytes: UnsafeRawBufferPointer
    var pos = 0

    init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// "Sun, 06 Nov 1994 08:49:37 GMT"
    mutating func imfFixdate() -> Int? {
        pos = 0
        guard name(HTTPDate.dayNames) != nil, literal(", "),
              let day = digits(2), literal(" "), let month = name(HTTPDate.monthNames), literal(" "),
              let year = digits(4), literal(" "), let (h, m, s) = time(), literal(" GMT"), pos == bytes.count
        else { return nil }
        return HTTPDate.epochSeconds(year: year, month: month + 1, day: day, hour: h, minute: m, second: s)
    }

    /// "Sunday, 06-Nov-94 08:49:37 GMT"
    mutating func rfc850() -> Int? {
        pos = 0
        guard name(HTTPDate.longDayNames) != nil, literal(", "),
              let day = digits(2), literal("-"), let month = name(HTTPDate.monthNames), literal("-"),
              let yy = digits(2), literal(" "), let (h, m, s) = time(), literal(" GMT"), pos == bytes.count
        else { return nil }
        let year = yy < 70 ? 2000 + yy : 1900 + yy
        return HTTPDate.epochSeconds(year: year, month: month + 1, day: day, hour: h, minute: m, second: s)
    }

    /// "Sun Nov  6 08:49:37 1994"
    mutating func asctime() -> Int? {
        pos = 0
        guard name(HTTPDate.dayNames) != nil, literal(" "), let month = name(HTTPDate.monthNames), literal(" ")
        else { return nil }
        let day: Int
        if literal(" ") {
            guard let d = digits(1) else { return nil }
            day = d
        } else {
            guard let d = digits(2) else { return nil }
            day = d
        }
        guard literal(" "), let (h, m, s) = time(), literal(" "), let year = digits(4), pos == bytes.count
        else { return nil }
        return HTTPDate.epochSeconds(year: year, month: month + 1, day: day, hour: h, minute: m, second: s)
    }

    private mutating func time() -> (Int, Int, Int)? {
        guard let h = digits(2), literal(":"), let m = digits(2), literal(":"), let s = digits(2) else { return nil }
        return (h, m, s)
    }

    private mutating func digits(_ n: Int) -> Int? {
        guard pos + n <= bytes.count else { return nil }
        var v = 0
        for i in pos..<(pos + n) {
            let b = bytes[i]
            guard b >= 0x30 && b <= 0x39 else { return nil }
            v = v * 10 + Int(b - 0x30)
        }
        pos += n
        return v
    }

    private mutating func literal(_ s: StaticString) -> Bool {
        let n = s.utf8CodeUnitCount
        guard pos + n <= bytes.count else { return false }
        for i in 0..<n where bytes[pos + i] != s.utf8Start[i] { return false }
        pos += n
        return true
    }

    /// Index of the (case-sensitive) name at the current position.
    private mutating func name(_ names: [String]) -> Int? {
        for (index, candidate) in names.enumerated() {
            let n = candidate.utf8.count
            guard pos + n <= bytes.count else { continue }
            if candidate.utf8.elementsEqual(UnsafeRawBufferPointer(rebasing: bytes[pos..<(pos + n)])) {
                pos += n
                return index
            }
        }
        return nil
    }
}
