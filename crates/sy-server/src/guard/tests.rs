//! The pure side of the guardrails, with the clock passed in.

use super::*;

/// Unix seconds of a UTC date-time.
fn at(s: &str) -> i64 {
    parse_rfc3339(s).unwrap()
}

#[test]
fn rfc3339_is_read_with_offsets_and_fractions_and_refused_when_malformed() {
    assert_eq!(at("1970-01-01T00:00:00Z"), 0);
    assert_eq!(at("2026-12-04T22:07:01Z"), 1_796_422_021);
    assert_eq!(
        at("2026-12-05T00:07:01.250+02:00"),
        at("2026-12-04T22:07:01Z")
    );
    assert_eq!(at("2026-12-04T20:07:01-02:00"), at("2026-12-04T22:07:01Z"));
    for bad in [
        "",
        "2026-12-04",
        "2026-13-01T00:00:00Z",
        "2026-02-29T00:00:00Z",
        "2026-12-04T25:00:00Z",
        "2026-12-04T22:07:01",
        "2026-12-04T22:07:01+0200",
        "tomorrow",
        "2026-12-04T22:07:01.Z",
    ] {
        assert_eq!(parse_rfc3339(bad), None, "{bad}");
    }
    assert!(
        parse_rfc3339("2028-02-29T12:00:00Z").is_some(),
        "a leap day"
    );
}

#[test]
fn the_day_starts_at_utc_midnight() {
    let d = Period::Daily;
    assert_eq!(
        d.start(at("2026-12-04T23:59:59Z")),
        at("2026-12-04T00:00:00Z")
    );
    assert_eq!(
        d.start(at("2026-12-05T00:00:00Z")),
        at("2026-12-05T00:00:00Z")
    );
    assert_eq!(
        d.start(at("2026-12-05T00:00:01Z")),
        at("2026-12-05T00:00:00Z")
    );
}

#[test]
fn the_week_starts_on_monday_as_iso_weeks_do() {
    let w = Period::Weekly;
    // 2026-11-30 is a Monday; 2026-12-06 a Sunday
    assert_eq!(
        w.start(at("2026-12-06T23:59:59Z")),
        at("2026-11-30T00:00:00Z")
    );
    assert_eq!(
        w.start(at("2026-12-07T00:00:00Z")),
        at("2026-12-07T00:00:00Z")
    );
    assert_eq!(
        w.start(at("2026-12-04T12:00:00Z")),
        at("2026-11-30T00:00:00Z")
    );
    // across a year: 2027-01-01 is a Friday, its ISO week began Monday 2026-12-28
    assert_eq!(
        w.start(at("2027-01-01T08:00:00Z")),
        at("2026-12-28T00:00:00Z")
    );
    // the epoch was a Thursday
    assert_eq!(w.start(0), at("1969-12-29T00:00:00Z"));
}

#[test]
fn the_month_starts_on_the_first() {
    let m = Period::Monthly;
    assert_eq!(
        m.start(at("2026-01-31T23:59:59Z")),
        at("2026-01-01T00:00:00Z")
    );
    assert_eq!(
        m.start(at("2026-02-01T00:00:00Z")),
        at("2026-02-01T00:00:00Z")
    );
    assert_eq!(
        m.start(at("2028-02-29T10:00:00Z")),
        at("2028-02-01T00:00:00Z")
    );
    assert_eq!(
        m.start(at("2028-03-01T00:00:00Z")),
        at("2028-03-01T00:00:00Z")
    );
    assert_eq!(
        m.start(at("2026-12-31T23:59:59Z")),
        at("2026-12-01T00:00:00Z")
    );
    assert_eq!(
        m.start(at("2027-01-01T00:00:00Z")),
        at("2027-01-01T00:00:00Z")
    );
}

/// The store is read at one moment; later charges carry the figures forward; a boundary
/// after the read starts the period again from the charges made since.
#[test]
fn period_figures_carry_forward_and_restart_at_a_boundary() {
    let read = at("2026-12-06T23:59:00Z"); // a Sunday, the week's and day's last minute
    let book = PeriodBook {
        starts: period_starts(read),
        since: [1.0, 5.0, 9.0],
        base_total: 20.0,
    };
    // 0.5 USD charged since the read, same day
    assert_eq!(book.at(read + 30, 20.5), [1.5, 5.5, 9.5]);
    // Monday: a new day and a new ISO week, the same month
    assert_eq!(book.at(at("2026-12-07T00:00:00Z"), 20.5), [0.5, 0.5, 9.5]);
    // a total below the store's (a stale local figure) never lowers the store's
    assert_eq!(book.at(read, 19.0), [1.0, 5.0, 9.0]);
    // a limit counts its period, or everything without a reset
    assert_eq!(book.counted(None, read, 20.5), 20.5);
    assert_eq!(book.counted(Some(Period::Weekly), read, 20.5), 5.5);
    assert_eq!(book.counted(Some(Period::Monthly), read, 20.5), 9.5);
}

/// A key created in the middle of a month, a week and a day: its records are all it has, so
/// each period counts them from its creation; the next month starts again at 0.
#[test]
fn a_key_created_mid_period_counts_from_its_creation() {
    let created = at("2026-12-16T13:00:00Z"); // a Wednesday
    let read = created + 3600;
    // its records: 0.25 at creation + 10 min, 0.5 at + 50 min
    let records = [(created + 600, 0.25), (created + 3000, 0.5)];
    let starts = period_starts(read);
    let mut since = [0.0; 3];
    for (i, s) in starts.iter().enumerate() {
        since[i] = records.iter().filter(|(t, _)| t >= s).map(|(_, c)| c).sum();
    }
    let book = PeriodBook {
        starts,
        since,
        base_total: 0.75,
    };
    assert_eq!(book.at(read, 0.75), [0.75, 0.75, 0.75]);
    assert_eq!(book.at(at("2026-12-17T00:00:00Z"), 1.0), [0.25, 1.0, 1.0]);
    assert_eq!(book.at(at("2027-01-01T00:00:00Z"), 1.0), [0.25, 0.25, 0.25]);
}

#[test]
fn globs_match_ids_with_slashes() {
    assert!(glob_match("anthropic/*", "anthropic/claude-sonnet-4"));
    assert!(!glob_match("anthropic/*", "openai/gpt-4o"));
    assert!(glob_match("*", "x/y"));
    assert!(glob_match("openai/gpt-4*", "openai/gpt-4o-mini"));
    assert!(glob_match("*mini", "openai/gpt-4o-mini"));
    assert!(glob_match("test/m", "test/m"));
    assert!(!glob_match("test/m", "test/mm"));
    assert!(glob_match("a*b*c", "a-x-b-y-c"));
    assert!(!glob_match("a*b*c", "a-x-b-y-d"));
}

#[test]
fn the_token_window_reserves_settles_and_slides() {
    let mut w = TokenWindow::default();
    let t0 = 1_000;
    assert!(w.reserve(t0, 600, 1_000).is_ok());
    // 600 reserved: 500 more do not fit; they would once the first second leaves the minute
    assert_eq!(w.reserve(t0 + 10, 500, 1_000), Err(50.0));
    // the request really used 200: room again
    w.settle(t0, 600, 200);
    assert_eq!(w.used(t0 + 10), 200);
    assert!(w.reserve(t0 + 10, 500, 1_000).is_ok());
    assert_eq!(w.used(t0 + 10), 700);
    // a minute later the first second has left the window
    assert_eq!(w.used(t0 + 60), 500);
    assert_eq!(w.used(t0 + 70), 0);
    // a settlement that arrives after its second left the window changes nothing
    w.settle(t0, 600, 900);
    assert_eq!(w.used(t0 + 70), 0);
}
