//! Signing in with a password: agents' credentials and browser sessions.
//!
//! An admin gives an agent a login email and a password; only an argon2id
//! hash of it is kept (`cred/<agent>`, with `cred-email/<email>` finding
//! the agent by email). Signing in opens a session: a random token the
//! browser keeps in an HttpOnly cookie, stored here only as its SHA-256
//! (`session/<digest>`), with a CSRF token the page sends back on every
//! change. Bearer tokens stay for API clients.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::{Batch, Store, StoreError, keys};

/// How long a session lasts after signing in: a working day and then some.
pub const SESSION_MS: u64 = 12 * 60 * 60 * 1000;
/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted (argon2 would take anything; a form need not).
const MAX_PASSWORD_CHARS: usize = 200;

/// An agent's login.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Credential {
    /// The agent.
    pub agent_id: String,
    /// The login email, lower case.
    pub email: String,
    /// The argon2id hash (PHC string).
    pub hash: String,
    /// When the password was last set (unix ms).
    pub updated_at: u64,
}

/// A signed-in browser.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// Who signed in.
    pub agent_id: String,
    /// What the page must send in `X-CSRF-Token` with every change.
    pub csrf: String,
    /// Unix ms.
    pub created_at: u64,
    /// Unix ms; refused from then on.
    pub expires_at: u64,
}

/// Why a credential or session operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Bad input (a short password, a malformed email).
    #[error("{0}")]
    Invalid(String),
    /// The email belongs to another agent.
    #[error("{0}")]
    Taken(String),
    /// Unknown login or wrong password (which one is not said).
    #[error("wrong email or password")]
    WrongPassword,
    /// No randomness for a salt or token.
    #[error("no randomness: {0}")]
    Random(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Credentials and sessions in the store.
#[derive(Clone)]
pub struct Accounts {
    store: Store,
}

fn random(len: usize) -> Result<Vec<u8>, AccountError> {
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).map_err(|e| AccountError::Random(e.to_string()))?;
    Ok(bytes)
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Hashes `password` with argon2id (the crate's defaults: 19 MiB, two
/// passes, as OWASP recommends).
fn hash(password: &str) -> Result<String, AccountError> {
    let salt =
        SaltString::encode_b64(&random(16)?).map_err(|e| AccountError::Random(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AccountError::Invalid(format!("the password cannot be hashed: {e}")))
}

fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash nobody's password matches (of a random one, made once), checked
/// against when the login is unknown, so that answer takes as long as a
/// wrong password for a known one.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        let password = random(24).map(hex::encode).unwrap_or_default();
        hash(&password).unwrap_or_default()
    })
}

impl Accounts {
    /// Over `store`.
    pub fn new(store: Store) -> Self {
        Accounts { store }
    }

    /// Sets (or resets) an agent's login email and password. Returns the
    /// write's sequence to wait for.
    pub fn set_password(
        &self,
        agent_id: &str,
        email: &str,
        password: &str,
        now: u64,
    ) -> Result<u64, AccountError> {
        let email = email.trim().to_ascii_lowercase();
        let well_formed = email.len() <= 254
            && email
                .split_once('@')
                .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
            && !email.chars().any(|c| c.is_whitespace() || c.is_control());
        if !well_formed {
            return Err(AccountError::Invalid(format!(
                "`{email}` is not an email address"
            )));
        }
        let chars = password.chars().count();
        if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
            return Err(AccountError::Invalid(format!(
                "a password has {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"
            )));
        }
        if let Some(owner) = self
            .store
            .get_json::<String>(&keys::credential_email(&email))?
            && owner != agent_id
        {
            return Err(AccountError::Taken(format!(
                "{email} is another agent's login"
            )));
        }
        let credential = Credential {
            agent_id: agent_id.to_string(),
            email: email.clone(),
            hash: hash(password)?,
            updated_at: now,
        };
        let mut batch = Batch::new();
        if let Some(old) = self.credential(agent_id)?
            && old.email != email
        {
            batch.delete(keys::credential_email(&old.email));
        }
        batch.put_json(keys::credential(agent_id), &credential);
        batch.put_json(keys::credential_email(&email), &agent_id.to_string());
        Ok(self.store.write(batch)?)
    }

    /// An agent's login, if it has one.
    pub fn credential(&self, agent_id: &str) -> Result<Option<Credential>, AccountError> {
        Ok(self.store.get_json(&keys::credential(agent_id))?)
    }

    /// The agent whose login (email, or agent id) and password these are.
    /// Slow on purpose (argon2): run it off the async threads.
    pub fn check(&self, login: &str, password: &str) -> Result<String, AccountError> {
        let login = login.trim();
        let agent = self
            .store
            .get_json::<String>(&keys::credential_email(&login.to_ascii_lowercase()))?
            .unwrap_or_else(|| login.to_string());
        let credential = self.credential(&agent)?;
        let matches = match &credential {
            Some(c) => verify(password, &c.hash),
            None => {
                verify(password, decoy_hash());
                false
            }
        };
        match credential {
            Some(c) if matches => Ok(c.agent_id),
            _ => Err(AccountError::WrongPassword),
        }
    }

    /// Opens a session for `agent_id`: its token (for the cookie; not
    /// stored) and the session.
    pub fn open_session(
        &self,
        agent_id: &str,
        now: u64,
    ) -> Result<(String, Session, u64), AccountError> {
        let token = format!("sb_session_{}", hex::encode(random(32)?));
        let session = Session {
            agent_id: agent_id.to_string(),
            csrf: hex::encode(random(24)?),
            created_at: now,
            expires_at: now + SESSION_MS,
        };
        let mut batch = Batch::new();
        batch.put_json(keys::session(&digest(&token)), &session);
        let seq = self.store.write(batch)?;
        Ok((token, session, seq))
    }

    /// The live session behind a cookie's token.
    pub fn session(&self, token: &str, now: u64) -> Result<Option<Session>, AccountError> {
        if !token.starts_with("sb_session_") || token.len() > 100 {
            return Ok(None);
        }
        Ok(self
            .store
            .get_json::<Session>(&keys::session(&digest(token)))?
            .filter(|s| now < s.expires_at))
    }

    /// Ends the session behind `token`.
    pub fn close_session(&self, token: &str) -> Result<u64, AccountError> {
        let mut batch = Batch::new();
        batch.delete(keys::session(&digest(token)));
        Ok(self.store.write(batch)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accounts() -> (tempfile::TempDir, Accounts) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        (dir, Accounts::new(store))
    }

    #[test]
    fn a_password_signs_in_by_email_or_id_and_nothing_else_does() {
        let (_dir, accounts) = accounts();
        accounts
            .set_password("ann", " Ann@Example.com ", "correct horse battery", 1)
            .unwrap();
        assert_eq!(
            accounts
                .check("ann@example.com", "correct horse battery")
                .unwrap(),
            "ann"
        );
        assert_eq!(
            accounts.check("ann", "correct horse battery").unwrap(),
            "ann"
        );
        assert!(matches!(
            accounts.check("ann@example.com", "correct horse battery!"),
            Err(AccountError::WrongPassword)
        ));
        assert!(matches!(
            accounts.check("bob@example.com", "correct horse battery"),
            Err(AccountError::WrongPassword)
        ));
        let stored = accounts.credential("ann").unwrap().unwrap();
        assert!(stored.hash.starts_with("$argon2id$"), "{}", stored.hash);
        assert!(!stored.hash.contains("correct horse"));
    }

    #[test]
    fn short_passwords_bad_emails_and_taken_logins_are_refused() {
        let (_dir, accounts) = accounts();
        assert!(matches!(
            accounts.set_password("ann", "ann@example.com", "short", 1),
            Err(AccountError::Invalid(_))
        ));
        assert!(matches!(
            accounts.set_password("ann", "not-an-email", "long enough pass", 1),
            Err(AccountError::Invalid(_))
        ));
        accounts
            .set_password("ann", "ann@example.com", "long enough pass", 1)
            .unwrap();
        assert!(matches!(
            accounts.set_password("bob", "ann@example.com", "long enough pass", 1),
            Err(AccountError::Taken(_))
        ));
        // A new email frees the old one.
        accounts
            .set_password("ann", "ann@shop.example", "long enough pass", 2)
            .unwrap();
        accounts
            .set_password("bob", "ann@example.com", "long enough pass", 3)
            .unwrap();
    }

    #[test]
    fn sessions_expire_and_close() {
        let (_dir, accounts) = accounts();
        let (token, session, _) = accounts.open_session("ann", 1_000).unwrap();
        assert_eq!(session.csrf.len(), 48);
        assert!(accounts.session(&token, 2_000).unwrap().is_some());
        assert!(
            accounts
                .session(&token, 1_000 + SESSION_MS)
                .unwrap()
                .is_none()
        );
        assert!(
            accounts
                .session("sb_session_forged", 2_000)
                .unwrap()
                .is_none()
        );
        accounts.close_session(&token).unwrap();
        assert!(accounts.session(&token, 2_000).unwrap().is_none());
    }
}
