#!/usr/bin/env bash
# Schemathesis against the server's own /openapi.json, on loopback only.
#   bench/server/schemathesis.sh [max-examples]
# Installs schemathesis into a venv OUTSIDE the repo (/work/peers/venv-st, or $ST_VENV),
# starts the load bench's server child over a fresh SQLite database with the flagship
# scenario, and runs every operation with the checks for server errors and for responses
# that do not conform to the schema (status codes, content types, bodies).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${ST_VENV:-/work/peers/venv-st}"
examples="${1:-50}"
if [ ! -x "$venv/bin/schemathesis" ] && [ ! -x "$venv/bin/st" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q schemathesis
fi
st="$venv/bin/schemathesis"; [ -x "$st" ] || st="$venv/bin/st"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
cd "$root"
profile="${ST_PROFILE:-dev}"   # ST_PROFILE=release for an optimised server
cargo build -q -p sallyport-server --profile "$profile" --example st-server
dir=debug; [ "$profile" = dev ] || dir="$profile"
work="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
"$CARGO_TARGET_DIR/$dir/examples/st-server" "sqlite://$work/st.db" 127.0.0.1:0 > "$work/out" 2> "$work/err" &
pid=$!
for _ in $(seq 1 120); do grep -q LISTENING "$work/out" && break; sleep 0.5; done
addr="$(sed -n 's/^LISTENING //p' "$work/out")"
token="$(sed -n 's/^TOKEN //p' "$work/out")"
echo "server at http://$addr" >&2
"$st" run "http://$addr/openapi.json" \
  --url "http://$addr" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples "$examples" \
  --exclude-path /api/v1/live \
  --request-timeout 20 \
  "${@:2}"
