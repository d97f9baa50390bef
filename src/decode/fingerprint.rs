//! Short, non-reversible fingerprints that tell whether two credentials hold the same value.
//!
//! A fingerprint is published (the `fingerprint` label of `credwatch_credential_info`), so it
//! must say "same as that one" and nothing more:
//! - with a key: `hmac-sha256:` + the first 16 hex digits of HMAC-SHA-256(key, value);
//! - without: `sha256:` + the first 16 hex digits of SHA-256(`credwatch/fingerprint/v1\0` ‖
//!   value). The fixed prefix separates these hashes from any other SHA-256 of the same secret
//!   (a hash stored elsewhere cannot be matched against credwatch's label, nor the other way).
//!
//! Trade-offs of 64 bits: accidental collisions need about 2³² distinct values to become likely;
//! among the few hundred credentials one credwatch watches the chance is below 10⁻¹³. Truncation
//! does not protect a weak secret, though. Anyone who can read the metrics can test guesses
//! offline against an unkeyed fingerprint at GPU speed (billions per second), so an unkeyed
//! fingerprint of a password, a PIN or a short or dictionary-derived token gives it away.
//! Configure a key (kept out of Prometheus, long and random) whenever such values are
//! fingerprinted. Tokens minted from a random source, such as `sk-ant-oat01-…` (95 random
//! base64url characters, about 570 bits) or GitHub PATs, are far beyond guessing, so their
//! unkeyed fingerprints are safe to publish.
//!
//! The output never contains any part of the value: it is a fixed scheme label and hex digits.

use hmac::digest::Key;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Separates credwatch's unkeyed fingerprints from every other SHA-256 of the same value.
const DOMAIN: &[u8] = b"credwatch/fingerprint/v1\0";

/// Bytes of the digest kept: 8 bytes, 16 hex digits, 64 bits.
const KEPT_BYTES: usize = 8;

/// The fingerprint of a credential's value as read from a file, an env var, a Secret or Vault:
/// surrounding ASCII whitespace (the newline a file or `echo` adds) is not part of the value, so
/// every copy of one value gets one fingerprint wherever it is read (check, rotate, record,
/// consumers, the format lint).
pub fn value_fingerprint(value: &[u8], key: Option<&[u8]>) -> String {
    fingerprint(value.trim_ascii(), key)
}

/// The fingerprint of `value`, keyed when `key` is given. See the module documentation for
/// when a key is needed. An empty key is accepted but protects nothing; configuration should
/// refuse it.
pub fn fingerprint(value: &[u8], key: Option<&[u8]>) -> String {
    match key {
        Some(key) => {
            let mut mac = HmacSha256::new(&hmac_key(key));
            mac.update(value);
            format!("hmac-sha256:{}", hex_prefix(&mac.finalize().into_bytes()))
        }
        None => {
            let mut hash = Sha256::new();
            hash.update(DOMAIN);
            hash.update(value);
            format!("sha256:{}", hex_prefix(&hash.finalize()))
        }
    }
}

/// Brings a key of any length to the hash's block size as HMAC itself does (RFC 2104 §2): a
/// longer key is hashed first, a shorter one is padded with zeros. Doing it here keeps the
/// construction infallible (no `Result` from a slice-length check that cannot fail).
fn hmac_key(key: &[u8]) -> Key<HmacSha256> {
    let mut block = Key::<HmacSha256>::default();
    if key.len() > block.len() {
        let digest = Sha256::digest(key);
        block[..digest.len()].copy_from_slice(&digest);
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    block
}

fn hex_prefix(digest: &[u8]) -> String {
    digest
        .iter()
        .take(KEPT_BYTES)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_has_one_fingerprint_whatever_whitespace_surrounds_it() {
        let bare = value_fingerprint(b"sk-ant-oat01-abc", None);
        for copy in [
            &b"sk-ant-oat01-abc\n"[..],
            b"  sk-ant-oat01-abc\r\n",
            b"\tsk-ant-oat01-abc ",
        ] {
            assert_eq!(value_fingerprint(copy, None), bare);
        }
        assert_eq!(bare, fingerprint(b"sk-ant-oat01-abc", None));
        assert_ne!(value_fingerprint(b"sk-ant-oat01-ab c", None), bare);
    }
    use crate::decode::tests::assert_no_leak;
    use proptest::prelude::*;

    /// A value, an optional key and the expected fingerprint.
    type Case<'a> = (&'a [u8], Option<&'a [u8]>, &'a str);

    #[test]
    fn fingerprints_match_independent_computations() {
        // Unkeyed values computed with Python's hashlib over DOMAIN + value; keyed ones are the
        // first 64 bits of RFC 4231 test cases 1, 2 and 6 (a key longer than a block) and of
        // Python's hmac module around the block size.
        let block_key = [b'k'; 64];
        let long_key = [b'k'; 65];
        let rfc_long_key = [0xaa; 131];
        let rfc_key = [0x0b; 20];
        let cases: [Case; 9] = [
            (b"", None, "sha256:747d7087e731db3a"),
            (b"sk-ant-oat01-example", None, "sha256:b8e00cdb9f231891"),
            (b"hunter2", None, "sha256:9f0fea03fc438743"),
            (b"Hi There", Some(&rfc_key), "hmac-sha256:b0344c61d8db3853"),
            (
                b"what do ya want for nothing?",
                Some(b"Jefe"),
                "hmac-sha256:5bdcc146bf60754e",
            ),
            (
                b"Test Using Larger Than Block-Size Key - Hash Key First",
                Some(&rfc_long_key),
                "hmac-sha256:60e431591ee0b67f",
            ),
            (b"hunter2", Some(b""), "hmac-sha256:48d1763b879fda85"),
            (b"hunter2", Some(&block_key), "hmac-sha256:bda545775e404917"),
            (b"hunter2", Some(&long_key), "hmac-sha256:82606ce153f1e896"),
        ];
        for (value, key, want) in cases {
            assert_eq!(fingerprint(value, key), want);
        }
    }

    #[test]
    fn the_unkeyed_fingerprint_is_not_a_plain_sha256() {
        // SHA-256("hunter2") starts f52fbd32b2b3b86f: the domain prefix must change it.
        assert_ne!(fingerprint(b"hunter2", None), "sha256:f52fbd32b2b3b86f");
    }

    #[test]
    fn fingerprints_tell_values_and_keys_apart() {
        let token = b"sk-ant-oat01-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        let other = b"sk-ant-oat01-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab";
        assert_eq!(fingerprint(token, None), fingerprint(token, None));
        assert_ne!(fingerprint(token, None), fingerprint(other, None));
        assert_ne!(
            fingerprint(token, Some(b"k1")),
            fingerprint(token, Some(b"k2"))
        );
        assert_ne!(
            fingerprint(token, Some(b"k1")),
            fingerprint(other, Some(b"k1"))
        );
    }

    fn assert_well_formed(print: &str, keyed: bool) {
        let hex = if keyed {
            print.strip_prefix("hmac-sha256:")
        } else {
            print.strip_prefix("sha256:")
        };
        let hex = hex.unwrap_or_else(|| panic!("unexpected scheme in {print}"));
        assert_eq!(hex.len(), 16, "{print}");
        assert!(
            hex.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{print}"
        );
    }

    proptest! {
        #[test]
        fn fingerprints_are_well_formed_and_never_show_the_value(
            value in any::<String>(),
            key in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..200)),
        ) {
            let print = fingerprint(value.as_bytes(), key.as_deref());
            assert_well_formed(&print, key.is_some());
            assert_eq!(&print, &fingerprint(value.as_bytes(), key.as_deref()));
            assert_no_leak(&print, &value, &[]);
        }
    }
}
