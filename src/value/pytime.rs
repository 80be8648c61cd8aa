//! YAML timestamps as PyYAML makes them: `datetime.date` for a bare date, and
//! `datetime.datetime` (with a fixed offset when the text has one) otherwise. Ansible
//! prints them three ways: `str()` in templates (`2001-12-14 21:59:43.100000-05:00`),
//! `isoformat()` in JSON (a `T` between date and time), and `repr()` inside containers.

use std::fmt::Write as _;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Timestamp {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    /// None for a `datetime.date`.
    pub time: Option<TimeOfDay>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct TimeOfDay {
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub microsecond: u32,
    /// The UTC offset in seconds, when the text gave one.
    pub offset: Option<i32>,
}

impl Timestamp {
    /// Python's type name: `date` or `datetime`.
    pub(crate) fn type_name(&self) -> &'static str {
        if self.time.is_some() {
            "datetime"
        } else {
            "date"
        }
    }

    /// `str()`: the ISO form with a space between date and time.
    pub(crate) fn py_str(&self) -> String {
        self.iso(' ')
    }

    /// `isoformat()`, which Ansible's JSON encoder writes.
    pub(crate) fn isoformat(&self) -> String {
        self.iso('T')
    }

    fn iso(&self, sep: char) -> String {
        let mut out = format!("{:04}-{:02}-{:02}", self.year, self.month, self.day);
        if let Some(t) = &self.time {
            let _ = write!(out, "{sep}{:02}:{:02}:{:02}", t.hour, t.minute, t.second);
            if t.microsecond != 0 {
                let _ = write!(out, ".{:06}", t.microsecond);
            }
            if let Some(off) = t.offset {
                let sign = if off < 0 { '-' } else { '+' };
                let a = off.unsigned_abs();
                let _ = write!(out, "{sign}{:02}:{:02}", a / 3600, a % 3600 / 60);
                if a % 60 != 0 {
                    let _ = write!(out, ":{:02}", a % 60);
                }
            }
        }
        out
    }

    /// `repr()`: `datetime.date(2001, 12, 14)`, `datetime.datetime(2001, 12, 14, 21, 59,
    /// 43, 100000, tzinfo=...)` with trailing zero seconds and microseconds left out.
    pub(crate) fn py_repr(&self) -> String {
        let Some(t) = &self.time else {
            return format!("datetime.date({}, {}, {})", self.year, self.month, self.day);
        };
        let mut parts = vec![
            i64::from(self.year),
            i64::from(self.month),
            i64::from(self.day),
            i64::from(t.hour),
            i64::from(t.minute),
            i64::from(t.second),
            i64::from(t.microsecond),
        ];
        for _ in 0..2 {
            if parts.last() == Some(&0) {
                parts.pop();
            }
        }
        let args: Vec<String> = parts.iter().map(i64::to_string).collect();
        let mut out = format!("datetime.datetime({}", args.join(", "));
        match t.offset {
            None => {}
            Some(0) => out.push_str(", tzinfo=datetime.timezone.utc"),
            Some(off) => {
                let _ = write!(out, ", tzinfo=datetime.timezone({})", timedelta_repr(off));
            }
        }
        out.push(')');
        out
    }

    /// The `datetime` attributes templates may read.
    pub(crate) fn attribute(&self, name: &str) -> Option<i64> {
        let t = self.time.as_ref();
        Some(match name {
            "year" => i64::from(self.year),
            "month" => i64::from(self.month),
            "day" => i64::from(self.day),
            "hour" => i64::from(t?.hour),
            "minute" => i64::from(t?.minute),
            "second" => i64::from(t?.second),
            "microsecond" => i64::from(t?.microsecond),
            _ => return None,
        })
    }

    /// As a chrono value, for `strftime`.
    pub(crate) fn to_chrono(&self) -> Option<chrono::NaiveDateTime> {
        let date = chrono::NaiveDate::from_ymd_opt(self.year, self.month, self.day)?;
        let t = self.time.as_ref();
        date.and_hms_micro_opt(
            t.map_or(0, |t| t.hour),
            t.map_or(0, |t| t.minute),
            t.map_or(0, |t| t.second),
            t.map_or(0, |t| t.microsecond),
        )
    }
}

/// `repr(datetime.timedelta(seconds=off))`, normalised as Python does (days may be -1).
fn timedelta_repr(off: i32) -> String {
    let days = off.div_euclid(86_400);
    let seconds = off.rem_euclid(86_400);
    match (days, seconds) {
        (0, s) => format!("datetime.timedelta(seconds={s})"),
        (d, 0) => format!("datetime.timedelta(days={d})"),
        (d, s) => format!("datetime.timedelta(days={d}, seconds={s})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(offset: Option<i32>, micro: u32, second: u32) -> Timestamp {
        Timestamp {
            year: 2001,
            month: 12,
            day: 14,
            time: Some(TimeOfDay {
                hour: 21,
                minute: 59,
                second,
                microsecond: micro,
                offset,
            }),
        }
    }

    #[test]
    fn python_spellings() {
        let t = ts(Some(-5 * 3600), 100_000, 43);
        assert_eq!(t.py_str(), "2001-12-14 21:59:43.100000-05:00");
        assert_eq!(t.isoformat(), "2001-12-14T21:59:43.100000-05:00");
        assert_eq!(
            t.py_repr(),
            "datetime.datetime(2001, 12, 14, 21, 59, 43, 100000, tzinfo=datetime.timezone(datetime.timedelta(days=-1, seconds=68400)))"
        );
        assert_eq!(
            ts(Some(0), 0, 0).py_repr(),
            "datetime.datetime(2001, 12, 14, 21, 59, tzinfo=datetime.timezone.utc)"
        );
        assert_eq!(
            ts(Some(19_800), 0, 5).py_repr(),
            "datetime.datetime(2001, 12, 14, 21, 59, 5, tzinfo=datetime.timezone(datetime.timedelta(seconds=19800)))"
        );
        assert_eq!(ts(None, 0, 0).py_str(), "2001-12-14 21:59:00");
        let d = Timestamp {
            year: 2024,
            month: 1,
            day: 2,
            time: None,
        };
        assert_eq!(d.py_repr(), "datetime.date(2024, 1, 2)");
        assert_eq!(d.isoformat(), "2024-01-02");
    }
}
