//! `render vault-policy`: the least-privilege Vault/OpenBao policy for this config. Pure.
//!
//! Monitoring needs `list` + `read` on the metadata folders it scans and `list` on their
//! `detailed-metadata/` twins (OpenBao's listing with the metadata), `read` on the metadata of
//! each secret it watches, and `read` on `data/` only for the secrets whose value it checks.
//! Rotation (`--for rotate`) adds `patch` on the data and metadata of the credentials `rotate`
//! can write (KV v2 merge patches with check-and-set), and `read` on their data so a spare can be
//! promoted.
//!
//! A `vault-approle` source needs `list` on its mount's roles (only when it lists them, i.e.
//! names none), `list` on each role's secret-ids and `update` on each role's
//! `secret-id-accessor/lookup` (one path with `+` for all roles, or one per named role); it never
//! reads a secret-id, nor generates or destroys one. A `vault-token` source needs `update` on
//! `auth/token/lookup-accessor` and nothing else (it never sees a token value).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use crate::config::{ApproleSource, Config, ValueFrom, VaultSource};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Monitor,
    Rotate,
}

/// Capabilities by policy path, for the vault source `name`.
pub fn capabilities(
    config: &Config,
    name: &str,
    source: &VaultSource,
    purpose: Purpose,
) -> BTreeMap<String, BTreeSet<&'static str>> {
    let mut caps: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
    let mut add = |path: String, list: &[&'static str]| {
        caps.entry(path).or_default().extend(list.iter().copied())
    };
    let m = &source.mount;
    if let Some(prefix) = &source.prefix {
        add(format!("{m}/metadata/{prefix}*"), &["list", "read"]);
        // OpenBao lists the metadata with the keys (one request a page, not one per secret);
        // HashiCorp Vault has no such path, and the rule is then unused.
        add(format!("{m}/detailed-metadata/{prefix}*"), &["list"]);
        if source.value.is_some() {
            add(format!("{m}/data/{prefix}*"), &["read"]);
        }
    }
    for p in &source.paths {
        add(format!("{m}/metadata/{p}"), &["read"]);
        if source.value.is_some() {
            add(format!("{m}/data/{p}"), &["read"]);
        }
    }
    for e in &config.inventory {
        let Some(spec) = &e.value else { continue };
        let ValueFrom::Vault {
            source: s, path, ..
        } = &spec.from
        else {
            continue;
        };
        if s != name {
            continue;
        }
        add(format!("{m}/metadata/{path}"), &["read"]);
        if spec.needs_value() {
            add(format!("{m}/data/{path}"), &["read"]);
        }
        if purpose == Purpose::Rotate {
            add(format!("{m}/data/{path}"), &["read", "patch"]);
            add(format!("{m}/metadata/{path}"), &["patch"]);
        }
    }
    caps
}

/// Capabilities by policy path, for an AppRole source.
pub fn approle_capabilities(source: &ApproleSource) -> BTreeMap<String, BTreeSet<&'static str>> {
    let m = &source.mount;
    let mut caps: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
    let roles: Vec<&str> = if source.roles.is_empty() {
        caps.entry(format!("auth/{m}/role"))
            .or_default()
            .insert("list");
        vec!["+"]
    } else {
        source.roles.iter().map(String::as_str).collect()
    };
    for role in roles {
        caps.entry(format!("auth/{m}/role/{role}/secret-id"))
            .or_default()
            .insert("list");
        caps.entry(format!("auth/{m}/role/{role}/secret-id-accessor/lookup"))
            .or_default()
            .insert("update");
    }
    caps
}

fn write_paths(out: &mut String, caps: BTreeMap<String, BTreeSet<&'static str>>) {
    for (path, caps) in caps {
        // Vault's conventional order.
        let order = ["create", "read", "update", "patch", "delete", "list"];
        let caps: Vec<String> = order
            .iter()
            .filter(|c| caps.contains(*c))
            .map(|c| format!("\"{c}\""))
            .collect();
        let _ = writeln!(
            out,
            "path {} {{\n  capabilities = [{}]\n}}",
            hcl_string(&path),
            caps.join(", ")
        );
    }
}

/// An HCL string literal: `\`, `"` and control characters escaped (Vault's policy parser keeps
/// `${` as it is).
fn hcl_string(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub fn render(config: &Config, purpose: Purpose, only: Option<&str>) -> Result<String, String> {
    render_sources(config, purpose, only, &|_| true)
}

/// [`render`] for the sources `include` accepts (by name), those a role logs in for.
pub fn render_sources(
    config: &Config,
    purpose: Purpose,
    only: Option<&str>,
    include: &dyn Fn(&str) -> bool,
) -> Result<String, String> {
    let sources: Vec<(&str, &VaultSource)> = config
        .sources
        .iter()
        .filter_map(|s| Some((s.name(), s.kind.as_vault()?)))
        .filter(|(name, _)| only.is_none_or(|o| o == *name) && include(name))
        .collect();
    let tokens: Vec<&str> = config
        .sources
        .iter()
        .filter(|s| matches!(s.kind, crate::config::SourceKind::VaultToken(_)))
        .map(|s| s.name())
        .filter(|name| only.is_none_or(|o| o == *name) && include(name))
        .collect();
    let approles: Vec<(&str, &ApproleSource)> = config
        .sources
        .iter()
        .filter_map(|s| match &s.kind {
            crate::config::SourceKind::Approle(a) => Some((s.name(), a.as_ref())),
            _ => None,
        })
        .filter(|(name, _)| only.is_none_or(|o| o == *name) && include(name))
        .collect();
    if sources.is_empty() && approles.is_empty() && tokens.is_empty() {
        return Err(match only {
            Some(o) => format!(
                "no `[[source]] kind = \"vault\"`, `\"vault-approle\"` or `\"vault-token\"` named `{o}` in `{}`",
                config.path.display()
            ),
            None => format!(
                "`{}` has no `[[source]] kind = \"vault\"`, `\"vault-approle\"` or `\"vault-token\"`; there is nothing to grant",
                config.path.display()
            ),
        });
    }
    let mut out = format!(
        "# Generated by `credwatch render vault-policy{}` from {}.\n# Least privilege for credwatch{}; regenerate when the config changes.\n",
        if purpose == Purpose::Rotate {
            " --for rotate"
        } else {
            ""
        },
        config.path.file_name().map_or_else(
            || "credwatch.toml".into(),
            |n| n.to_string_lossy().to_string()
        ),
        if purpose == Purpose::Rotate {
            " push and rotate"
        } else {
            " push/check"
        },
    );
    for (name, source) in sources {
        let _ = writeln!(out, "\n# source `{name}` (mount `{}`)", source.mount);
        write_paths(&mut out, capabilities(config, name, source, purpose));
    }
    for (name, source) in approles {
        let _ = writeln!(
            out,
            "\n# source `{name}` (AppRole secret-ids at `auth/{}`)",
            source.mount
        );
        write_paths(&mut out, approle_capabilities(source));
    }
    for name in tokens {
        let _ = writeln!(out, "\n# source `{name}` (tokens looked up by accessor)");
        let caps = BTreeMap::from([(
            "auth/token/lookup-accessor".to_string(),
            BTreeSet::from(["update"]),
        )]);
        write_paths(&mut out, caps);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const CONFIG: &str = r#"
[[source]]
kind = "vault"
mount = "kv"
prefix = "agents"
paths = ["ci/deploy-key"]

[[credential]]
name = "spare-1"
pool = "agent"
vault = { path = "agent-spare-1", field = "oauth_token" }
format = "claude-oauth"

[[credential]]
name = "pat"
vault = { path = "github/pat" }
"#;

    #[test]
    fn monitoring_reads_data_only_where_the_value_is_checked() {
        let config = crate::config::parse_config(CONFIG, Path::new("credwatch.toml")).unwrap();
        assert_eq!(
            render(&config, Purpose::Monitor, None).unwrap(),
            "# Generated by `credwatch render vault-policy` from credwatch.toml.\n\
             # Least privilege for credwatch push/check; regenerate when the config changes.\n\
             \n# source `vault` (mount `kv`)\n\
             path \"kv/data/agent-spare-1\" {\n  capabilities = [\"read\"]\n}\n\
             path \"kv/detailed-metadata/agents/*\" {\n  capabilities = [\"list\"]\n}\n\
             path \"kv/metadata/agent-spare-1\" {\n  capabilities = [\"read\"]\n}\n\
             path \"kv/metadata/agents/*\" {\n  capabilities = [\"read\", \"list\"]\n}\n\
             path \"kv/metadata/ci/deploy-key\" {\n  capabilities = [\"read\"]\n}\n\
             path \"kv/metadata/github/pat\" {\n  capabilities = [\"read\"]\n}\n"
        );
    }

    #[test]
    fn rotation_adds_patch_on_what_rotate_writes() {
        let config = crate::config::parse_config(CONFIG, Path::new("credwatch.toml")).unwrap();
        let text = render(&config, Purpose::Rotate, None).unwrap();
        assert!(
            text.contains(
                "path \"kv/data/github/pat\" {\n  capabilities = [\"read\", \"patch\"]\n}"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "path \"kv/metadata/github/pat\" {\n  capabilities = [\"read\", \"patch\"]\n}"
            ),
            "{text}"
        );
        assert!(!text.contains("kv/data/ci/deploy-key"), "{text}");
        assert!(
            render(&config, Purpose::Monitor, Some("other"))
                .unwrap_err()
                .contains("named `other`")
        );
    }
}
