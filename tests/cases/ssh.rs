//! SSH certificates minted by the real `ssh-keygen` (Debian openssh-client): user and host
//! certificates of several key types with `-V` windows in UTC, `forever`, one not yet valid and a
//! damaged one, read from files and from the environment.

use std::path::Path;
use std::process::Command;

use crate::cases::vault_source::credential;
use crate::support::{Credwatch, Run, Scratch};

const NOW: &str = "2026-11-30T00:00:00Z";

/// Runs `ssh-keygen` in `dir`; fails the test with its stderr when it fails.
fn keygen(dir: &Path, args: &[&str]) {
    let out = Command::new("ssh-keygen")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("ssh-keygen (Debian openssh-client) is installed; ./scripts/test installs it");
    assert!(
        out.status.success(),
        "ssh-keygen {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A key of `key_type` named `name` in `dir`, certified by `ca` with the given extra arguments;
/// returns the certificate's text.
fn certify(dir: &Path, name: &str, key_type: &str, sign: &[&str]) -> String {
    keygen(
        dir,
        &["-q", "-t", key_type, "-N", "", "-C", name, "-f", name],
    );
    let public = format!("{name}.pub");
    let mut args = vec!["-q", "-s", "ca"];
    args.extend_from_slice(sign);
    args.push(&public);
    keygen(dir, &args);
    std::fs::read_to_string(dir.join(format!("{name}-cert.pub"))).unwrap()
}

#[test]
fn ssh_certificates_give_their_window_key_id_and_principals() {
    let s = Scratch::new();
    let dir = s.path("ssh");
    std::fs::create_dir_all(&dir).unwrap();
    keygen(
        &dir,
        &["-q", "-t", "ed25519", "-N", "", "-C", "ca", "-f", "ca"],
    );
    let window = "20260418000000Z:20270418000000Z";
    certify(
        &dir,
        "deploy",
        "ecdsa",
        &[
            "-I",
            "deploy@ci",
            "-n",
            "alice,bob",
            "-z",
            "7",
            "-V",
            window,
        ],
    );
    certify(
        &dir,
        "bastion",
        "rsa",
        &[
            "-h",
            "-I",
            "bastion-host",
            "-n",
            "bastion.example",
            "-V",
            "always:forever",
        ],
    );
    certify(
        &dir,
        "soon",
        "ed25519",
        &[
            "-I",
            "soon",
            "-n",
            "ops",
            "-V",
            "20261101000000Z:20261205000000Z",
        ],
    );
    certify(
        &dir,
        "later",
        "ed25519",
        &[
            "-I",
            "later",
            "-n",
            "ops",
            "-V",
            "20270101000000Z:20280101000000Z",
        ],
    );
    let env_cert = certify(
        &dir,
        "from-env",
        "ed25519",
        &["-I", "env-cert", "-V", "20260101000000Z:20261220000000Z"],
    );
    // Damage: a certificate cut short inside its base64 text (as a truncated paste leaves it).
    let good = std::fs::read_to_string(dir.join("soon-cert.pub")).unwrap();
    let mut words = good.split_whitespace();
    let (kind, blob) = (words.next().unwrap(), words.next().unwrap());
    s.write(
        "ssh/cut-cert.pub",
        &format!("{kind} {}\n", &blob[..blob.len() / 2 / 4 * 4]),
    );

    let config = s.write(
        "credwatch.toml",
        r#"
[pushgateway]
url = "http://127.0.0.1:9"

[[credential]]
name = "deploy"
file = "ssh/deploy-cert.pub"

[[credential]]
name = "bastion"
file = "ssh/bastion-cert.pub"

[[credential]]
name = "soon"
file = "ssh/soon-cert.pub"
expiry_from = "ssh"

[[credential]]
name = "later"
file = "ssh/later-cert.pub"

[[credential]]
name = "from-env"
env = "CREDWATCH_TEST_SSH_CERT"
expiry_from = "ssh"

[[credential]]
name = "cut"
file = "ssh/cut-cert.pub"
expiry_from = "ssh"

[[credential]]
name = "private-key"
file = "ssh/deploy"
expiry_from = "ssh"
"#,
    );
    let check = |args: &[&str]| -> Run {
        Credwatch::new()
            .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
            .env("CREDWATCH_TEST_SSH_CERT", &env_cert)
            .args(args)
            .run()
    };
    let run = check(&["check", "--now", NOW, "-o", "json"]);
    run.assert_code(2);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();

    let deploy = credential(&doc, "deploy");
    assert_eq!(deploy["status"], "OK");
    assert_eq!(deploy["kind"], "ssh_valid_before");
    assert_eq!(deploy["expires_at"], "2027-04-18T00:00:00Z");
    assert_eq!(deploy["minted_at"], "2026-04-18T00:00:00Z");
    assert_eq!(
        deploy["subject"],
        "ssh user certificate, key id `deploy@ci`, principals alice,bob, serial 7, valid from 2026-04-18 00:00:00 UTC"
    );

    let bastion = credential(&doc, "bastion");
    assert_eq!(bastion["status"], "NO EXPIRY");
    assert_eq!(bastion["expires_at"], serde_json::Value::Null);
    assert_eq!(bastion["minted_at"], serde_json::Value::Null);
    assert_eq!(
        bastion["subject"],
        "ssh host certificate, key id `bastion-host`, principals bastion.example, serial 0"
    );

    assert_eq!(credential(&doc, "soon")["status"], "CRITICAL");
    assert_eq!(
        credential(&doc, "soon")["expires_at"],
        "2026-12-05T00:00:00Z"
    );
    let later = credential(&doc, "later");
    assert_eq!(later["expires_at"], "2028-01-01T00:00:00Z");
    assert!(
        later["subject"]
            .as_str()
            .unwrap()
            .ends_with("valid from 2027-01-01 00:00:00 UTC"),
        "{later}"
    );
    let env = credential(&doc, "from-env");
    assert_eq!(env["status"], "WARNING");
    assert!(
        env["subject"].as_str().unwrap().contains("any principal"),
        "{env}"
    );

    let cut = credential(&doc, "cut");
    assert_eq!(cut["status"], "UNKNOWN");
    let reason = cut["error"].as_str().unwrap();
    assert!(
        reason.contains("not a readable SSH certificate: line 1: the certificate is truncated"),
        "{reason}"
    );
    let key = credential(&doc, "private-key");
    assert_eq!(key["status"], "UNKNOWN");
    assert!(
        key["error"]
            .as_str()
            .unwrap()
            .contains("this is a private key"),
        "{key}"
    );
    // The private key's body never appears, whatever the path.
    let private = std::fs::read_to_string(dir.join("deploy")).unwrap();
    let body_line = private.lines().nth(2).unwrap();
    assert!(!run.stdout.contains(body_line) && !run.stderr.contains(body_line));

    // The table shows key id and principals under the table.
    let table = check(&["check", "--now", NOW]);
    assert!(
        table
            .stdout
            .contains("deploy: ssh user certificate, key id `deploy@ci`, principals alice,bob"),
        "{}",
        table.stdout
    );

    // The series say how the expiry is known; a forever certificate has no expiry series.
    let push = check(&["push", "--dry-run", "--now", NOW]);
    assert!(
        push.stdout.lines().any(|l| l
            .starts_with("credwatch_credential_expiry_timestamp_seconds{")
            && l.contains("credential=\"deploy\"")
            && l.contains("kind=\"ssh_valid_before\"")
            && l.ends_with(" 1808006400")),
        "{}",
        push.stdout
    );
    assert!(
        !push.stdout.lines().any(|l| l
            .starts_with("credwatch_credential_expiry_timestamp_seconds{")
            && l.contains("credential=\"bastion\"")),
        "{}",
        push.stdout
    );
}
