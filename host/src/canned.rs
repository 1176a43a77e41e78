//! Canned responses: saved answers agents insert with a `/shortcut`,
//! filled for the customer and agent at hand (`{{customer.first_name}}`,
//! `{{agent.name}}`…) and edited before sending.

use serde::{Deserialize, Serialize};

use crate::kind::Kind;
use crate::store::{Batch, Store, StoreError, keys};

/// Longest text, in characters.
pub const MAX_TEXT_CHARS: usize = 4000;
/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 120;

/// A saved answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct CannedResponse {
    /// `cr_…`.
    pub id: String,
    /// What an agent types after `/`: 1-32 of `a-z`, `0-9`, `-`, `_`;
    /// unique.
    pub shortcut: String,
    /// A short title for the picker.
    pub title: String,
    /// The text, with placeholders such as `{{customer.first_name}}`.
    pub text: String,
    /// The customer language it is for (e.g. `en`); none: any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// The channel kinds it suits; empty: all.
    #[serde(default)]
    pub kinds: Vec<Kind>,
    /// Unix ms of the last change.
    pub updated_at: u64,
    /// Who changed it last.
    pub updated_by: String,
}

/// A canned response as written by a supervisor (no id or stamps).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CannedInput {
    /// See [`CannedResponse::shortcut`].
    pub shortcut: String,
    /// See [`CannedResponse::title`].
    pub title: String,
    /// See [`CannedResponse::text`].
    pub text: String,
    /// See [`CannedResponse::language`].
    #[serde(default)]
    pub language: Option<String>,
    /// See [`CannedResponse::kinds`].
    #[serde(default)]
    pub kinds: Vec<Kind>,
}

/// Why a canned response was refused.
#[derive(Debug, thiserror::Error)]
pub enum CannedError {
    /// The input breaks a rule.
    #[error("{0}")]
    Invalid(String),
    /// Another response has the shortcut.
    #[error("shortcut `/{0}` is taken")]
    Taken(String),
    /// No such response.
    #[error("no canned response {0}")]
    NotFound(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What placeholders are filled with.
#[derive(Debug, Clone, Default)]
pub struct Fill {
    /// The customer's full name, if known.
    pub customer_name: Option<String>,
    /// The customer's email, if known.
    pub customer_email: Option<String>,
    /// The customer's phone, if known.
    pub customer_phone: Option<String>,
    /// The agent's display name.
    pub agent_name: Option<String>,
}

impl Fill {
    /// The value of a placeholder name; `None` for an unknown name or a
    /// value not known for this customer.
    fn value(&self, name: &str) -> Option<String> {
        let first = |full: &Option<String>| {
            full.as_deref()
                .and_then(|n| n.split_whitespace().next())
                .map(str::to_string)
        };
        match name {
            "customer.name" => self.customer_name.clone(),
            "customer.first_name" => first(&self.customer_name),
            "customer.email" => self.customer_email.clone(),
            "customer.phone" => self.customer_phone.clone(),
            "agent.name" => self.agent_name.clone(),
            "agent.first_name" => first(&self.agent_name),
            _ => None,
        }
    }
}

/// The placeholders a text may use.
pub const PLACEHOLDERS: [&str; 6] = [
    "customer.name",
    "customer.first_name",
    "customer.email",
    "customer.phone",
    "agent.name",
    "agent.first_name",
];

/// Fills `text`'s `{{placeholders}}`. Returns the text and the placeholders
/// left empty because this customer or agent has no such value (the agent
/// edits those before sending).
pub fn render(text: &str, fill: &Fill) -> (String, Vec<String>) {
    let mut out = String::with_capacity(text.len());
    let mut missing = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let name = after[..end].trim();
        match fill.value(name) {
            Some(v) => out.push_str(&v),
            None if PLACEHOLDERS.contains(&name) => {
                if !missing.iter().any(|m| m == name) {
                    missing.push(name.to_string());
                }
            }
            // Not a placeholder: left as written.
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    (out, missing)
}

/// Canned responses in the store.
pub struct CannedResponses {
    store: Store,
}

impl CannedResponses {
    /// Over `store`.
    pub fn new(store: Store) -> Self {
        CannedResponses { store }
    }

    /// Every canned response, by shortcut.
    pub fn list(&self) -> Result<Vec<CannedResponse>, StoreError> {
        let mut all: Vec<CannedResponse> = self.store.scan_json(keys::CANNED)?;
        all.sort_by(|a, b| a.shortcut.cmp(&b.shortcut));
        Ok(all)
    }

    /// One by id.
    pub fn get(&self, id: &str) -> Result<Option<CannedResponse>, StoreError> {
        self.store.get_json(&keys::canned(id))
    }

    /// Creates one (`id` none) or replaces one; returns it and the write's
    /// sequence to wait for.
    pub fn put(
        &self,
        id: Option<&str>,
        input: CannedInput,
        by: &str,
        now: u64,
    ) -> Result<(CannedResponse, u64), CannedError> {
        let input = check(input)?;
        if let Some(id) = id
            && self.get(id)?.is_none()
        {
            return Err(CannedError::NotFound(id.to_string()));
        }
        if self
            .list()?
            .iter()
            .any(|c| c.shortcut == input.shortcut && Some(c.id.as_str()) != id)
        {
            return Err(CannedError::Taken(input.shortcut));
        }
        let id = match id {
            Some(id) => id.to_string(),
            None => format!("cr_{:012}", self.store.next_id()?),
        };
        let response = CannedResponse {
            id,
            shortcut: input.shortcut,
            title: input.title,
            text: input.text,
            language: input.language,
            kinds: input.kinds,
            updated_at: now,
            updated_by: by.to_string(),
        };
        let mut batch = Batch::new();
        batch.put_json(keys::canned(&response.id), &response);
        let seq = self.store.write(batch)?;
        Ok((response, seq))
    }

    /// Deletes one; returns the write's sequence.
    pub fn delete(&self, id: &str) -> Result<u64, CannedError> {
        if self.get(id)?.is_none() {
            return Err(CannedError::NotFound(id.to_string()));
        }
        let mut batch = Batch::new();
        batch.delete(keys::canned(id));
        Ok(self.store.write(batch)?)
    }
}

/// The input trimmed, or why it is refused.
fn check(mut input: CannedInput) -> Result<CannedInput, CannedError> {
    input.shortcut = input.shortcut.trim().trim_start_matches('/').to_string();
    input.title = input.title.trim().to_string();
    input.language = input
        .language
        .map(|l| l.trim().to_ascii_lowercase())
        .filter(|l| !l.is_empty());
    let shortcut_ok = (1..=32).contains(&input.shortcut.len())
        && input
            .shortcut
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !shortcut_ok {
        return Err(CannedError::Invalid(
            "`shortcut` must be 1-32 of a-z, 0-9, `-` and `_`".into(),
        ));
    }
    if input.title.is_empty() || input.title.chars().count() > MAX_TITLE_CHARS {
        return Err(CannedError::Invalid(format!(
            "`title` must be 1-{MAX_TITLE_CHARS} characters"
        )));
    }
    if input.text.trim().is_empty() || input.text.chars().count() > MAX_TEXT_CHARS {
        return Err(CannedError::Invalid(format!(
            "`text` must be 1-{MAX_TEXT_CHARS} characters"
        )));
    }
    if let Some(l) = &input.language
        && (l.len() > 16 || !l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    {
        return Err(CannedError::Invalid(
            "`language` must be a language tag such as `en` or `pt-br`".into(),
        ));
    }
    input.kinds.sort();
    input.kinds.dedup();
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_and_missing_ones_reported() {
        let fill = Fill {
            customer_name: Some("Sheena  Nelson".into()),
            agent_name: Some("Ana Lima".into()),
            ..Fill::default()
        };
        let (text, missing) = render(
            "Hi {{customer.first_name}}, {{ agent.name }} here. Mail {{customer.email}}? {{unknown}} {{",
            &fill,
        );
        assert_eq!(text, "Hi Sheena, Ana Lima here. Mail ? {{unknown}} {{");
        assert_eq!(missing, ["customer.email"]);
        assert_eq!(render("{{agent.first_name}}", &fill).0, "Ana");
    }

    #[test]
    fn input_is_checked() {
        let input = |shortcut: &str, title: &str, text: &str| CannedInput {
            shortcut: shortcut.into(),
            title: title.into(),
            text: text.into(),
            language: Some(" EN ".into()),
            kinds: vec![Kind::Chat, Kind::Chat],
        };
        let ok = check(input("/refund-1", " Refund ", "Hello")).unwrap();
        assert_eq!(
            (ok.shortcut.as_str(), ok.title.as_str()),
            ("refund-1", "Refund")
        );
        assert_eq!(ok.language.as_deref(), Some("en"));
        assert_eq!(ok.kinds, [Kind::Chat]);
        for bad in [
            input("", "t", "x"),
            input("Bad Shortcut", "t", "x"),
            input("ok", "", "x"),
            input("ok", "t", "  "),
        ] {
            assert!(matches!(check(bad), Err(CannedError::Invalid(_))));
        }
    }
}
