//! `[templates.<channel>.<name>]`: the message templates a channel's
//! provider approved (WhatsApp's), which agents may send to start a
//! conversation or answer outside the free-text window.

use serde::{Deserialize, Serialize};

/// One approved template.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TemplateConfig {
    /// Its language code at the provider, e.g. `en_US`.
    pub language: String,
    /// Its body as the provider shows it, with `{{1}}`, `{{2}}`… for the
    /// parameters: what the transcript shows once they are filled in.
    pub text: String,
}

impl TemplateConfig {
    /// How many parameters the body takes: the highest `{{n}}`.
    pub fn parameters(&self) -> usize {
        (1..=20)
            .filter(|n| self.text.contains(&format!("{{{{{n}}}}}")))
            .max()
            .unwrap_or(0)
    }

    /// The body with `parameters` filled in.
    pub fn render(&self, parameters: &[String]) -> String {
        parameters
            .iter()
            .enumerate()
            .fold(self.text.clone(), |text, (i, p)| {
                text.replace(&format!("{{{{{}}}}}", i + 1), p)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_counted_and_filled() {
        let t = TemplateConfig {
            language: "en_US".into(),
            text: "Hi {{1}}, your order {{2}} has shipped.".into(),
        };
        assert_eq!(t.parameters(), 2);
        assert_eq!(
            t.render(&["Sheena".into(), "4821".into()]),
            "Hi Sheena, your order 4821 has shipped."
        );
    }
}
