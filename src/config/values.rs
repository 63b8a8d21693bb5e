//! Configuration values that are text in the file but something else to the program: time zones
//! and name server addresses.
//!
//! Each parses once, when the file is loaded (serde reads straight into the typed value), so a bad
//! value stops the program before any work with a message naming the key, and no consumer parses
//! the text again or has to decide what to do with a value that does not parse.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use jiff::tz::TimeZone;
use serde::{Deserialize, Deserializer};

/// A time zone as configured: an IANA name (`Europe/Paris`), `UTC`, or `system`.
#[derive(Clone, Debug, Deserialize)]
#[serde(try_from = "String")]
pub struct Zone {
    tz: TimeZone,
    name: String,
}

/// Why a time zone name was refused.
#[derive(Debug, thiserror::Error)]
#[error("unknown time zone {name:?} ({source}); use an IANA name such as \"Europe/Paris\", \"UTC\" or \"system\"")]
pub struct ZoneError {
    /// The name as given.
    pub name: String,
    /// Why `jiff` does not know it.
    pub source: jiff::Error,
}

impl Zone {
    /// The machine's zone, named `system`.
    pub fn system() -> Zone {
        Zone { tz: TimeZone::system(), name: "system".into() }
    }

    /// The zone.
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// The name as written (`system` for the machine's zone).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The zone and its name, taken apart.
    pub fn into_parts(self) -> (TimeZone, String) {
        (self.tz, self.name)
    }
}

impl FromStr for Zone {
    type Err = ZoneError;

    fn from_str(name: &str) -> Result<Zone, ZoneError> {
        if name == "system" {
            return Ok(Zone::system());
        }
        match TimeZone::get(name) {
            Ok(tz) => Ok(Zone { tz, name: name.to_string() }),
            Err(source) => Err(ZoneError { name: name.to_string(), source }),
        }
    }
}

impl TryFrom<String> for Zone {
    type Error = ZoneError;

    fn try_from(name: String) -> Result<Zone, ZoneError> {
        name.parse()
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// Reads a number and checks that it is within `MIN..=MAX`, so that an out-of-range value is
/// reported like any other bad value, with its line.
pub fn within<'de, D, T, const MIN: u64, const MAX: u64>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Copy + fmt::Display + TryInto<u64>,
{
    let value = T::deserialize(d)?;
    match value.try_into() {
        Ok(n) if (MIN..=MAX).contains(&n) => Ok(value),
        _ if MAX == u64::MAX => Err(serde::de::Error::custom(format!("{value} is too small; use at least {MIN}"))),
        _ if MIN == 0 => Err(serde::de::Error::custom(format!("{value} is too large; use at most {MAX}"))),
        _ => Err(serde::de::Error::custom(format!("{value} is out of range; use {MIN} to {MAX}"))),
    }
}

/// Reads a list that must not be empty.
pub fn non_empty<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let list = Vec::<T>::deserialize(d)?;
    if list.is_empty() {
        return Err(serde::de::Error::custom("the list is empty; name at least one"));
    }
    Ok(Some(list))
}

/// Reads `[journal] units`: at least one unit, each a name or pattern without spaces or commas.
pub fn units<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let list = Vec::<String>::deserialize(d)?;
    if list.is_empty() {
        return Err(serde::de::Error::custom(
            "the list is empty; name at least one unit, or leave `units` out for Postfix's and Dovecot's",
        ));
    }
    if let Some(bad) = list.iter().find(|u| u.is_empty() || u.contains(|c: char| c.is_whitespace() || c == ',')) {
        return Err(serde::de::Error::custom(format!(
            "{bad:?} is not a unit name; write e.g. \"postfix@*.service\" (`*` matches any text)"
        )));
    }
    Ok(list)
}

/// Reads a text that must not be blank.
pub fn not_blank<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let text = String::deserialize(d)?;
    if text.trim().is_empty() {
        return Err(serde::de::Error::custom("must not be empty"));
    }
    Ok(Some(text))
}

/// Why a name server address was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not an address; write \"192.0.2.53\", \"127.0.0.1:5353\" or \"[2001:db8::53]:53\"")]
pub struct NameServerError {
    /// The text as given.
    pub text: String,
}

/// Parses a name server as `IP` (port 53) or `IP:PORT` / `[IPv6]:PORT`. Host names are refused:
/// resolving the resolver would need a resolver.
pub fn parse_nameserver(text: &str) -> Result<SocketAddr, NameServerError> {
    let t = text.trim();
    if let Ok(ip) = t.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    t.parse().map_err(|_| NameServerError { text: text.to_string() })
}

/// Reads a list of name servers (`[dns] nameservers`) with [`parse_nameserver`].
pub fn deserialize_nameservers<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SocketAddr>, D::Error> {
    let texts = Vec::<String>::deserialize(d)?;
    texts.iter().map(|t| parse_nameserver(t).map_err(serde::de::Error::custom)).collect()
}

/// An address or network as written in an allow list: `192.0.2.7`, `192.0.2.0/24`,
/// `2001:db8::/32` (host bits are dropped: `192.0.2.7/24` is `192.0.2.0/24`).
pub fn parse_net(text: &str) -> Result<ipnet::IpNet, String> {
    let text = text.trim();
    if let Ok(ip) = text.parse::<std::net::IpAddr>() {
        return Ok(ipnet::IpNet::from(ip));
    }
    text.parse::<ipnet::IpNet>().map(|n| n.trunc()).map_err(|_| {
        format!("`{text}` is not an address or network; write e.g. 192.0.2.7, 192.0.2.0/24 or 2001:db8::/32")
    })
}

/// Reads a list of addresses and networks ([`parse_net`]).
pub fn nets<'de, D>(d: D) -> Result<Vec<ipnet::IpNet>, D::Error>
where
    D: Deserializer<'de>,
{
    Vec::<String>::deserialize(d)?.iter().map(|t| parse_net(t).map_err(serde::de::Error::custom)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_are_named_or_the_system_one() {
        let z: Zone = "Europe/Paris".parse().unwrap();
        assert_eq!((z.name(), z.time_zone().iana_name()), ("Europe/Paris", Some("Europe/Paris")));
        assert_eq!("system".parse::<Zone>().unwrap().name(), "system");
        let e = "Mars/Olympus".parse::<Zone>().unwrap_err().to_string();
        assert!(e.contains("Mars/Olympus") && e.contains("IANA"), "{e}");
    }

    #[test]
    fn name_servers_default_to_port_53() {
        assert_eq!(parse_nameserver("127.0.0.1:5353"), Ok(SocketAddr::from(([127, 0, 0, 1], 5353))));
        assert_eq!(parse_nameserver("::1"), Ok("[::1]:53".parse().unwrap()));
        assert_eq!(parse_nameserver(" 192.0.2.53 "), Ok("192.0.2.53:53".parse().unwrap()));
        assert!(parse_nameserver("localhost").is_err());
        assert!(parse_nameserver("").is_err());
    }
}
