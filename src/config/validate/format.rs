//! `[[format]]` profiles, and the `format` key that names a built-in or custom one.

use toml::Spanned;

use super::Validator;
use crate::config::raw::RawFormat;
use crate::decode::format::{self as formats, FormatProfile};

impl Validator<'_> {
    pub(super) fn custom_format(&mut self, f: RawFormat) {
        let name = f.name.get_ref().clone();
        let length = |v: &Option<Spanned<i64>>, this: &mut Self, key: &str| -> Option<usize> {
            let v = v.as_ref()?;
            match usize::try_from(*v.get_ref()) {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    this.error(
                        v.span(),
                        format!("format `{name}`: `{key}` must be a positive number"),
                    );
                    None
                }
            }
        };
        let min = length(&f.min_length, self, "min_length");
        let max = length(&f.max_length, self, "max_length");
        if self.formats.contains_key(&name) {
            self.error(f.name.span(), format!("format `{name}`: duplicate name"));
            return;
        }
        match formats::custom(&name, f.prefix.as_deref(), min, max, f.pattern.as_deref()) {
            Ok(profile) => {
                self.formats.insert(name, profile);
            }
            Err(e) => self.error(f.name.span(), format!("format `{name}`: {e}")),
        }
    }

    /// The profile a `format` key names: a built-in one or a `[[format]]` of this file.
    pub(super) fn format_profile(
        &mut self,
        name: &Spanned<String>,
        context: &str,
    ) -> Option<FormatProfile> {
        if let Some(p) =
            formats::builtin(name.get_ref()).or_else(|| self.formats.get(name.get_ref()).cloned())
        {
            return Some(p);
        }
        let mut known: Vec<String> = formats::builtin_names()
            .iter()
            .map(|s| s.to_string())
            .collect();
        known.extend(self.formats.keys().cloned());
        self.error(
            name.span(),
            format!(
                "{context}: `format`: unknown format `{}`; expected one of {} or a `[[format]]` defined in this file",
                name.get_ref(),
                known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
            ),
        );
        None
    }
}
