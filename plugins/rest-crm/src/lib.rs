//! A generic REST CRM connector.
//!
//! Customers become CRM contacts (found by email, then phone, else created,
//! then kept up to date), every message becomes an activity on the contact,
//! and every closed conversation a note with its transcript. An erased
//! customer's contact is deleted. Enrichment reads the contact's fields back
//! into profile attributes (e.g. `tier`).
//!
//! The contact id of each customer is kept in `kv` (`contact/<customer id>`)
//! so that most events cost one request. Errors tell the host what to do: a
//! CRM that cannot be reached or answers 408, 425, 429 or 5xx is
//! `unavailable` (retried later, the customer's next events wait), any other
//! refusal is `bad-request` (dead-lettered). See `README.md`.

mod mapping;

use serde_json::Value;
use switchboard_sdk::{Crm, CrmEvent, Customer, Metadata, PluginError, config, http, kv, log};

use mapping::{Settings, contact_id, contacts, emails, encode, phones, status_error};

struct RestCrm;

impl Crm for RestCrm {
    fn on_event(event: &CrmEvent) -> Result<(), PluginError> {
        let client = Client::new()?;
        match event {
            CrmEvent::CustomerCreated(customer) | CrmEvent::CustomerUpdated(customer) => {
                client.upsert(customer)
            }
            CrmEvent::CustomersMerged(merge) => {
                // The merged profile is gone: its contact (if it had its own)
                // stays in the CRM for its admins to merge, but no longer
                // receives anything.
                forget(&merge.merged_id);
                client.upsert(&merge.survivor)
            }
            CrmEvent::InteractionLogged(interaction) => {
                let body = mapping::activity_body(&interaction.entry);
                let key = format!("activity-{}", interaction.entry.id);
                client.on_contact(&interaction.customer, |id| {
                    client.post(&format!("/contacts/{}/activities", encode(id)), &body, &key)
                })
            }
            CrmEvent::ConversationClosed(closed) => {
                let body = mapping::note_body(
                    &closed.conversation_id,
                    &closed.channel,
                    closed.disposition.as_deref(),
                    &closed.transcript,
                );
                let key = format!("note-{}", closed.conversation_id);
                client.on_contact(&closed.customer, |id| {
                    client.post(&format!("/contacts/{}/notes", encode(id)), &body, &key)
                })
            }
            CrmEvent::NoteAdded(note) => {
                let body = mapping::internal_note_body(note);
                let key = format!("internal-note-{}", note.id);
                client.on_contact(&note.customer, |id| {
                    client.post(&format!("/contacts/{}/notes", encode(id)), &body, &key)
                })
            }
            CrmEvent::CustomerErased(erased) => client.erase(&erased.customer),
        }
    }

    fn enrich(customer: &Customer) -> Result<Metadata, PluginError> {
        let client = Client::new()?;
        if client.settings.enrich_fields.is_empty() {
            return Ok(Vec::new());
        }
        let contact = match client.search(customer)? {
            Some(contact) => Some(contact),
            None => match cached(&customer.id)? {
                Some(id) => client.get_contact(&customer.id, &id)?,
                None => None,
            },
        };
        Ok(contact
            .map(|c| client.settings.attributes_from(&c))
            .unwrap_or_default())
    }
}

switchboard_sdk::register_crm!(RestCrm);

/// Why a request did not succeed.
enum Failure {
    /// 404 or 410: the contact it addressed no longer exists.
    Gone(PluginError),
    /// Anything else, already classified for the host.
    Error(PluginError),
}

impl From<Failure> for PluginError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Gone(e) | Failure::Error(e) => e,
        }
    }
}

impl From<PluginError> for Failure {
    fn from(e: PluginError) -> Self {
        Failure::Error(e)
    }
}

struct Client {
    settings: Settings,
}

impl Client {
    fn new() -> Result<Client, PluginError> {
        Ok(Client {
            settings: Settings::read(config::get)?,
        })
    }

    /// Sends a request to `{api_base}{path}`; a 2xx answer's JSON body (an
    /// empty or non-JSON body reads as `null`).
    fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Result<Value, Failure> {
        let what = format!("{method} {}", path.split('?').next().unwrap_or(path));
        let mut request = http::Request::new(method, format!("{}{path}", self.settings.api_base))
            .bearer(&self.settings.token)
            .header("accept", "application/json")
            .timeout_ms(self.settings.request_timeout_ms);
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        let response = http::send(request).map_err(|e| {
            let e = PluginError::from(e);
            Failure::Error(PluginError::new(
                e.kind,
                format!("{what} failed: {}", e.message),
            ))
        })?;
        if !response.is_success() {
            let error = status_error(response.status, &what, &response.body);
            return Err(if matches!(response.status, 404 | 410) {
                Failure::Gone(error)
            } else {
                Failure::Error(error)
            });
        }
        Ok(serde_json::from_slice(&response.body).unwrap_or(Value::Null))
    }

    fn post(&self, path: &str, body: &Value, idempotency_key: &str) -> Result<(), Failure> {
        self.send("POST", path, Some(body), Some(idempotency_key))
            .map(drop)
    }

    /// The first contact matching one of the customer's emails, else one of
    /// its phone numbers; remembered for the customer.
    fn search(&self, customer: &Customer) -> Result<Option<Value>, PluginError> {
        let queries = emails(customer)
            .map(|e| ("email", e))
            .chain(phones(customer).map(|p| ("phone", p)));
        for (field, value) in queries {
            let answer = self.send(
                "GET",
                &format!("/contacts?{field}={}", encode(value)),
                None,
                None,
            )?;
            if let Some((contact, id)) = contacts(&answer)
                .into_iter()
                .find_map(|c| contact_id(&c).map(|id| (c, id)))
            {
                remember(&customer.id, &id);
                return Ok(Some(contact));
            }
        }
        Ok(None)
    }

    /// `GET /contacts/{id}`; `None` (and forgotten) when it is gone.
    fn get_contact(&self, customer_id: &str, id: &str) -> Result<Option<Value>, PluginError> {
        match self.send("GET", &format!("/contacts/{}", encode(id)), None, None) {
            Ok(contact) => Ok(Some(contact)),
            Err(Failure::Gone(_)) => {
                forget(customer_id);
                Ok(None)
            }
            Err(Failure::Error(e)) => Err(e),
        }
    }

    /// Creates the customer's contact; returns its id.
    fn create(&self, customer: &Customer) -> Result<String, PluginError> {
        let answer = self.send(
            "POST",
            "/contacts",
            Some(&self.settings.contact_body(customer)),
            Some(&format!("contact-{}", customer.id)),
        )?;
        let id = contact_id(&answer).ok_or_else(|| {
            PluginError::bad_request("CRM answered POST /contacts without the new contact's `id`")
        })?;
        remember(&customer.id, &id);
        Ok(id)
    }

    fn update(&self, id: &str, customer: &Customer) -> Result<(), Failure> {
        self.send(
            "PATCH",
            &format!("/contacts/{}", encode(id)),
            Some(&self.settings.contact_body(customer)),
            None,
        )
        .map(drop)
    }

    /// Finds or creates the customer's contact, then brings it up to date
    /// (a contact just created already is).
    fn upsert(&self, customer: &Customer) -> Result<(), PluginError> {
        if let Some(id) = cached(&customer.id)? {
            match self.update(&id, customer) {
                Err(Failure::Gone(_)) => forget(&customer.id),
                other => return other.map_err(PluginError::from),
            }
        }
        match self.search(customer)?.as_ref().and_then(contact_id) {
            Some(id) => self.update(&id, customer).map_err(PluginError::from),
            None => self.create(customer).map(drop),
        }
    }

    /// Deletes the customer's contact (remembered or found by email or
    /// phone), and forgets it. No contact, or one already gone, is done.
    fn erase(&self, customer: &Customer) -> Result<(), PluginError> {
        let id = match cached(&customer.id)? {
            Some(id) => Some(id),
            None => self.search(customer)?.as_ref().and_then(contact_id),
        };
        if let Some(id) = id {
            match self.send("DELETE", &format!("/contacts/{}", encode(&id)), None, None) {
                Ok(_) | Err(Failure::Gone(_)) => {}
                Err(Failure::Error(e)) => return Err(e),
            }
        }
        forget(&customer.id);
        Ok(())
    }

    /// The customer's contact id: remembered, found, or created.
    fn resolve(&self, customer: &Customer) -> Result<(String, bool), PluginError> {
        if let Some(id) = cached(&customer.id)? {
            return Ok((id, true));
        }
        let id = match self.search(customer)?.as_ref().and_then(contact_id) {
            Some(id) => id,
            None => self.create(customer)?,
        };
        Ok((id, false))
    }

    /// Runs `action` on the customer's contact. A remembered contact that
    /// turns out to be gone is looked up (or created) again, once.
    fn on_contact(
        &self,
        customer: &Customer,
        action: impl Fn(&str) -> Result<(), Failure>,
    ) -> Result<(), PluginError> {
        let (id, remembered) = self.resolve(customer)?;
        match action(&id) {
            Err(Failure::Gone(_)) if remembered => {
                log::info(format!(
                    "contact {id} of customer {} is gone from the CRM; looking it up again",
                    customer.id
                ));
                forget(&customer.id);
                let (id, _) = self.resolve(customer)?;
                action(&id).map_err(PluginError::from)
            }
            other => other.map_err(PluginError::from),
        }
    }
}

fn cache_key(customer_id: &str) -> String {
    format!("contact/{customer_id}")
}

/// The remembered contact id of a customer.
fn cached(customer_id: &str) -> Result<Option<String>, PluginError> {
    kv::get(&cache_key(customer_id))
        .map(|v| v.and_then(|bytes| String::from_utf8(bytes).ok()))
        .map_err(|e| PluginError::unavailable(format!("reading the contact cache: {e:?}")))
}

/// Remembers a customer's contact id. Failing to is not fatal (the CRM
/// already has what was sent): the next event looks the contact up again.
fn remember(customer_id: &str, contact_id: &str) {
    if let Err(e) = kv::set(&cache_key(customer_id), contact_id.as_bytes()) {
        log::warn(format!("caching contact {contact_id}: {e:?}"));
    }
}

fn forget(customer_id: &str) {
    if let Err(e) = kv::delete(&cache_key(customer_id)) {
        log::warn(format!("forgetting the contact of {customer_id}: {e:?}"));
    }
}
