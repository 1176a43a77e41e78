//! Signing in to the web UI: passwords the admin sets, sessions browsers
//! keep. Hashing is slow on purpose (argon2id), so it runs on the blocking
//! pool, never on the threads serving requests.

use crate::accounts::{AccountError, Session};
use crate::clock::now_ms;
use crate::routing::Agent;

use super::{Core, CoreError};

/// Runs a slow credential check off the async threads.
async fn blocking<T: Send + 'static>(
    job: impl FnOnce() -> Result<T, AccountError> + Send + 'static,
) -> Result<T, CoreError> {
    tokio::task::spawn_blocking(job)
        .await
        .map_err(|e| CoreError::Unavailable(format!("the password check did not finish: {e}")))?
        .map_err(CoreError::from)
}

impl Core {
    /// Sets (or resets) an agent's login email and password (admin).
    pub async fn set_password(
        &self,
        agent_id: &str,
        email: &str,
        password: &str,
    ) -> Result<(), CoreError> {
        if self.routing.agent(agent_id).is_none() {
            return Err(CoreError::NotFound(format!("no agent {agent_id}")));
        }
        let (accounts, agent, email, password) = (
            self.accounts.clone(),
            agent_id.to_string(),
            email.to_string(),
            password.to_string(),
        );
        let seq =
            blocking(move || accounts.set_password(&agent, &email, &password, now_ms())).await?;
        self.store.durable(seq).await?;
        tracing::info!(agent = agent_id, "password set");
        Ok(())
    }

    /// The login email an agent signs in with, if it has a password.
    pub fn login_email(&self, agent_id: &str) -> Result<Option<String>, CoreError> {
        Ok(self.accounts.credential(agent_id)?.map(|c| c.email))
    }

    /// Checks a login and password and opens a session: its token (for the
    /// cookie), the session and the agent. A deactivated agent is refused
    /// like a wrong password.
    pub async fn sign_in(
        &self,
        login: &str,
        password: &str,
    ) -> Result<(String, Session, Agent), CoreError> {
        let (accounts, login, password) = (
            self.accounts.clone(),
            login.to_string(),
            password.to_string(),
        );
        let agent_id = blocking(move || accounts.check(&login, &password)).await?;
        let agent = self
            .routing
            .agent(&agent_id)
            .filter(|a| !a.deactivated)
            .ok_or(CoreError::Account(AccountError::WrongPassword))?;
        let (token, session, seq) = self.accounts.open_session(&agent_id, now_ms())?;
        self.store.durable(seq).await?;
        tracing::info!(agent = %agent_id, "signed in");
        Ok((token, session, agent))
    }

    /// The agent and session behind a cookie's token, while both are valid.
    pub fn session(&self, token: &str) -> Option<(Agent, Session)> {
        let session = self.accounts.session(token, now_ms()).ok()??;
        let agent = self
            .routing
            .agent(&session.agent_id)
            .filter(|a| !a.deactivated)?;
        Some((agent, session))
    }

    /// Ends a session.
    pub async fn sign_out(&self, token: &str) -> Result<(), CoreError> {
        let seq = self.accounts.close_session(token)?;
        self.store.durable(seq).await?;
        Ok(())
    }
}
