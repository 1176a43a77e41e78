//! Conveniences on the generated WIT types.

use crate::{
    Attachment, AttestedIdentity, Candidates, ChannelEvent, Customer, DeliveryError, ErrorKind,
    Handle, HttpRequest, HttpResponse, Identity, Media, OutboundMessage, PluginError, RouteTask,
    SkillRequirement, Trust, WebhookOutcome,
};

impl Media {
    /// What `fetch-media` returns for `attachment` once the provider sent
    /// the file: its bytes, the type the provider's answer names (else the
    /// attachment's) and the attachment's file name.
    pub fn downloaded(attachment: &Attachment, file: crate::http::Response) -> Media {
        Media {
            content_type: file
                .header("content-type")
                .map(str::to_string)
                .unwrap_or_else(|| attachment.content_type.clone()),
            filename: attachment.filename.clone(),
            data: file.body,
        }
    }
}

impl ErrorKind {
    /// The HTTP status the host answers a webhook with for this kind.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::BadRequest => 400,
            ErrorKind::Unauthorized => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::Unavailable => 503,
            ErrorKind::Internal => 500,
        }
    }
}

impl PluginError {
    /// An error of the given kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        PluginError {
            kind,
            message: message.into(),
        }
    }
    /// Malformed input (HTTP 400).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, message)
    }
    /// Missing or wrong credentials or signature (HTTP 401).
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthorized, message)
    }
    /// Authenticated but not allowed (HTTP 403).
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, message)
    }
    /// Unknown resource (HTTP 404).
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    /// A dependency is down; retrying later may help (HTTP 503).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }
    /// A fault in the plugin (HTTP 500, counted as a plugin failure).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
}

impl OutboundMessage {
    /// The latest non-empty value of a metadata key the channel attached to
    /// the conversation's last inbound message (e.g. the number or address
    /// the customer wrote to), for replying from the same place.
    pub fn metadata_value(&self, key: &str) -> Option<&str> {
        self.metadata
            .iter()
            .rev()
            .find(|(k, v)| k == key && !v.trim().is_empty())
            .map(|(_, v)| v.as_str())
    }
}

impl DeliveryError {
    /// A failure that may go away: the host retries with backoff.
    pub fn retryable(message: impl Into<String>) -> Self {
        DeliveryError {
            retryable: true,
            message: message.into(),
        }
    }
    /// A failure that will not go away: the host does not retry.
    pub fn permanent(message: impl Into<String>) -> Self {
        DeliveryError {
            retryable: false,
            message: message.into(),
        }
    }
    /// Classifies a provider's HTTP error status: 408, 425, 429 and 5xx are
    /// retryable, everything else is permanent.
    pub fn from_status(status: u16, body: &[u8]) -> Self {
        let text = String::from_utf8_lossy(&body[..body.len().min(512)]);
        let message = format!("provider answered {status}: {text}");
        if matches!(status, 408 | 425 | 429) || status >= 500 {
            Self::retryable(message)
        } else {
            Self::permanent(message)
        }
    }
}

impl Identity {
    /// An email identity.
    pub fn email(address: impl Into<String>) -> Self {
        Identity::Email(address.into())
    }
    /// A phone identity.
    pub fn phone(number: impl Into<String>) -> Self {
        Identity::Phone(number.into())
    }
    /// A channel handle identity.
    pub fn handle(channel: impl Into<String>, value: impl Into<String>) -> Self {
        Identity::Handle(Handle {
            channel: channel.into(),
            value: value.into(),
        })
    }

    /// This identity, authenticated by the provider under a signature the
    /// channel checked (a WhatsApp `wa_id`, a Twilio `From`, a Mailgun
    /// sender): it links the message to the customer who owns it.
    pub fn verified(self) -> AttestedIdentity {
        AttestedIdentity {
            identity: self,
            trust: Trust::Verified,
        }
    }

    /// This identity as the sender typed it, unchecked (a pre-chat form):
    /// the sender gets a profile of its own, shown as "claims to be …".
    pub fn claimed(self) -> AttestedIdentity {
        AttestedIdentity {
            identity: self,
            trust: Trust::Claimed,
        }
    }
}

impl AttestedIdentity {
    /// Whether the provider authenticated it.
    pub fn is_verified(&self) -> bool {
        self.trust == Trust::Verified
    }
}

impl Customer {
    /// The identities the customer is known by (verified), without what a
    /// sender merely claimed.
    pub fn verified_identities(&self) -> impl Iterator<Item = &Identity> {
        self.identities
            .iter()
            .filter(|i| i.is_verified())
            .map(|i| &i.identity)
    }
}

impl HttpRequest {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// The path without the query string.
    pub fn path(&self) -> &str {
        self.path_with_query
            .split_once('?')
            .map_or(self.path_with_query.as_str(), |(p, _)| p)
    }
    /// The raw query string (without `?`), empty when there is none.
    pub fn query(&self) -> &str {
        self.path_with_query.split_once('?').map_or("", |(_, q)| q)
    }
    /// The query string decoded into pairs, in order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        serde_urlencoded::from_str(self.query()).unwrap_or_default()
    }
    /// The value of one query parameter.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_pairs()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
    /// The part of the path after `/webhooks/<plugin>`, always starting with
    /// `/` (just `/` for the webhook root).
    pub fn subpath(&self) -> &str {
        let path = self.path();
        let rest = path.strip_prefix("/webhooks/").unwrap_or(path);
        match rest.find('/') {
            Some(i) if path.starts_with("/webhooks/") => &rest[i..],
            _ if path.starts_with("/webhooks/") => "/",
            _ => path,
        }
    }
    /// The body as UTF-8 text.
    pub fn text(&self) -> Result<&str, PluginError> {
        std::str::from_utf8(&self.body)
            .map_err(|_| PluginError::bad_request("request body is not valid UTF-8"))
    }
    /// The body parsed as JSON; a parse failure is a `bad-request` error.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, PluginError> {
        crate::webhook::parse_json(&self.body)
    }
    /// The body parsed as `application/x-www-form-urlencoded` pairs, in order;
    /// a parse failure is a `bad-request` error.
    pub fn form(&self) -> Result<Vec<(String, String)>, PluginError> {
        crate::webhook::parse_form(&self.body)
    }
}

impl HttpResponse {
    /// A response with this status and no body.
    pub fn empty(status: u16) -> Self {
        HttpResponse {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
    /// A `text/plain` response.
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        HttpResponse {
            status,
            headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
            body: body.into().into_bytes(),
        }
    }
    /// An `application/json` response.
    pub fn json<T: serde::Serialize>(status: u16, value: &T) -> Self {
        HttpResponse {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec()),
        }
    }
    /// A response with a body of the given content type (e.g. TwiML).
    pub fn with_body(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        HttpResponse {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.into(),
        }
    }
    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

impl WebhookOutcome {
    /// `200 OK` with an empty body, and these events.
    pub fn ok(events: Vec<ChannelEvent>) -> Self {
        WebhookOutcome {
            response: HttpResponse::empty(200),
            events,
        }
    }
    /// A response of the plugin's choosing, and these events.
    pub fn respond(response: HttpResponse, events: Vec<ChannelEvent>) -> Self {
        WebhookOutcome { response, events }
    }
}

impl RouteTask {
    /// A customer attribute of the task's customer, e.g. `tier`.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.customer_attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The agents (by number) who held the task and passed it on, oldest
    /// first: a policy may keep it from going back to them.
    pub fn transferred_from(&self) -> impl Iterator<Item = u32> + '_ {
        self.transfers.iter().filter_map(|hop| hop.from_agent)
    }
}

/// One agent among the [`Candidates`], as yielded by [`Candidates::iter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate<'a> {
    /// The agent's number: what [`crate::Decision::Assign`] takes.
    pub agent: u32,
    /// Milliseconds since the agent last finished or was given a task.
    pub idle_ms: u64,
    /// Tasks the agent holds now, across channels.
    pub load: u32,
    /// How many more tasks of this channel kind the agent can take.
    pub free: u32,
    /// The agent's level in each of the task's skills, in the task's order
    /// (0 = lacks the skill).
    pub skill_levels: &'a [u8],
    /// Whether the agent speaks the task's language.
    pub speaks_language: bool,
}

impl Candidate<'_> {
    /// Whether the agent meets every skill requirement of the task
    /// (`skills` must be the task's own list, which the levels follow).
    pub fn covers(&self, skills: &[SkillRequirement]) -> bool {
        skills
            .iter()
            .enumerate()
            .all(|(j, req)| self.skill_levels.get(j).copied().unwrap_or(0) >= req.min_level)
    }
    /// The sum of the agent's levels in the task's skills.
    pub fn skill_score(&self) -> u32 {
        self.skill_levels.iter().map(|&l| u32::from(l)).sum()
    }
}

/// Whether every level in `row` is at least the matching minimum in `mins`
/// (same length). Rows of up to four skills are compared without a loop:
/// loops in plugin code pay for the host's deadline check on every
/// iteration, and this runs for every candidate of every decision.
#[inline]
pub fn covers_row(row: &[u8], mins: &[u8]) -> bool {
    match (row, mins) {
        ([], []) => true,
        ([a], [x]) => a >= x,
        ([a, b], [x, y]) => (a >= x) & (b >= y),
        ([a, b, c], [x, y, z]) => (a >= x) & (b >= y) & (c >= z),
        ([a, b, c, d], [x, y, z, w]) => (a >= x) & (b >= y) & (c >= z) & (d >= w),
        _ => row.len() == mins.len() && row.iter().zip(mins).all(|(l, m)| l >= m),
    }
}

impl Candidates {
    /// The number of candidate agents.
    pub fn len(&self) -> usize {
        self.agents.len()
    }
    /// Whether there are no candidates.
    pub fn is_empty(&self) -> bool {
        self.agents.is_empty()
    }
    /// The candidate at `index`, if any.
    pub fn get(&self, index: usize) -> Option<Candidate<'_>> {
        let agent = *self.agents.get(index)?;
        let width = self.skill_width();
        let levels = self
            .skill_levels
            .get(index * width..(index + 1) * width)
            .unwrap_or(&[]);
        Some(Candidate {
            agent,
            idle_ms: self.idle_ms.get(index).copied().unwrap_or(0),
            load: self.load.get(index).copied().unwrap_or(0),
            free: self.free.get(index).copied().unwrap_or(0),
            skill_levels: levels,
            speaks_language: self.speaks_language.get(index).is_none_or(|&s| s != 0),
        })
    }
    /// Whether candidate `index` meets every skill requirement of the task
    /// (`skills` must be the task's own list). Cheaper than building a
    /// [`Candidate`] when a policy only filters.
    pub fn covers(&self, index: usize, skills: &[SkillRequirement]) -> bool {
        if skills.is_empty() {
            return true;
        }
        let row = index * skills.len();
        skills
            .iter()
            .enumerate()
            .all(|(j, req)| self.skill_levels.get(row + j).copied().unwrap_or(0) >= req.min_level)
    }
    /// The candidates one by one.
    pub fn iter(&self) -> impl Iterator<Item = Candidate<'_>> + '_ {
        (0..self.len()).filter_map(move |i| self.get(i))
    }
    /// How many skill levels each candidate's row holds.
    fn skill_width(&self) -> usize {
        self.skill_levels.len().checked_div(self.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidates() -> Candidates {
        Candidates {
            agents: vec![7, 9],
            idle_ms: vec![100, 500],
            load: vec![1, 0],
            free: vec![1, 2],
            skill_levels: vec![3, 0, 5, 2],
            speaks_language: vec![1, 0],
        }
    }

    #[test]
    fn covers_row_compares_every_level() {
        assert!(covers_row(&[], &[]));
        assert!(covers_row(&[3], &[3]));
        assert!(!covers_row(&[2], &[3]));
        assert!(covers_row(&[5, 1, 4], &[5, 1, 1]));
        assert!(!covers_row(&[5, 1, 4], &[5, 2, 1]));
        assert!(!covers_row(&[5, 5, 5, 0], &[1, 1, 1, 1]));
        assert!(covers_row(&[2, 2, 2, 2, 2], &[1, 2, 1, 2, 1]));
        assert!(!covers_row(&[2, 2, 2, 2, 0], &[1, 2, 1, 2, 1]));
        assert!(!covers_row(&[2], &[]), "rows and requirements must match");
    }

    #[test]
    fn candidates_iterate_by_row() {
        let skills = vec![
            SkillRequirement {
                name: "billing".into(),
                min_level: 2,
            },
            SkillRequirement {
                name: "es".into(),
                min_level: 1,
            },
        ];
        let c = candidates();
        let rows: Vec<_> = c.iter().collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].skill_levels, &[3, 0]);
        assert_eq!(rows[1].skill_levels, &[5, 2]);
        assert!(!rows[0].covers(&skills));
        assert!(rows[1].covers(&skills));
        assert_eq!(rows[1].skill_score(), 7);
        assert!(!rows[1].speaks_language);
    }

    #[test]
    fn request_helpers() {
        let req = HttpRequest {
            method: "POST".into(),
            path_with_query: "/webhooks/sms/status?a=1&b=x%20y".into(),
            headers: vec![("x-twilio-signature".into(), "abc".into())],
            body: b"From=%2B1555&Body=hi".to_vec(),
        };
        assert_eq!(req.header("X-Twilio-Signature"), Some("abc"));
        assert_eq!(req.path(), "/webhooks/sms/status");
        assert_eq!(req.subpath(), "/status");
        assert_eq!(req.query_param("b").as_deref(), Some("x y"));
        let form = req.form().unwrap();
        assert_eq!(form[0], ("From".into(), "+1555".into()));
        let root = HttpRequest {
            path_with_query: "/webhooks/sms".into(),
            ..req
        };
        assert_eq!(root.subpath(), "/");
    }

    #[test]
    fn delivery_errors_classify_statuses() {
        assert!(DeliveryError::from_status(503, b"down").retryable);
        assert!(DeliveryError::from_status(429, b"").retryable);
        assert!(!DeliveryError::from_status(400, b"bad").retryable);
    }
}
