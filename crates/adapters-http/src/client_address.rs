//! Whose request this is: the client's IP address, for the login and sign-up throttles and the
//! audit log.
//!
//! The address is the TCP peer's, unless the peer is a proxy the operator trusts
//! (`ROSTER_TRUSTED_PROXIES`, a list of CIDRs): then `X-Forwarded-For` is read from the right —
//! each hop appends the address it received the request from — skipping the trusted proxies, and
//! the first address no trusted proxy stands for is the client. A header from an untrusted peer is
//! ignored (anyone can send one), and so is what lies left of a malformed entry: the client is
//! then the last address a trusted proxy vouched for.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// A block of addresses, `192.0.2.0/24` or `2001:db8::/32`; a bare address is its own block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `address` lies in the block (an IPv4-mapped IPv6 address counts as its IPv4 one).
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.network, canonical(address)) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                prefix_bits(u128::from(u32::from(net)), self.prefix, 32)
                    == prefix_bits(u128::from(u32::from(a)), self.prefix, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                prefix_bits(u128::from(net), self.prefix, 128) == prefix_bits(u128::from(a), self.prefix, 128)
            }
            _ => false,
        }
    }
}

/// The top `prefix` bits of a `width`-bit address.
fn prefix_bits(address: u128, prefix: u8, width: u8) -> u128 {
    if prefix == 0 { 0 } else { address >> (width - prefix) }
}

/// IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`, what a dual-stack listener reports) as IPv4.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address.parse().map_err(|_| format!("`{text}` is not an IP address or CIDR block"))?;
        let network = canonical(network);
        let width = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= width)
                .ok_or_else(|| format!("`{text}`: the prefix length must be 0 to {width}"))?,
        };
        Ok(Self { network, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// The proxies whose `X-Forwarded-For` is believed. Empty (the default): none, the TCP peer is the
/// client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    /// Parses a comma-separated list of CIDR blocks or addresses (blank entries are skipped).
    ///
    /// # Errors
    /// A sentence naming the entry that is neither.
    pub fn parse(text: &str) -> Result<Self, String> {
        text.split(',').filter(|entry| !entry.trim().is_empty()).map(str::parse).collect::<Result<_, _>>().map(Self)
    }

    /// Whether no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.0.iter().any(|block| block.contains(address))
    }

    /// The client behind `peer`, given the values of every `X-Forwarded-For` header of the
    /// request in the order received (see the module's documentation).
    pub fn client(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        let mut client = canonical(peer);
        if !self.trusts(client) {
            return client;
        }
        let hops = forwarded_for.iter().flat_map(|value| value.split(',')).collect::<Vec<_>>();
        for hop in hops.iter().rev() {
            let Ok(address) = hop.trim().parse::<IpAddr>() else { return client };
            client = canonical(address);
            if !self.trusts(client) {
                return client;
            }
        }
        client
    }
}

impl fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let blocks: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&blocks.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn blocks_contain_their_addresses_and_no_others() {
        let block: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(block.contains(ip("10.1.255.3")));
        assert!(!block.contains(ip("10.2.0.1")));
        assert!(block.contains(ip("::ffff:10.1.0.9")), "an IPv4-mapped address is its IPv4 one");
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:1::1")) && !v6.contains(ip("2001:db9::1")));
        assert!(!v6.contains(ip("10.1.0.1")));
        let one: Cidr = "192.0.2.7".parse().unwrap();
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.1")));
    }

    #[test]
    fn bad_entries_are_named() {
        assert!(TrustedProxies::parse("10.0.0.0/33").unwrap_err().contains("0 to 32"));
        assert!(TrustedProxies::parse("10.0.0.0/8, proxy.local").unwrap_err().contains("proxy.local"));
        assert_eq!(TrustedProxies::parse(" , ").unwrap(), TrustedProxies::default());
        assert_eq!(TrustedProxies::parse("10.0.0.0/8,::1").unwrap().to_string(), "10.0.0.0/8, ::1/128");
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_peer() {
        let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();
        assert_eq!(trusted.client(ip("203.0.113.9"), &["198.51.100.1"]), ip("203.0.113.9"), "a forged header");
        assert_eq!(TrustedProxies::default().client(ip("10.0.0.2"), &["198.51.100.1"]), ip("10.0.0.2"));
        assert_eq!(trusted.client(ip("10.0.0.2"), &[]), ip("10.0.0.2"), "no header: the proxy itself");
    }

    #[test]
    fn the_client_is_the_first_untrusted_hop_from_the_right() {
        let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();
        // The client forged a first entry; the edge proxy appended the real client, the inner
        // proxy appended the edge proxy.
        let header = ["1.2.3.4, 198.51.100.1", "10.0.0.5"];
        assert_eq!(trusted.client(ip("10.0.0.2"), &header), ip("198.51.100.1"));
        assert_eq!(trusted.client(ip("10.0.0.2"), &["10.0.0.9, 10.0.0.5"]), ip("10.0.0.9"), "all trusted");
        assert_eq!(trusted.client(ip("10.0.0.2"), &["garbage, 10.0.0.5"]), ip("10.0.0.5"), "stops at a bad entry");
        assert_eq!(trusted.client(ip("10.0.0.2"), &["2001:db8::1"]), ip("2001:db8::1"));
    }
}
