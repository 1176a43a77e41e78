#!/usr/bin/env bash
# The cross-channel story, driven with curl against a running host, every
# webhook signed the way its provider signs it.
#
#   SWITCHBOARD_ADMIN_TOKEN=secret cargo run --release -- --config examples/switchboard.toml
#   SWITCHBOARD_ADMIN_TOKEN=secret examples/demo.sh
#
# Sheena Nelson writes on WhatsApp, sends an SMS, calls, emails and finally
# opens the web chat with her email and phone in the pre-chat form. Agent
# Ana takes each contact. At the end there is one customer with one
# timeline across the five channels.
#
# The secrets below are the ones in examples/switchboard.toml. Replies and
# call actions go to the real providers' APIs (api_base): without network
# access or real credentials they stay in the outbox, retried with backoff
# (see GET /api/outbox). Needs curl, openssl and jq.
set -euo pipefail

BASE=${BASE:-http://127.0.0.1:8080}
# The URL the providers call: Twilio signs it (public_base_url in the config).
PUBLIC_BASE_URL=${PUBLIC_BASE_URL:-http://127.0.0.1:8080}
ADMIN=${SWITCHBOARD_ADMIN_TOKEN:?set SWITCHBOARD_ADMIN_TOKEN to the host admin token}
WA_SECRET=demo-whatsapp-app-secret
TWILIO_SID=AC3f8a2c1d9e7b6a5f4c3d2e1f0a9b8c7d
TWILIO_TOKEN=demo-twilio-auth-token
MAILGUN_KEY=demo-mailgun-signing-key
# The shop's identity secret: its backend signs the visitor it has signed in.
SITE_SECRET=demo-site-identity-secret
# Unique ids per run, so that running the demo again tells a new story
# (provider ids are idempotency keys: a replay would change nothing).
RUN=${RUN:-$(date +%s)$RANDOM}
AGENT=${AGENT:-ana-$RUN}

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
api() { # api METHOD PATH TOKEN [JSON]
  curl -fsS -X "$1" "$BASE$2" -H "authorization: Bearer $3" \
    -H 'content-type: application/json' ${4:+-d "$4"}
}

# ---- signatures ---------------------------------------------------------------
meta_signature() { # body -> sha256=<hex hmac>
  printf 'sha256=%s' "$(printf '%s' "$1" | openssl dgst -sha256 -hmac "$WA_SECRET" -r | cut -d' ' -f1)"
}
# twilio_post PATH NAME=VALUE...: POSTs the form, signed over the public URL
# followed by every parameter name and value sorted by name.
twilio_post() {
  local path=$1; shift
  local payload="$PUBLIC_BASE_URL$path" args=() pair
  while IFS= read -r pair; do
    payload+="${pair%%=*}${pair#*=}"
  done < <(printf '%s\n' "$@" | LC_ALL=C sort -t= -k1,1 -s)
  for pair in "$@"; do args+=(--data-urlencode "$pair"); done
  local sig
  sig=$(printf '%s' "$payload" | openssl dgst -sha1 -hmac "$TWILIO_TOKEN" -binary | base64)
  curl -fsS "$BASE$path" -H "x-twilio-signature: $sig" "${args[@]}"
}
# mailgun_post NAME=VALUE...: adds timestamp, token and their signature.
mailgun_post() {
  local timestamp token sig args=() pair
  timestamp=$(date +%s)
  token=$(openssl rand -hex 25)
  sig=$(printf '%s%s' "$timestamp" "$token" | openssl dgst -sha256 -hmac "$MAILGUN_KEY" -r | cut -d' ' -f1)
  for pair in "$@"; do args+=(--data-urlencode "$pair"); done
  curl -fsS "$BASE/webhooks/email" "${args[@]}" \
    --data-urlencode "timestamp=$timestamp" --data-urlencode "token=$token" \
    --data-urlencode "signature=$sig"
}

# ---- the agent ----------------------------------------------------------------
# Waits for a task from CHANNEL offered to the agent, accepts it, prints it.
take() {
  local channel=$1 task=""
  for _ in $(seq 1 100); do
    task=$(api GET "/api/agents/$AGENT/tasks" "$ANA" |
      jq -c --arg c "$channel" '[.[] | select(.state == "reserved" and .channel == $c)][0] // empty')
    [ -n "$task" ] && break
    sleep 0.1
  done
  [ -n "$task" ] || { echo "no $channel task was offered to $AGENT" >&2; exit 1; }
  api POST "/api/tasks/$(jq -r .id <<<"$task")/accept" "$ANA" >/dev/null
  echo "$task"
}
complete() { # TASK_JSON DISPOSITION
  api POST "/api/tasks/$(jq -r .id <<<"$1")/complete" "$ANA" "{\"disposition\":\"$2\"}" |
    jq -c '{id, state, disposition}'
}

say "Ana signs in (an admin creates her; the answer carries her token)"
ANA=$(api PUT "/api/agents/$AGENT" "$ADMIN" \
  '{"name":"Ana","languages":["en"],"capacity":{"voice":1,"chat":2,"messaging":3,"email":5},"voice_endpoint":"client:ana"}' |
  jq -r .token)
api POST "/api/agents/$AGENT/status" "$ANA" '{"status":"available"}' | jq -c '{id, status}'

say "1. WhatsApp: Sheena writes (X-Hub-Signature-256)"
WA_BODY=$(cat <<JSON
{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{
 "messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
 "contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":"16505551234"}],
 "messages":[{"from":"16505551234","id":"wamid.demo-$RUN","timestamp":"$(date +%s)","type":"text",
  "text":{"body":"Hi, my order #4821 hasn't arrived yet."}}]}}]}]}
JSON
)
curl -fsS "$BASE/webhooks/whatsapp" -H 'content-type: application/json' \
  -H "x-hub-signature-256: $(meta_signature "$WA_BODY")" --data-binary "$WA_BODY"
echo
TASK=$(take whatsapp)
CONV=$(jq -r .conversation_id <<<"$TASK")
CUSTOMER=$(jq -r .customer_id <<<"$TASK")
echo "Ana accepted $(jq -r .id <<<"$TASK") for customer $CUSTOMER"
api POST "/api/conversations/$CONV/messages" "$ANA" '{"text":"Sorry about that, let me check."}' |
  jq -c '{id, status, text}'
complete "$TASK" "investigating"

say "2. SMS: she follows up (X-Twilio-Signature)"
twilio_post /webhooks/sms "MessageSid=SMdemo$RUN" "AccountSid=$TWILIO_SID" "From=+16505551234" \
  "To=+14155550100" "Body=Any update on order 4821?" "NumMedia=0"
echo
complete "$(take sms)" "answered"

say "3. Voice: she calls; the answer is TwiML that greets and enqueues her"
twilio_post /webhooks/voice "CallSid=CAdemo$RUN" "AccountSid=$TWILIO_SID" "From=+16505551234" \
  "To=+14155550100" "CallStatus=ringing" "Direction=inbound"
echo
CALL=$(take voice)
echo "Ana accepted the call: the host asks Twilio to <Dial><Client>ana</Client></Dial> (outbox)"
twilio_post /webhooks/voice/status "CallSid=CAdemo$RUN" "AccountSid=$TWILIO_SID" "From=+16505551234" \
  "To=+14155550100" "CallStatus=completed" "CallDuration=95" >/dev/null
echo "Sheena hung up after 95 s: the task is wrapping until Ana completes it"
complete "$CALL" "reshipped"

say "4. Email: she writes to support (Mailgun signature)"
mailgun_post "recipient=support@shop.example.com" "sender=sheena.nelson@example.com" \
  "from=Sheena Nelson <sheena.nelson@example.com>" "subject=Order 4821 still missing" \
  "body-plain=I wrote on WhatsApp earlier today. Order 4821 is still missing." \
  "stripped-text=I wrote on WhatsApp earlier today. Order 4821 is still missing." \
  "Message-Id=<demo-$RUN@mail.example.com>"
echo
EMAIL=$(take email)
api POST "/api/conversations/$(jq -r .conversation_id <<<"$EMAIL")/messages" "$ANA" \
  '{"text":"We have reshipped it."}' | jq -c '{id, status, text}'

say "5. Web chat: signed in on the shop, she is vouched for (identifier_hash), so her email and phone link"
# A visitor's typed email or phone is only a claim; the shop's backend proves
# who she is with HMAC-SHA256(identity secret, her email).
HASH=$(printf '%s' "Sheena.Nelson@Example.com" | openssl dgst -sha256 -hmac "$SITE_SECRET" -r | cut -d' ' -f1)
curl -fsS "$BASE/webhooks/webchat" -H 'content-type: application/json' -d "{\"session_id\":\"wc-$RUN\",
  \"visitor\":{\"name\":\"Sheena\",\"email\":\"Sheena.Nelson@Example.com\",\"phone\":\"+1 650-555-1234\",\"identifier_hash\":\"$HASH\"},
  \"text\":\"Still waiting on order 4821, can someone help?\"}" | jq -c '{session_id, message_id}'
CHAT=$(take webchat)

say "One customer, one timeline"
BY_EMAIL=$(api GET "/api/customers?identity=email:sheena.nelson@example.com" "$ADMIN" | jq -r '.[0].id')
BY_PHONE=$(api GET "/api/customers?identity=phone:%2B16505551234" "$ADMIN" | jq -r '.[0].id')
echo "by email: $BY_EMAIL   by phone: $BY_PHONE"
[ "$BY_EMAIL" = "$BY_PHONE" ] || { echo "two customers: the story broke" >&2; exit 1; }
api GET "/api/customers/$BY_EMAIL/timeline" "$ADMIN" |
  jq -r --arg from "$(jq -r .customer_id <<<"$CHAT")" '.[] | "\(.channel)\t\(.author)\t\(.text)"'
CHANNELS=$(api GET "/api/customers/$BY_EMAIL/timeline" "$ADMIN" | jq -r '[.[].channel] | unique | join(",")')
echo "channels: $CHANNELS"
[ "$CHANNELS" = "email,sms,voice,webchat,whatsapp" ] || { echo "missing channels" >&2; exit 1; }
say "done"
