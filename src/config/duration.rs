//! The one duration grammar of the program: `30s`, `90m`, `24h`, `7d`, `2w`, and sums of them
//! such as `1d12h`.
//!
//! The configuration (`[dns] cache_ttl`) and the command line (`report --since`,
//! `setup --scan-interval`) share it, so that a span that works in one place works in the other
//! and both reject the same mistakes with the same message. Every value fits in an `i64` of
//! seconds, so that callers can hand it to `jiff` or to SQL without a second overflow check.

use std::fmt;
use std::str::FromStr;

/// A length of time in whole seconds, written `90m`, `1d12h`, `2w`, ...
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct Duration {
    secs: u64,
}

/// The units, largest first (the order [`Duration`]'s `Display` writes them in).
const UNITS: [(char, u64); 5] = [('w', 7 * 86_400), ('d', 86_400), ('h', 3600), ('m', 60), ('s', 1)];

/// What a duration must look like, for messages.
const EXAMPLES: &str = "use e.g. 24h, 90m, 1d12h, 2w";

/// Why some text is not an acceptable duration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Nothing was written.
    #[error("an empty value is not a duration ({EXAMPLES})")]
    Empty,
    /// Not made of number-and-unit pairs.
    #[error("{text:?} is not a duration ({EXAMPLES})")]
    Syntax {
        /// The text as given.
        text: String,
    },
    /// A number without a unit, where a unit is required.
    #[error("{text:?} has no unit ({EXAMPLES}; units are s, m, h, d and w)")]
    NoUnit {
        /// The text as given.
        text: String,
    },
    /// A letter that is not one of the units.
    #[error("{text:?} is not a duration: unknown unit {unit:?} (units are s, m, h, d and w; {EXAMPLES})")]
    Unit {
        /// The text as given.
        text: String,
        /// The unknown unit.
        unit: String,
    },
    /// More seconds than an `i64` holds.
    #[error("{text:?} is too long a duration")]
    Overflow {
        /// The text as given.
        text: String,
    },
    /// Zero, where a period of time is needed.
    #[error("{text:?} is an empty span of time; give at least 1s")]
    Zero {
        /// The text as given.
        text: String,
    },
    /// Longer than the place it is used in allows.
    #[error("{text:?} is too long; use at most {max}")]
    TooLong {
        /// The text as given.
        text: String,
        /// The longest accepted.
        max: Duration,
    },
}

impl Duration {
    /// The longest duration: `i64::MAX` seconds, so that conversions to signed seconds never fail.
    pub const MAX: Duration = Duration { secs: i64::MAX as u64 };

    /// `secs` seconds, at most [`Duration::MAX`].
    pub const fn from_secs(secs: u64) -> Duration {
        Duration { secs: if secs > Duration::MAX.secs { Duration::MAX.secs } else { secs } }
    }

    /// Whole seconds.
    pub const fn as_secs(self) -> u64 {
        self.secs
    }

    /// Whole seconds, signed (never negative, and lossless by construction).
    pub const fn as_secs_i64(self) -> i64 {
        self.secs as i64
    }

    /// As a standard library duration.
    pub const fn to_std(self) -> std::time::Duration {
        std::time::Duration::from_secs(self.secs)
    }

    /// Parses the grammar as the configuration takes it: as on the command line, or a bare number
    /// of seconds (`3600`), which configuration files have always been allowed to write.
    pub fn parse_config(text: &str) -> Result<Duration, DurationError> {
        let t = text.trim();
        if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
            return match t.parse::<u64>() {
                Ok(secs) if secs <= Duration::MAX.secs => Ok(Duration { secs }),
                _ => Err(DurationError::Overflow { text: text.to_string() }),
            };
        }
        text.parse()
    }

    /// Parses a duration that must be at least one second and at most `max` (for command line
    /// spans such as `report --since`, where zero or an absurd length is a typing mistake).
    pub fn parse_within(text: &str, max: Duration) -> Result<Duration, DurationError> {
        let d: Duration = text.parse()?;
        if d.secs == 0 {
            return Err(DurationError::Zero { text: text.to_string() });
        }
        if d > max {
            return Err(DurationError::TooLong { text: text.to_string(), max });
        }
        Ok(d)
    }
}

impl FromStr for Duration {
    type Err = DurationError;

    /// Number-and-unit pairs (`s`, `m`, `h`, `d`, `w`), summed; spaces between them are allowed,
    /// but no other blank, so that a value never spans lines of a unit file.
    /// A bare number is refused: `--since 24` is more likely a forgotten `h` than 24 seconds.
    fn from_str(text: &str) -> Result<Duration, DurationError> {
        let syntax = || DurationError::Syntax { text: text.to_string() };
        let overflow = || DurationError::Overflow { text: text.to_string() };
        let mut rest = text.trim();
        if rest.is_empty() {
            return Err(DurationError::Empty);
        }
        let mut total: u64 = 0;
        while !rest.is_empty() {
            let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            if digits == 0 {
                return Err(syntax());
            }
            let n: u64 = rest[..digits].parse().map_err(|_| overflow())?;
            rest = rest[digits..].trim_start_matches(' ');
            let letters = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_alphabetic()).len();
            if letters == 0 {
                return Err(if rest.is_empty() { DurationError::NoUnit { text: text.to_string() } } else { syntax() });
            }
            let unit = &rest[..letters];
            let Some(&(_, scale)) = UNITS.iter().find(|(u, _)| unit.len() == 1 && unit.starts_with(*u)) else {
                return Err(DurationError::Unit { text: text.to_string(), unit: unit.to_string() });
            };
            total = n.checked_mul(scale).and_then(|v| total.checked_add(v)).ok_or_else(overflow)?;
            rest = rest[letters..].trim_start_matches(' ');
        }
        if total > Duration::MAX.secs {
            return Err(overflow());
        }
        Ok(Duration { secs: total })
    }
}

impl TryFrom<String> for Duration {
    type Error = DurationError;

    fn try_from(text: String) -> Result<Duration, DurationError> {
        Duration::parse_config(&text)
    }
}

impl fmt::Display for Duration {
    /// The shortest spelling in the grammar (`1d12h`, `2w`, `0s`), which parses back to the same
    /// value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.secs == 0 {
            return f.write_str("0s");
        }
        let mut rest = self.secs;
        for (unit, scale) in UNITS {
            if rest >= scale {
                write!(f, "{}{unit}", rest / scale)?;
                rest %= scale;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
