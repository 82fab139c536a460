//! Who a request really comes from: the peer address, or, when the peer is
//! a proxy the configuration trusts (`aerie.security.trusted-proxies`), the
//! address that proxy reports in `X-Forwarded-For`. Forwarded addresses
//! from anyone else are ignored: otherwise any caller could pick the source
//! its failed logins are counted against.

use std::net::IpAddr;

/// One trusted network: an address with a prefix length (`10.0.0.0/8`,
/// `::1/128`; a bare address means the one host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNetwork {
    addr: IpAddr,
    prefix: u8,
}

impl IpNetwork {
    /// Parses `addr` or `addr/prefix`.
    pub fn parse(text: &str) -> Result<IpNetwork, String> {
        let bad = || format!("'{text}' is not an IP address or network (10.0.0.0/8, ::1/128)");
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text.trim(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(IpNetwork { addr, prefix })
    }

    /// Whether `ip` is inside this network (IPv4-mapped IPv6 counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNetwork>);

impl TrustedProxies {
    /// Parses every entry; the first bad one is the error.
    pub fn parse(entries: &[String]) -> Result<TrustedProxies, String> {
        entries
            .iter()
            .filter(|e| !e.trim().is_empty())
            .map(|e| IpNetwork::parse(e))
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(ip))
    }

    /// The client behind `peer`: `peer` itself unless it is trusted, else
    /// the right-most address of `forwarded_for` that is not a trusted
    /// proxy (entries to its left were written by the client and prove
    /// nothing).
    pub fn client_ip(&self, peer: IpAddr, forwarded_for: Option<&str>) -> IpAddr {
        if !self.trusts(peer) {
            return canonical(peer);
        }
        let mut client = canonical(peer);
        for hop in forwarded_for.unwrap_or_default().rsplit(',') {
            let Ok(ip) = hop.trim().parse::<IpAddr>() else {
                break;
            };
            client = canonical(ip);
            if !self.trusts(ip) {
                break;
            }
        }
        client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn networks_contain_their_addresses_only() {
        let net = IpNetwork::parse("10.0.0.0/8").expect("net");
        assert!(net.contains(ip("10.1.2.3")));
        assert!(net.contains(ip("::ffff:10.1.2.3")));
        assert!(!net.contains(ip("11.0.0.1")));
        let host = IpNetwork::parse("::1").expect("host");
        assert!(host.contains(ip("::1")));
        assert!(!host.contains(ip("::2")));
        assert!(
            IpNetwork::parse("0.0.0.0/0")
                .expect("all")
                .contains(ip("8.8.8.8"))
        );
        for bad in ["", "10.0.0.0/33", "::/129", "example.com", "10.0.0.0/x"] {
            assert!(IpNetwork::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let none = TrustedProxies::default();
        assert_eq!(
            none.client_ip(ip("203.0.113.9"), Some("1.2.3.4")),
            ip("203.0.113.9")
        );
        let ingress = TrustedProxies::parse(&["10.0.0.0/8".to_owned()]).expect("parse");
        // A spoofed left-most entry is skipped: the ingress appended the real one.
        assert_eq!(
            ingress.client_ip(ip("10.0.0.5"), Some("6.6.6.6, 198.51.100.7")),
            ip("198.51.100.7")
        );
        // Chained trusted proxies are walked through.
        assert_eq!(
            ingress.client_ip(ip("10.0.0.5"), Some("198.51.100.7, 10.0.0.9")),
            ip("198.51.100.7")
        );
        // A trusted peer without the header is the client.
        assert_eq!(ingress.client_ip(ip("10.0.0.5"), None), ip("10.0.0.5"));
        // An untrusted peer's header is ignored.
        assert_eq!(
            ingress.client_ip(ip("192.0.2.1"), Some("198.51.100.7")),
            ip("192.0.2.1")
        );
    }
}
