//! Every key the host writes, in one place: the record each prefix holds,
//! its owner, and how the rest of the key is built. Keys sort the way
//! their scans need (ids and `{:016x}` times are fixed-width), so a prefix
//! scan returns records in order.
//!
//! The formats are the on-disk layout of existing data directories: change
//! one only with a migration.

use super::queue::QueueKeys;

// ---- customers (owner: `customers`) -----------------------------------------

/// The prefix of every customer profile.
pub const CUSTOMERS: &str = "cust/";

/// `cust/<id>` → a customer profile (JSON).
pub fn customer(id: &str) -> String {
    format!("{CUSTOMERS}{id}")
}

/// `ident/<kind:value>` → the id of the customer owning an identity.
pub fn identity(identity_key: &str) -> String {
    format!("ident/{identity_key}")
}

/// `tl/<customer>/<at>/<message>` → empty: the customer's timeline, in time
/// order.
pub fn timeline(customer: &str, at: u64, message: &str) -> String {
    format!("{}{at:016x}/{message}", timeline_of(customer))
}

/// The prefix of one customer's timeline entries.
pub fn timeline_of(customer: &str) -> String {
    format!("tl/{customer}/")
}

/// Prefix of the audit log: `audit/<seq>` → an audit entry (JSON).
pub const AUDIT: &str = "audit/";

/// `audit/<seq>`.
pub fn audit(seq: u64) -> String {
    format!("{AUDIT}{seq:016x}")
}

/// Prefix of merge suggestions: `suggest/<a>/<b>` → a suggestion (JSON).
pub const SUGGESTIONS: &str = "suggest/";

/// `suggest/<a>/<b>` (the two customer ids, in order).
pub fn suggestion(a: &str, b: &str) -> String {
    format!("{SUGGESTIONS}{a}/{b}")
}

// ---- conversations (owner: `conversations`) ---------------------------------

/// `conv/<id>` → a conversation (JSON).
pub fn conversation(id: &str) -> String {
    format!("{CONVERSATIONS}{id}")
}

/// `convopen/<customer>/<channel>/<thread>` → the id of the open
/// conversation on that thread.
pub fn open_conversation(customer: &str, channel: &str, thread: &str) -> String {
    format!("convopen/{customer}/{channel}/{thread}")
}

/// `surveyopen/<customer>/<channel>/<thread>` → the id of the resolved
/// conversation whose survey waits for her answer on that thread.
pub fn open_survey(customer: &str, channel: &str, thread: &str) -> String {
    format!("surveyopen/{customer}/{channel}/{thread}")
}

/// `convcust/<customer>/<conversation>` → empty: a customer's
/// conversations.
pub fn customer_conversation(customer: &str, conversation: &str) -> String {
    format!("{}{conversation}", conversations_of(customer))
}

/// The prefix of one customer's conversations.
pub fn conversations_of(customer: &str) -> String {
    format!("convcust/{customer}/")
}

/// `msg/<id>` → a message (JSON).
pub fn message(id: &str) -> String {
    format!("msg/{id}")
}

/// `convmsg/<conversation>/<at>/<message>` → empty: a conversation's
/// messages in time order.
pub fn conversation_message(conversation: &str, at: u64, message: &str) -> String {
    format!("{}{at:016x}/{message}", messages_of(conversation))
}

/// The prefix of one conversation's messages.
pub fn messages_of(conversation: &str) -> String {
    format!("convmsg/{conversation}/")
}

/// `note/<conversation>/<at>/<note>` → an internal note (JSON), in time
/// order.
pub fn note(conversation: &str, at: u64, note: &str) -> String {
    format!("{}{at:016x}/{note}", notes_of(conversation))
}

/// The prefix of one conversation's notes.
pub fn notes_of(conversation: &str) -> String {
    format!("note/{conversation}/")
}

/// Prefix of every conversation record (`conv/<id>`), for listing.
pub const CONVERSATIONS: &str = "conv/";

// ---- canned responses (owner: `canned`) --------------------------------------

/// Prefix of canned responses: `canned/<id>` → a canned response (JSON).
pub const CANNED: &str = "canned/";

/// `cred/<agent id>` → an agent's login email and password hash.
pub fn credential(agent: &str) -> String {
    format!("cred/{agent}")
}

/// `cred-email/<email>` → the agent id whose login it is.
pub fn credential_email(email: &str) -> String {
    format!("cred-email/{email}")
}

/// `session/<sha-256 of the cookie's token>` → a signed-in browser.
pub fn session(digest: &str) -> String {
    format!("session/{digest}")
}

/// `upload/<id>` → a file an agent uploaded to send.
pub fn upload(id: &str) -> String {
    format!("{UPLOADS}{id}")
}

/// The prefix of [`upload`] keys.
pub const UPLOADS: &str = "upload/";

/// `file/<sha-256>` → what is known of a blob agents sent (type, name), for
/// serving its links.
pub fn file(sha256: &str) -> String {
    format!("file/{sha256}")
}

/// The prefix of [`media`] records.
pub const MEDIA: &str = "media/";

/// `media/<message id>/<attachment index>` → the stored file of one
/// attachment (its blob's hash, type, size and name).
pub fn media(message: &str, index: usize) -> String {
    format!("media/{message}/{index:04}")
}

/// `canned/<id>`.
pub fn canned(id: &str) -> String {
    format!("{CANNED}{id}")
}

/// `pmid/in/<channel>/<provider id>` → the message stored for a provider's
/// inbound message id (the idempotency key of webhooks).
pub fn inbound_provider_id(channel: &str, provider_id: &str) -> String {
    format!("pmid/in/{channel}/{provider_id}")
}

/// `pmid/out/<channel>/<provider id>` → our outbound message the provider
/// knows by that id (where its status reports land).
pub fn outbound_provider_id(channel: &str, provider_id: &str) -> String {
    format!("pmid/out/{channel}/{provider_id}")
}

// ---- routing (owner: `routing`) ---------------------------------------------

/// Prefix of tasks: `task/<id>` → a task (JSON).
pub const TASKS: &str = "task/";

/// `task/<id>`.
pub fn task(id: &str) -> String {
    format!("{TASKS}{id}")
}

/// Prefix of finished (completed or canceled) tasks: `taskdone/<id>` → a
/// task (JSON). Kept apart from `task/`, so start-up reads live work only.
pub const DONE_TASKS: &str = "taskdone/";

/// `taskdone/<id>`.
pub fn done_task(id: &str) -> String {
    format!("{DONE_TASKS}{id}")
}

/// `donecust/<customer>/<task>` → empty: a customer's finished tasks.
pub fn customer_done_task(customer: &str, task: &str) -> String {
    format!("{}{task}", customer_done_tasks(customer))
}

/// The prefix of one customer's finished tasks.
pub fn customer_done_tasks(customer: &str) -> String {
    format!("donecust/{customer}/")
}

/// `doneagent/<agent>/<conversation>` → the customer id: a conversation an
/// agent worked on in a finished task (what she may still read).
pub fn agent_done_conversation(agent: &str, conversation: &str) -> String {
    format!("{}{conversation}", agent_done_conversations(agent))
}

/// The prefix of the conversations one agent worked on in finished tasks.
pub fn agent_done_conversations(agent: &str) -> String {
    format!("doneagent/{agent}/")
}

/// `stats/totals` → the all-time figures of finished tasks (JSON).
pub const TASK_TOTALS: &str = "stats/totals";

/// Prefix of agents: `agent/<id>` → an agent (JSON).
pub const AGENTS: &str = "agent/";

/// `agent/<id>`.
pub fn agent(id: &str) -> String {
    format!("{AGENTS}{id}")
}

/// Prefix of agent tokens: `agenttok/<sha256 hex>` → the agent id. Kept out
/// of the agent record, so the record is what the API shows.
pub const AGENT_TOKENS: &str = "agenttok/";

/// `agenttok/<digest>`.
pub fn agent_token(digest: &str) -> String {
    format!("{AGENT_TOKENS}{digest}")
}

// ---- the core's stages (owner: `core`) --------------------------------------

/// Replies and call actions waiting for their channel plugin.
pub const OUTBOX: QueueKeys = QueueKeys {
    pending: "outbox/",
    dead: "deadletter/",
};

/// Customer events waiting for a CRM plugin.
pub const CRM_EVENTS: QueueKeys = QueueKeys {
    pending: "crmq/",
    dead: "crmdead/",
};

/// What happened, waiting for the automation plugins; and their timers.
pub const AUTOMATIONS: QueueKeys = QueueKeys {
    pending: "autoq/",
    dead: "autodead/",
};

/// Inbound messages waiting for their conversation's bot.
pub const BOT_TURNS: QueueKeys = QueueKeys {
    pending: "botq/",
    dead: "botdead/",
};

/// Prefix of enrichment requests: `crmenrich/<customer>` → empty.
pub const CRM_ENRICH: &str = "crmenrich/";

/// `crmenrich/<customer>`.
pub fn crm_enrich(customer: &str) -> String {
    format!("{CRM_ENRICH}{customer}")
}

// ---- the event feed (owner: `feeds`) ----------------------------------------

/// Prefix of outbound webhooks: `feed/<id>` → a feed (JSON, with its secret).
pub const FEEDS: &str = "feed/";

/// `feed/<id>`.
pub fn feed(id: &str) -> String {
    format!("{FEEDS}{id}")
}

/// `feedcur/<id>` → the last history seq the feed has dealt with (decimal).
pub fn feed_cursor(id: &str) -> String {
    format!("feedcur/{id}")
}

/// `feeddead/<id>/<seq>` → an event the feed gave up on (JSON).
pub fn feed_dead(id: &str, seq: u64) -> String {
    format!("{}{seq:016x}", feed_dead_of(id))
}

/// The prefix of one feed's dead letters.
pub fn feed_dead_of(id: &str) -> String {
    format!("feeddead/{id}/")
}

/// `feedretry/<id>/<seq>` → a dead letter sent again, before new events
/// (JSON).
pub fn feed_retry(id: &str, seq: u64) -> String {
    format!("{}{seq:016x}", feed_retry_of(id))
}

/// The prefix of one feed's redriven events.
pub fn feed_retry_of(id: &str) -> String {
    format!("feedretry/{id}/")
}

// ---- sled trees beside the main keyspace (owner: `store`) -------------------

/// The tree of one plugin's private key-value store.
pub fn plugin_kv_tree(plugin: &str) -> String {
    format!("kv/{plugin}")
}

/// The tree of the admin's enable/disable toggles, by plugin name.
pub const PLUGIN_ENABLED_TREE: &str = "plugin-enabled";
