//! Pure decoding of credential values: what a value itself says about its lifetime and shape.
//!
//! Given the bytes of a credential (already read by a source), these modules answer questions
//! without touching the clock, the network or the disk:
//! - [`jwt`]: the `exp`, `iat` and `nbf` claims of a JWT, read without verifying its signature;
//! - [`x509`]: subject, serial and validity of each certificate in a PEM bundle or DER blob;
//! - [`ssh`]: kind, key id, principals and validity window of an OpenSSH certificate;
//! - [`format`]: whether a value has the shape its kind requires (a truncated copy, a stray
//!   newline), checked against built-in or configured profiles;
//! - [`fingerprint`]: a short, non-reversible identifier that tells whether two credentials hold
//!   the same value.
//!
//! Every input here is a secret. No error message, `Debug` output or panic message ever contains
//! the value or any part of it: errors name the part, the position or the length that is wrong.
//! Each error path is tested against that rule with [`tests::assert_no_leak`].

pub mod fingerprint;
pub mod format;
pub mod jwt;
pub mod ssh;
pub mod x509;

#[cfg(test)]
pub(crate) mod tests {
    /// The length of the windows of a secret that must not appear in an error message.
    const WINDOW: usize = 8;

    /// Asserts that no run of 8 consecutive characters of `secret` appears in `message`.
    /// `public` lists texts the message may contain even though the secret contains them too
    /// (an expected prefix such as `sk-ant-oat01-`); they are removed from the message first.
    pub(crate) fn assert_no_leak(message: &str, secret: &str, public: &[&str]) {
        let mut message = message.to_string();
        for text in public.iter().filter(|t| !t.is_empty()) {
            message = message.replace(text, "");
        }
        let chars: Vec<char> = secret.chars().collect();
        for window in chars.windows(WINDOW) {
            let window: String = window.iter().collect();
            assert!(
                !message.contains(&window),
                "message leaks `{window}` of the secret: {message}"
            );
        }
    }

    #[test]
    fn the_leak_check_catches_a_leak_and_allows_public_text() {
        let secret = "sk-ant-oat01-abcdefghijklmnop";
        assert_no_leak(
            "does not start with `sk-ant-oat01-`",
            secret,
            &["sk-ant-oat01-"],
        );
        assert_no_leak("too short", secret, &[]);
        let caught = std::panic::catch_unwind(|| {
            assert_no_leak("found `cdefghij` here", secret, &["sk-ant-oat01-"]);
        });
        assert!(caught.is_err());
    }
}
