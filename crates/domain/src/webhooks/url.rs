//! [`WebhookUrl`]: where a webhook endpoint receives its POSTs, parsed once (parse, don't
//! validate).
//!
//! The accepted shape is deliberately narrow: `https://host[:port][/path][?query]`, with plain
//! `http` only towards the local machine (development and tests), no credentials in the URL (they
//! would end up in logs and in the console), no fragment (it is never sent), and printable ASCII
//! only (anything else must be percent-encoded). Hosts are DNS names or IP literals; IP literals
//! that can never be a web server of the vendor's consumer (unspecified, link-local — the cloud
//! metadata address —, multicast, broadcast) are refused. Whether a *name* resolves to a private
//! address is only known when connecting, so the sending adapter guards that (ADR 0008).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::values::ValueError;

const URL_MAX: usize = 2048;
const HOST_MAX: usize = 253;
const LABEL_MAX: usize = 63;
const URL_EXPECTED: &str = "an https URL such as https://example.com/hooks/roster";
const HTTP_EXPECTED: &str = "https (plain http only for localhost, 127.0.0.1 or [::1])";
const HOST_EXPECTED: &str = "a host name or a public IP address";
const PORT_EXPECTED: &str = "a port between 1 and 65535";
const CREDENTIALS_EXPECTED: &str = "a URL without user name or password";
const FRAGMENT_EXPECTED: &str = "a URL without a #fragment";

/// An endpoint URL, normalized: lower-case scheme and host, no default port, a path of at least
/// `/`. Serializes as its string and deserializes through [`WebhookUrl::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WebhookUrl(String);

impl WebhookUrl {
    /// Parses and normalizes an endpoint URL.
    ///
    /// # Errors
    /// [`ValueError::Empty`] for a blank input, [`ValueError::TooLong`] beyond 2048 characters,
    /// [`ValueError::InvalidFormat`] for anything else that is not an accepted URL (the
    /// `expected` text says what was wrong: the scheme, the host, the port, credentials, a
    /// fragment).
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(ValueError::Empty);
        }
        if input.chars().count() > URL_MAX {
            return Err(ValueError::TooLong { max: URL_MAX });
        }
        let invalid = |expected| ValueError::InvalidFormat { expected };
        if !input.chars().all(|c| c.is_ascii_graphic()) {
            return Err(invalid(URL_EXPECTED));
        }
        if input.contains('#') {
            return Err(invalid(FRAGMENT_EXPECTED));
        }
        let (scheme, rest) = input.split_once("://").ok_or(invalid(URL_EXPECTED))?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "https" => 443,
            "http" => 80,
            _ => return Err(invalid(URL_EXPECTED)),
        };
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path_and_query) = rest.split_at(authority_end);
        if authority.contains('@') {
            return Err(invalid(CREDENTIALS_EXPECTED));
        }
        let (host, port) = split_host_port(authority)?;
        let host = Host::parse(host)?;
        if scheme == "http" && !host.is_loopback() {
            return Err(invalid(HTTP_EXPECTED));
        }
        let port = match port {
            Some(p) if p != default_port => format!(":{p}"),
            _ => String::new(),
        };
        let path_and_query = match path_and_query {
            "" => "/".to_owned(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_owned(),
        };
        Ok(Self(format!("{scheme}://{host}{port}{path_and_query}")))
    }

    /// The normalized URL.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the URL is `https` (the other accepted scheme is plain `http`).
    pub fn is_https(&self) -> bool {
        self.0.starts_with("https://")
    }

    /// The host as written in the URL: a lower-case name, an IPv4 literal or a bracketed IPv6
    /// literal.
    pub fn host(&self) -> &str {
        let rest = self.0.split_once("://").map_or(self.0.as_str(), |(_, rest)| rest);
        let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
        match authority.strip_prefix('[') {
            Some(v6) => &authority[..v6.find(']').map_or(authority.len(), |end| end + 2)],
            None => authority.rsplit_once(':').map_or(authority, |(host, _)| host),
        }
    }

    /// The host's IP address when the URL names one literally.
    pub fn ip_literal(&self) -> Option<IpAddr> {
        let host = self.host();
        let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        bare.parse().ok()
    }
}

/// Why webhooks may not be sent to `ip` (§9.1: an SSRF defence), or `None` for a public
/// address: loopback, private (RFC 1918, IPv6 unique local), shared (carrier-grade NAT),
/// link-local (the cloud metadata address), unspecified, multicast, broadcast, documentation
/// and benchmarking ranges, and the IPv4-mapped and NAT64 forms of those. Deployments that
/// allow insecure targets (development, tests) skip this check.
pub fn refused_address(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => refused_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return refused_v4(v4);
            }
            let segments = v6.segments();
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                // NAT64 (RFC 6052): the IPv4 address is in the last 32 bits.
                let [.., high, low] = segments;
                return refused_v4(Ipv4Addr::from((u32::from(high) << 16) | u32::from(low)));
            }
            if v6.is_loopback() {
                Some("a loopback address")
            } else if v6.is_unspecified() {
                Some("the unspecified address")
            } else if v6.is_unicast_link_local() {
                Some("a link-local address")
            } else if v6.is_unique_local() {
                Some("a private address")
            } else if v6.is_multicast() {
                Some("a multicast address")
            } else if segments[0] == 0x2001 && segments[1] == 0x0db8 {
                Some("a documentation address")
            } else {
                None
            }
        }
    }
}

fn refused_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_private() {
        Some("a private address")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a shared (carrier-grade NAT) address")
    } else if ip.is_link_local() {
        Some("a link-local address")
    } else if ip.is_unspecified() || a == 0 {
        Some("the unspecified address")
    } else if ip.is_multicast() || a >= 240 {
        Some("a multicast or reserved address")
    } else if ip.is_documentation() || (a == 198 && (b == 18 || b == 19)) || (a == 192 && b == 0) {
        Some("a documentation or benchmarking address")
    } else {
        None
    }
}

/// Splits `host[:port]` (`[v6]:port` for IPv6 literals).
fn split_host_port(authority: &str) -> Result<(&str, Option<u16>), ValueError> {
    let host_invalid = ValueError::InvalidFormat { expected: HOST_EXPECTED };
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (inside, after) = bracketed.split_once(']').ok_or(host_invalid.clone())?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or(host_invalid)?),
        };
        // Keep the brackets so that the host part prints back as it must appear in a URL.
        (&authority[..inside.len() + 2], port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => {
            let n = if p.chars().all(|c| c.is_ascii_digit()) { p.parse::<u16>().ok() } else { None };
            match n {
                Some(n) if n > 0 => Some(n),
                _ => return Err(ValueError::InvalidFormat { expected: PORT_EXPECTED }),
            }
        }
    };
    Ok((host, port))
}

/// The host of a URL: a DNS name (lower-case) or an IP literal.
enum Host {
    Name(String),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

impl Host {
    fn parse(host: &str) -> Result<Self, ValueError> {
        let invalid = ValueError::InvalidFormat { expected: HOST_EXPECTED };
        if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            let ip = Ipv6Addr::from_str(v6).map_err(|_| invalid.clone())?;
            // An IPv4-mapped address (`::ffff:169.254.169.254`) reaches the IPv4 host.
            let never_a_server = match ip.to_ipv4_mapped() {
                Some(v4) => never_a_server(v4),
                None => ip.is_unspecified() || ip.is_multicast() || ip.is_unicast_link_local(),
            };
            return if never_a_server { Err(invalid) } else { Ok(Self::V6(ip)) };
        }
        if host.chars().all(|c| c.is_ascii_digit() || c == '.') {
            // All digits and dots: an IPv4 literal or nothing (no top-level domain is numeric).
            let ip = Ipv4Addr::from_str(host).map_err(|_| invalid.clone())?;
            return if never_a_server(ip) { Err(invalid) } else { Ok(Self::V4(ip)) };
        }
        let name = host.to_ascii_lowercase();
        let valid_label = |l: &str| {
            !l.is_empty()
                && l.len() <= LABEL_MAX
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if name.is_empty() || name.len() > HOST_MAX || !name.split('.').all(valid_label) {
            return Err(invalid);
        }
        Ok(Self::Name(name))
    }

    fn is_loopback(&self) -> bool {
        match self {
            Self::Name(n) => n == "localhost",
            Self::V4(ip) => *ip == Ipv4Addr::LOCALHOST,
            Self::V6(ip) => ip.is_loopback(),
        }
    }
}

/// IPv4 addresses no web server listens on: unspecified, link-local (the cloud metadata
/// service), multicast, broadcast.
fn never_a_server(ip: Ipv4Addr) -> bool {
    ip.is_unspecified() || ip.is_link_local() || ip.is_multicast() || ip.is_broadcast()
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(n) => f.write_str(n),
            Self::V4(ip) => write!(f, "{ip}"),
            Self::V6(ip) => write!(f, "[{ip}]"),
        }
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for WebhookUrl {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for WebhookUrl {
    type Err = ValueError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Self::parse(input)
    }
}

impl TryFrom<String> for WebhookUrl {
    type Error = ValueError;

    fn try_from(input: String) -> Result<Self, Self::Error> {
        Self::parse(&input)
    }
}

impl From<WebhookUrl> for String {
    fn from(value: WebhookUrl) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(input: &str) -> String {
        WebhookUrl::parse(input).unwrap_or_else(|e| panic!("{input} must parse: {e}")).as_str().to_owned()
    }

    fn refused(input: &str) -> ValueError {
        WebhookUrl::parse(input).expect_err(input)
    }

    #[test]
    fn https_urls_are_accepted_and_normalized() {
        assert_eq!(ok("https://example.com/hooks/roster"), "https://example.com/hooks/roster");
        assert_eq!(ok("  HTTPS://Hooks.Example.COM  "), "https://hooks.example.com/");
        assert_eq!(ok("https://example.com:443/a?b=c&d=%20e"), "https://example.com/a?b=c&d=%20e");
        assert_eq!(ok("https://example.com?x=1"), "https://example.com/?x=1");
        assert_eq!(ok("https://example.com:8443/in"), "https://example.com:8443/in");
        assert_eq!(ok("https://203.0.113.7/in"), "https://203.0.113.7/in");
        assert_eq!(ok("https://[2001:db8::1]:9000/in"), "https://[2001:db8::1]:9000/in");
    }

    #[test]
    fn plain_http_is_accepted_only_towards_the_local_machine() {
        assert_eq!(ok("http://localhost:3000/hook"), "http://localhost:3000/hook");
        assert_eq!(ok("http://127.0.0.1/hook"), "http://127.0.0.1/hook");
        assert_eq!(ok("http://[::1]:8080/"), "http://[::1]:8080/");
        assert_eq!(ok("http://LOCALHOST:80/"), "http://localhost/");
        for url in ["http://example.com/hook", "http://127.0.0.2/", "http://localhost.example.com/", "http://10.0.0.1/"]
        {
            assert_eq!(refused(url), ValueError::InvalidFormat { expected: HTTP_EXPECTED }, "{url}");
        }
    }

    #[test]
    fn other_schemes_and_shapes_are_refused() {
        assert_eq!(refused("   "), ValueError::Empty);
        assert_eq!(
            refused(&format!("https://example.com/{}", "a".repeat(URL_MAX))),
            ValueError::TooLong { max: URL_MAX }
        );
        for url in ["ftp://example.com/", "example.com/hook", "https:/example.com", "javascript:alert(1)", "https://"] {
            assert!(matches!(refused(url), ValueError::InvalidFormat { .. }), "{url}");
        }
        assert!(matches!(refused("https://exa mple.com/"), ValueError::InvalidFormat { .. }));
        assert!(matches!(refused("https://exämple.com/"), ValueError::InvalidFormat { .. }));
        assert!(matches!(refused("https://-bad-.com/"), ValueError::InvalidFormat { .. }));
        assert!(matches!(refused("https://a..b/"), ValueError::InvalidFormat { .. }));
    }

    #[test]
    fn credentials_and_fragments_are_refused() {
        assert_eq!(
            refused("https://user:pw@example.com/"),
            ValueError::InvalidFormat { expected: CREDENTIALS_EXPECTED }
        );
        // The classic trick to make a URL look local: the host is evil.example, not localhost.
        assert_eq!(
            refused("http://localhost@evil.example/"),
            ValueError::InvalidFormat { expected: CREDENTIALS_EXPECTED }
        );
        assert_eq!(refused("https://example.com/a#b"), ValueError::InvalidFormat { expected: FRAGMENT_EXPECTED });
    }

    #[test]
    fn ports_must_be_between_1_and_65535() {
        for url in
            ["https://example.com:0/", "https://example.com:65536/", "https://example.com:/", "https://example.com:x/"]
        {
            assert_eq!(refused(url), ValueError::InvalidFormat { expected: PORT_EXPECTED }, "{url}");
        }
    }

    #[test]
    fn ip_literals_that_are_never_a_web_server_are_refused() {
        for url in [
            "https://169.254.169.254/latest/meta-data",
            "https://0.0.0.0/",
            "https://224.0.0.1/",
            "https://255.255.255.255/",
            "https://[fe80::1]/",
            "https://[::]/",
            "https://[::ffff:169.254.169.254]/",
            "https://1.2.3/",
            "https://[not-v6]/",
        ] {
            assert_eq!(refused(url), ValueError::InvalidFormat { expected: HOST_EXPECTED }, "{url}");
        }
    }

    #[test]
    fn the_host_and_ip_literal_are_read_back() {
        let url = WebhookUrl::parse("https://Hooks.Example.com:8443/x?y=1").unwrap();
        assert_eq!((url.host(), url.ip_literal(), url.is_https()), ("hooks.example.com", None, true));
        let v6 = WebhookUrl::parse("http://[::1]:9000/").unwrap();
        assert_eq!(
            (v6.host(), v6.ip_literal(), v6.is_https()),
            ("[::1]", Some(IpAddr::from(Ipv6Addr::LOCALHOST)), false)
        );
        let v4 = WebhookUrl::parse("https://10.0.0.1").unwrap();
        assert_eq!(v4.ip_literal(), Some(IpAddr::from([10, 0, 0, 1])));
    }

    #[test]
    fn private_loopback_and_link_local_addresses_are_refused_public_ones_are_not() {
        for refused in [
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2001:db8::1",
        ] {
            let ip: IpAddr = refused.parse().unwrap();
            assert!(refused_address(ip).is_some(), "{refused}");
        }
        for public in ["93.184.216.34", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "64:ff9b::808:808"] {
            let ip: IpAddr = public.parse().unwrap();
            assert_eq!(refused_address(ip), None, "{public}");
        }
    }

    #[test]
    fn parsing_is_idempotent_and_serde_goes_through_parse() {
        let url = WebhookUrl::parse("HTTPS://Example.com:443?q=1").unwrap();
        assert_eq!(WebhookUrl::parse(url.as_str()).unwrap(), url);
        assert_eq!(serde_json::to_string(&url).unwrap(), "\"https://example.com/?q=1\"");
        assert!(serde_json::from_str::<WebhookUrl>("\"http://example.com/\"").is_err());
    }
}
