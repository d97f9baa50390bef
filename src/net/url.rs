//! Whether a URL points at this machine. Pure: no lookup, only the URL's text.

use std::net::IpAddr;

/// True for a URL whose host is a loopback address: `localhost` or a name under it, any address
/// of `127.0.0.0/8`, `[::1]`. A URL with userinfo (`http://user@127.0.0.1`) is not taken apart
/// and does not count.
pub fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return false;
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    let host = host.to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::is_loopback_url;

    #[test]
    fn only_loopback_hosts_count_as_loopback() {
        for (url, want) in [
            ("http://127.0.0.1:8080", true),
            ("http://127.3.4.5/x", true),
            ("http://[::1]:80/", true),
            ("http://localhost:1", true),
            ("https://LOCALHOST", true),
            ("http://api.localhost:8080", true),
            ("http://localhost.example.com", false),
            ("http://10.0.0.1", false),
            ("http://[fd00::7]:9091", false),
            ("http://127.0.0.1.nip.io", false),
            ("http://user@127.0.0.1", false),
            ("http://prometheus-pushgateway.monitoring:9091", false),
        ] {
            assert_eq!(is_loopback_url(url), want, "{url}");
        }
    }
}
