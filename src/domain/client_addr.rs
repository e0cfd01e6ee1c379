//! Who the client is, for per-address limits: the socket peer, or the address a trusted proxy
//! forwarded (`X-Forwarded-For`). No I/O here.

use std::{
    fmt,
    net::{IpAddr, Ipv6Addr},
    str::FromStr,
};

use ipnet::IpNet;

/// The proxies whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`): comma-separated CIDRs
/// (`10.0.0.0/8`, `fd00::/8`) or single addresses. Empty: trust nobody.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl FromStr for TrustedProxies {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let net = match item.parse::<IpNet>() {
                Ok(net) => net,
                Err(_) => match item.parse::<IpAddr>() {
                    Ok(ip) => IpNet::from(ip),
                    Err(_) => {
                        return Err(format!(
                            "`{item}` is not a CIDR range (e.g. 10.0.0.0/8) or an IP address"
                        ));
                    }
                },
            };
            nets.push(net.trunc());
        }
        Ok(TrustedProxies(nets))
    }
}

impl fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&items.join(","))
    }
}

impl TrustedProxies {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` (an IPv4-mapped IPv6 address counts as its IPv4 address) is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address: the socket `peer` unless it is a trusted proxy; then the right-most
    /// `X-Forwarded-For` entry that is not itself trusted (entries left of it were written by
    /// the client and prove nothing). `forwarded` holds the header's values in the order they
    /// came. When the walk meets an entry that is not an address, or every entry is trusted,
    /// the last trusted hop is the client: a proxy vouched for it and nothing further.
    pub fn client_address<'a>(
        &self,
        peer: IpAddr,
        forwarded: impl DoubleEndedIterator<Item = &'a str>,
    ) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.contains(client) {
            return client;
        }
        for entry in forwarded.rev().flat_map(|value| value.rsplit(',')) {
            let Some(ip) = parse_forwarded_entry(entry) else { return client };
            client = ip;
            if !self.contains(ip) {
                return ip;
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:5678`,
/// `[2001:db8::1]:443`) as some proxies write it.
fn parse_forwarded_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Some(rest) = entry.strip_prefix('[') {
        let (ip, _) = rest.split_once(']')?;
        return ip.parse::<Ipv6Addr>().ok().map(|ip| IpAddr::V6(ip).to_canonical());
    }
    let (ip, port) = entry.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    ip.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// The identity per-address limits count: an IPv4 address as it is, an IPv6 address reduced to
/// its /64 (one subscriber holds a whole /64, so counting single addresses would let one
/// client rotate through 2^64 of them).
pub fn limit_identity(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies(s: &str) -> TrustedProxies {
        s.parse().unwrap()
    }

    #[test]
    fn parses_cidrs_and_single_addresses_and_refuses_anything_else() {
        let p = proxies(" 10.0.0.0/8, 192.168.1.7 ,fd00::/8,");
        assert!(p.contains(ip("10.200.3.4")));
        assert!(p.contains(ip("192.168.1.7")));
        assert!(!p.contains(ip("192.168.1.8")));
        assert!(p.contains(ip("fd12::1")));
        assert!(p.contains(ip("::ffff:10.1.1.1")), "IPv4-mapped addresses count as IPv4");
        assert!(proxies("").is_empty());
        for bad in ["10.0.0.0/33", "ten", "10.0.0.0/8,foo", "1.2.3.4/-1", "::/129"] {
            let err = bad.parse::<TrustedProxies>().unwrap_err();
            assert!(err.contains("is not a CIDR range"), "{bad}: {err}");
        }
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let none = TrustedProxies::default();
        assert_eq!(
            none.client_address(ip("203.0.113.5"), ["1.2.3.4"].into_iter()),
            ip("203.0.113.5")
        );
        let p = proxies("10.0.0.0/8");
        assert_eq!(p.client_address(ip("203.0.113.5"), ["1.2.3.4"].into_iter()), ip("203.0.113.5"));
    }

    #[test]
    fn a_trusted_peer_names_the_right_most_untrusted_forwarded_address() {
        let p = proxies("10.0.0.0/8");
        let peer = ip("10.0.0.1");
        // The client wrote 6.6.6.6 itself; our proxies appended 198.51.100.9 and 10.0.0.2.
        let xff = ["6.6.6.6, 198.51.100.9", "10.0.0.2"];
        assert_eq!(p.client_address(peer, xff.into_iter()), ip("198.51.100.9"));
        assert_eq!(p.client_address(peer, ["198.51.100.9:4431"].into_iter()), ip("198.51.100.9"));
        assert_eq!(p.client_address(peer, ["[2001:db8::7]:443"].into_iter()), ip("2001:db8::7"));
        // No header: the proxy itself.
        assert_eq!(p.client_address(peer, std::iter::empty()), peer);
        // Every hop trusted: the furthest one.
        assert_eq!(p.client_address(peer, ["10.9.9.9, 10.0.0.2"].into_iter()), ip("10.9.9.9"));
        // Garbage stops the walk at the last trusted hop.
        assert_eq!(p.client_address(peer, ["1.2.3.4, nonsense"].into_iter()), peer);
        assert_eq!(
            p.client_address(peer, ["1.2.3.4, unknown, 10.0.0.3"].into_iter()),
            ip("10.0.0.3")
        );
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_slash_64() {
        assert_eq!(limit_identity(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(limit_identity(ip("2001:db8:1:2:bbbb::9")), ip("2001:db8:1:2::"));
        assert_eq!(limit_identity(ip("203.0.113.5")), ip("203.0.113.5"));
        assert_eq!(limit_identity(ip("::ffff:203.0.113.5")), ip("203.0.113.5"));
    }
}
