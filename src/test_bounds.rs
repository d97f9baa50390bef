//! Test-only: the bounds every fuzzed parser is held to (no panic is proptest's part; a time
//! limit per input and an output size bound are asserted here), and the mutations that turn a
//! valid sample into the near-misses that reach deep into a parser.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::Index;

/// The most one input may take to parse. Generous (unoptimised test builds on a loaded machine):
/// a bound on runaway work, not a benchmark.
pub(crate) const PER_INPUT: Duration = Duration::from_secs(1);

/// Runs `parse` on one input of `len` bytes and asserts it ends within [`PER_INPUT`].
pub(crate) fn within_time<T>(what: &str, len: usize, parse: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = parse();
    let took = start.elapsed();
    assert!(
        took < PER_INPUT,
        "{what}: an input of {len} bytes took {took:?}, over {PER_INPUT:?}"
    );
    out
}

/// The longest error message any parser may give, whatever the input: messages name a place
/// and a kind of damage, never the input, so they do not grow with it.
pub(crate) const MAX_ERROR: usize = 400;

/// Asserts the error of a parse (if any) is short, and returns the success value.
pub(crate) fn bounded_error<T>(what: &str, result: Result<T, String>) -> Option<T> {
    match result {
        Ok(v) => Some(v),
        Err(e) => {
            assert!(
                e.len() <= MAX_ERROR,
                "{what}: an error of {} bytes: {e}",
                e.len()
            );
            None
        }
    }
}

/// One edit of a byte string.
#[derive(Debug, Clone)]
enum Edit {
    Overwrite(Index, u8),
    Insert(Index, u8),
    Delete(Index),
    /// Copies a run of up to 64 bytes to another place (repeats a field, a line, a brace).
    Duplicate(Index, Index, u8),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Edit::Overwrite(i, b)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<Index>().prop_map(Edit::Delete),
        (any::<Index>(), any::<Index>(), any::<u8>())
            .prop_map(|(f, t, n)| Edit::Duplicate(f, t, n)),
    ]
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let len = bytes.len();
        match *e {
            Edit::Overwrite(i, b) if len > 0 => bytes[i.index(len)] = b,
            Edit::Insert(i, b) => bytes.insert(i.index(len + 1), b),
            Edit::Delete(i) if len > 0 => {
                bytes.remove(i.index(len));
            }
            Edit::Duplicate(from, to, n) if len > 0 => {
                let start = from.index(len);
                let end = (start + usize::from(n % 64) + 1).min(len);
                let run = bytes[start..end].to_vec();
                let at = to.index(len + 1);
                bytes.splice(at..at, run);
            }
            _ => {}
        }
    }
    bytes
}

/// `sample` with 1 to 8 random edits, now and then cut short.
pub(crate) fn mutated(sample: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::collection::vec(edit(), 1..8),
        any::<Index>(),
        any::<bool>(),
    )
        .prop_map(move |(edits, cut, truncate)| {
            let mut bytes = apply(sample.clone(), &edits);
            if truncate {
                bytes.truncate(cut.index(bytes.len() + 1));
            }
            bytes
        })
}

/// [`mutated`] for text samples; invalid UTF-8 from an edit is replaced, so the result is text.
pub(crate) fn mutated_text(sample: &str) -> impl Strategy<Value = String> {
    mutated(sample.as_bytes().to_vec()).prop_map(|b| String::from_utf8_lossy(&b).into_owned())
}
