#if canImport(Glibc)
import Glibc
#endif

/// HTTP-date (RFC 9110 5.6.7) for the Date, Last-Modified and If-Modified-Since headers.
///
/// Formatting is done by hand (after `gmtime_r`) rather than with `strftime`, so the result
/// never depends on the process locale. Parsing accepts the preferred IMF-fixdate plus
/// the two obsolete forms recipients must still understand.
public enum HTTPDate {
    static let dayNames = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    static let longDayNames = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
    static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT", for seconds since the Unix epoch.
    public static func format(_ seconds: Int) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(29)
        append(seconds, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the IMF-fixdate bytes (29 of them).
    public static func append(_ seconds: Int, to out: inout [UInt8]) {
        var t = time_t(seconds)
        var tm = tm()
        _ = gmtime_r(&t, &tm)
        func two(_ v: Int32) {
            out.append(UInt8(0x30 + v / 10 % 10))
            out.append(UInt8(0x30 + v % 10))
        }
        out.append(contentsOf: dayNames[Int(tm.tm_wday) % 7].utf8)
        out.append(contentsOf: ", ".utf8)
        two(tm.tm_mday)
        out.append(ASCII.sp)
        out.append(contentsOf: monthNames[Int(tm.tm_mon) % 12].utf8)
        out.append(ASCII.sp)
        let year = Int(tm.tm_year) + 1900
        two(Int32(year / 100))
        two(Int32(year % 100))
        out.append(ASCII.sp)
        two(tm.tm_hour)
        out.append(ASCII.colon)
        two(tm.tm_min)
        out.append(ASCII.colon)
        two(tm.tm_sec)
        out.append(contentsOf: " GMT".utf8)
    }

    /// Seconds since the epoch for an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"),
    /// RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT"; two-digit years < 70 are 20xx) or asctime
    /// ("Sun Nov  6 08:49:37 1994") date; nil when it is none of them.
    public static func parse(_ s: String) -> Int? {
        var copy = s
        return copy.withUTF8 { buf -> Int? in
            var p = DateScanner(bytes: UnsafeRawBufferPointer(buf))
            return p.imfFixdate() ?? p.rfc850() ?? p.asctime()
        }
    }

    /// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's days_from_civil).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    static func epochSeconds(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) -> Int? {
        guard (1...12).contains(month), day >= 1, day <= daysInMonth(year: year, month: month),
              (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second) else { return nil }
        return daysFromCivil(year: year, month: month, day: day) * 86400 + hour * 3600 + minute * 60 + second
    }
}
