//! Pure checks of the names and URLs other systems read: Prometheus label and metric names, alert
//! names, and base URLs.

/// Checks a Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__`.
pub fn check_label_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let valid = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!(
            "`{name}` is not a valid Prometheus label name (letters, digits and `_`, not starting with a digit)"
        ));
    }
    if name.starts_with("__") {
        return Err(format!(
            "`{name}` starts with `__`, which Prometheus reserves for itself"
        ));
    }
    Ok(())
}

/// Checks an alert name (prefix): `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_alert_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Checks a Prometheus metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Checks a Pushgateway base URL and returns it without a trailing slash. Credentials inside the
/// URL are refused: they would end up in logs and process listings.
pub fn check_url(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| format!("expected an http:// or https:// URL, found `{url}`"))?;
    let authority = rest.split('/').next().unwrap_or("");
    if authority.is_empty() {
        return Err(format!("`{url}` has no host"));
    }
    if authority.contains('@') {
        return Err(
            "credentials in the URL are not allowed; use the username/password or token settings"
                .into(),
        );
    }
    if rest.contains('?') || rest.contains('#') {
        return Err(format!(
            "`{url}` has a query or fragment; give the base URL only"
        ));
    }
    // The HTTP client's own parser, so that nothing accepted here fails to build a request later.
    let parsed: ureq::http::Uri = url
        .parse()
        .map_err(|e| format!("`{url}` is not a valid URL: {e}"))?;
    if parsed.host().is_none_or(str::is_empty) {
        return Err(format!("`{url}` has no host"));
    }
    Ok(url.trim_end_matches('/').to_string())
}
