//! Schedule expressions as EventBridge rules and EventBridge Scheduler parse them:
//! `rate(5 minutes)`, `cron(0 12 ? * MON-FRI *)` (AWS's six fields: minutes hours
//! day-of-month month day-of-week year, with `*` `?` `,` `-` `/` `L` `W` `#`, month and day
//! names, days of week 1 = SUN … 7 = SAT) and `at(2030-01-01T09:00:00)`, evaluated in a time
//! zone. Services ask [`Schedule::next_after`] against nimbus's clock, so advancing the clock
//! fires them.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// Every `seconds`, counted from an anchor (the rule's or schedule's creation).
    Rate {
        seconds: i64,
    },
    Cron(Box<Cron>),
    /// Once, at this local date and time.
    At(NaiveDateTime),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cron {
    minutes: Vec<u32>,
    hours: Vec<u32>,
    days: DayRule,
    months: Vec<u32>,
    years: Option<Vec<i32>>,
}

#[derive(Debug, Clone, PartialEq)]
enum DayRule {
    /// Day-of-month rule; day-of-week is `?`.
    Month(MonthDays),
    /// Day-of-week rule; day-of-month is `?`.
    Week(WeekDays),
}

#[derive(Debug, Clone, PartialEq)]
enum MonthDays {
    Any,
    List(Vec<u32>),
    Last,
    /// `15W`: the weekday nearest the 15th (within the month).
    NearestWeekday(u32),
    /// `LW`: the last weekday of the month.
    LastWeekday,
}

#[derive(Debug, Clone, PartialEq)]
enum WeekDays {
    Any,
    /// 1 = SUN … 7 = SAT.
    List(Vec<u32>),
    /// `6L`: the last such weekday of the month.
    Last(u32),
    /// `3#2`: the second Tuesday.
    Nth(u32, u32),
}

impl Schedule {
    /// Parse an expression; the error says what is wrong.
    pub fn parse(expression: &str) -> Result<Schedule, String> {
        let e = expression.trim();
        if let Some(body) = e.strip_prefix("rate(").and_then(|s| s.strip_suffix(')')) {
            return parse_rate(body);
        }
        if let Some(body) = e.strip_prefix("cron(").and_then(|s| s.strip_suffix(')')) {
            return parse_cron(body).map(|c| Schedule::Cron(Box::new(c)));
        }
        if let Some(body) = e.strip_prefix("at(").and_then(|s| s.strip_suffix(')')) {
            return NaiveDateTime::parse_from_str(body, "%Y-%m-%dT%H:%M:%S")
                .map(Schedule::At)
                .map_err(|_| format!("invalid at() expression: {body}"));
        }
        Err(format!("not a schedule expression: {expression}"))
    }

    /// The first firing strictly after `after`. `anchor` starts a rate's count; `tz` is where
    /// cron and at expressions are read.
    pub fn next_after(&self, after: DateTime<Utc>, anchor: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Rate { seconds } => {
                let elapsed = (after - anchor).num_seconds();
                let periods = if elapsed < 0 { 0 } else { elapsed / seconds + 1 };
                Some(anchor + Duration::seconds(periods * seconds))
            }
            Schedule::At(local) => {
                let at = local_to_utc(tz, *local)?;
                (at > after).then_some(at)
            }
            Schedule::Cron(cron) => cron.next_after(after, tz),
        }
    }
}

pub fn parse_timezone(name: &str) -> Option<Tz> {
    name.parse::<Tz>().ok()
}

fn local_to_utc(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    tz.from_local_datetime(&local).earliest().map(|t| t.with_timezone(&Utc))
}

fn parse_rate(body: &str) -> Result<Schedule, String> {
    let mut parts = body.split_whitespace();
    let (Some(n), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("invalid rate() expression: {body}"));
    };
    let n: i64 = n.parse().ok().filter(|n| *n > 0).ok_or_else(|| format!("invalid rate value: {n}"))?;
    let unit_seconds = match (unit, n) {
        ("minute", 1) | ("minutes", _) => 60,
        ("hour", 1) | ("hours", _) => 3600,
        ("day", 1) | ("days", _) => 86400,
        _ => return Err(format!("invalid rate unit: {unit}")),
    };
    Ok(Schedule::Rate { seconds: n * unit_seconds })
}

const MONTHS: [&str; 12] = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn value(text: &str, names: &[&str], base: u32) -> Option<u32> {
    if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
        return Some(i as u32 + base);
    }
    text.parse().ok()
}

/// `*`, `a`, `a-b`, `a/s`, `*/s`, `a-b/s`, comma-separated, within `lo..=hi`.
fn field(text: &str, lo: u32, hi: u32, names: &[&str], base: u32) -> Result<Vec<u32>, String> {
    let bad = || format!("invalid cron field: {text}");
    let mut out = Vec::new();
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().ok().filter(|s| *s > 0).ok_or_else(bad)?),
            None => (part, 1),
        };
        let (start, end) = if range == "*" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a, names, base).ok_or_else(bad)?, value(b, names, base).ok_or_else(bad)?)
        } else {
            let v = value(range, names, base).ok_or_else(bad)?;
            (v, if part.contains('/') { hi } else { v })
        };
        if start < lo || end > hi || start > end {
            return Err(bad());
        }
        out.extend((start..=end).step_by(step as usize));
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

fn parse_cron(body: &str) -> Result<Cron, String> {
    let f: Vec<&str> = body.split_whitespace().collect();
    if f.len() != 6 {
        return Err(format!("a cron expression has six fields: {body}"));
    }
    let minutes = field(f[0], 0, 59, &[], 0)?;
    let hours = field(f[1], 0, 23, &[], 0)?;
    let months = field(f[3], 1, 12, &MONTHS, 1)?;
    let years =
        if f[5] == "*" { None } else { Some(field(f[5], 1970, 2199, &[], 0)?.into_iter().map(|y| y as i32).collect()) };
    // AWS requires exactly one of day-of-month and day-of-week to be `?`.
    let days = match (f[2], f[4]) {
        ("?", "?") => return Err("day-of-month and day-of-week cannot both be ?".into()),
        ("?", dow) => DayRule::Week(parse_week(dow)?),
        (dom, "?") => DayRule::Month(parse_month_days(dom)?),
        _ => return Err("one of day-of-month and day-of-week must be ?".into()),
    };
    Ok(Cron { minutes, hours, days, months, years })
}

fn parse_month_days(text: &str) -> Result<MonthDays, String> {
    Ok(match text {
        "*" => MonthDays::Any,
        "L" => MonthDays::Last,
        "LW" => MonthDays::LastWeekday,
        t if t.ends_with('W') => MonthDays::NearestWeekday(
            t[..t.len() - 1]
                .parse()
                .ok()
                .filter(|d| (1..=31).contains(d))
                .ok_or_else(|| format!("invalid day: {t}"))?,
        ),
        t => MonthDays::List(field(t, 1, 31, &[], 0)?),
    })
}

fn parse_week(text: &str) -> Result<WeekDays, String> {
    let day = |t: &str| value(t, &DAYS, 1).filter(|d| (1..=7).contains(d)).ok_or_else(|| format!("invalid day: {t}"));
    Ok(match text {
        "*" => WeekDays::Any,
        t if t.ends_with('L') && t.len() > 1 => WeekDays::Last(day(&t[..t.len() - 1])?),
        t if t.contains('#') => {
            let (d, n) = t.split_once('#').unwrap_or_default();
            let n: u32 = n.parse().ok().filter(|n| (1..=5).contains(n)).ok_or_else(|| format!("invalid #: {t}"))?;
            WeekDays::Nth(day(d)?, n)
        }
        t => WeekDays::List(field(t, 1, 7, &DAYS, 1)?),
    })
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let next =
        if month == 12 { NaiveDate::from_ymd_opt(year + 1, 1, 1) } else { NaiveDate::from_ymd_opt(year, month + 1, 1) };
    next.and_then(|n| n.pred_opt()).map_or(28, |d| d.day())
}

fn is_weekday(d: NaiveDate) -> bool {
    d.weekday().number_from_monday() <= 5
}

impl Cron {
    fn day_matches(&self, d: NaiveDate) -> bool {
        let last = days_in_month(d.year(), d.month());
        let dow = d.weekday().number_from_sunday(); // 1 = SUN
        match &self.days {
            DayRule::Month(MonthDays::Any) | DayRule::Week(WeekDays::Any) => true,
            DayRule::Month(MonthDays::List(l)) => l.contains(&d.day()),
            DayRule::Month(MonthDays::Last) => d.day() == last,
            DayRule::Month(MonthDays::LastWeekday) => {
                let mut t = d.with_day(last).unwrap_or(d);
                while !is_weekday(t) {
                    t = t.pred_opt().unwrap_or(t);
                }
                t == d
            }
            DayRule::Month(MonthDays::NearestWeekday(n)) => {
                let Some(target) = d.with_day((*n).min(last)) else { return false };
                let nearest = if is_weekday(target) {
                    target
                } else if target.weekday() == chrono::Weekday::Sat {
                    if target.day() == 1 {
                        target + Duration::days(2)
                    } else {
                        target - Duration::days(1)
                    }
                } else if target.day() == last {
                    target - Duration::days(2)
                } else {
                    target + Duration::days(1)
                };
                nearest == d
            }
            DayRule::Week(WeekDays::List(l)) => l.contains(&dow),
            DayRule::Week(WeekDays::Last(day)) => dow == *day && d.day() + 7 > last,
            DayRule::Week(WeekDays::Nth(day, n)) => dow == *day && (d.day() - 1) / 7 + 1 == *n,
        }
    }

    fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let local_after = after.with_timezone(&tz).naive_local();
        let mut day = local_after.date();
        // Five years of days covers every expression that fires at all (a 29 February too).
        for _ in 0..(366 * 5) {
            let year_ok = self.years.as_ref().map_or(true, |y| y.contains(&day.year()));
            if year_ok && self.months.contains(&day.month()) && self.day_matches(day) {
                for &h in &self.hours {
                    for &m in &self.minutes {
                        let Some(local) = day.and_hms_opt(h, m, 0) else { continue };
                        if let Some(utc) = local_to_utc(tz, local) {
                            if utc > after {
                                return Some(utc);
                            }
                        }
                    }
                }
            }
            day = day.succ_opt()?;
        }
        None
    }
}

/// Seconds-precision ISO time as EventBridge writes `time` (`2024-01-01T00:00:00Z`).
pub fn event_time(t: DateTime<Utc>) -> String {
    t.with_nanosecond(0).unwrap_or(t).format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn next(expr: &str, after: &str) -> String {
        Schedule::parse(expr)
            .unwrap()
            .next_after(utc(after), utc(after), Tz::UTC)
            .map(|t| t.to_rfc3339())
            .unwrap_or_default()
    }

    #[test]
    fn rates_count_from_the_anchor() {
        let s = Schedule::parse("rate(5 minutes)").unwrap();
        let anchor = utc("2030-01-01T00:00:00Z");
        assert_eq!(s.next_after(anchor, anchor, Tz::UTC), Some(utc("2030-01-01T00:05:00Z")));
        assert_eq!(s.next_after(utc("2030-01-01T00:05:00Z"), anchor, Tz::UTC), Some(utc("2030-01-01T00:10:00Z")));
        assert!(Schedule::parse("rate(1 minutes)").is_ok());
        assert!(Schedule::parse("rate(5 minute)").is_err());
        assert!(Schedule::parse("rate(0 minutes)").is_err());
        assert!(Schedule::parse("rate(1 hour)").is_ok());
    }

    #[test]
    fn cron_fields() {
        assert_eq!(next("cron(0 12 * * ? *)", "2030-01-01T12:00:00Z"), "2030-01-02T12:00:00+00:00");
        assert_eq!(next("cron(0/15 * * * ? *)", "2030-01-01T12:07:00Z"), "2030-01-01T12:15:00+00:00");
        // 2030-01-01 is a Tuesday; MON-FRI at 08:30.
        assert_eq!(next("cron(30 8 ? * MON-FRI *)", "2030-01-04T09:00:00Z"), "2030-01-07T08:30:00+00:00");
        assert_eq!(next("cron(0 0 L * ? *)", "2030-02-01T00:00:00Z"), "2030-02-28T00:00:00+00:00");
        // The second Tuesday of January 2030 is the 8th; the last Friday the 25th.
        assert_eq!(next("cron(0 9 ? * 3#2 *)", "2030-01-01T00:00:00Z"), "2030-01-08T09:00:00+00:00");
        assert_eq!(next("cron(0 9 ? * 6L *)", "2030-01-01T00:00:00Z"), "2030-01-25T09:00:00+00:00");
        // 2030-06-15 is a Saturday: 15W is Friday the 14th. LW of June 2030 is Friday the 28th.
        assert_eq!(next("cron(0 9 15W * ? *)", "2030-06-01T00:00:00Z"), "2030-06-14T09:00:00+00:00");
        assert_eq!(next("cron(0 9 LW * ? *)", "2030-06-01T00:00:00Z"), "2030-06-28T09:00:00+00:00");
        assert_eq!(next("cron(0 0 1 JAN ? 2031)", "2030-06-01T00:00:00Z"), "2031-01-01T00:00:00+00:00");
        assert!(Schedule::parse("cron(0 12 * * * *)").is_err(), "both day fields set");
        assert!(Schedule::parse("cron(0 12 * *)").is_err());
        assert!(Schedule::parse("cron(61 12 * * ? *)").is_err());
    }

    #[test]
    fn timezones_and_at() {
        let tz = parse_timezone("America/New_York").unwrap();
        let s = Schedule::parse("cron(0 9 * * ? *)").unwrap();
        let after = utc("2030-01-01T00:00:00Z");
        assert_eq!(s.next_after(after, after, tz), Some(utc("2030-01-01T14:00:00Z")));
        let summer = utc("2030-07-01T00:00:00Z");
        assert_eq!(s.next_after(summer, summer, tz), Some(utc("2030-07-01T13:00:00Z")));
        let at = Schedule::parse("at(2030-03-01T10:00:00)").unwrap();
        assert_eq!(at.next_after(after, after, Tz::UTC), Some(utc("2030-03-01T10:00:00Z")));
        assert_eq!(at.next_after(utc("2030-03-01T10:00:00Z"), after, Tz::UTC), None);
        assert!(parse_timezone("Mars/Olympus").is_none());
    }
}
