#!/usr/bin/env bash
# Runs the whole system locally on 127.0.0.1: the fleet server (with the demo catalog), the
# reference agenda system, the reference SMS gateway (citizens' notices), one kiosk agent on simulated devices, 23 simulated kiosks
# (kiosk-sim), and the kiosk app in a window
# when there is a display. State lives in .run/ (delete it to start over).
# Submit like the kiosk app does with:  target/debug/kioskctl --socket .run/agent.sock ...
# Stop with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
cargo build --workspace --bins --quiet
BIN=target/debug
RUN=.run
# The UI renders with the project's own fonts.
export FONTCONFIG_FILE="$PWD/assets/fonts/fonts.conf"
mkdir -p "$RUN"
PORT=${OKENKO_PORT:-8080}
AGENDA_PORT=${OKENKO_AGENDA_PORT:-9400}
SMS_PORT=${OKENKO_SMS_PORT:-9500}
ADMIN_TOKEN=${OKENKO_ADMIN_TOKEN:-local-admin-token-change-me}
# The dashboard's first admin (made on the first run; more users are made on the dashboard).
ADMIN_PASSWORD=${OKENKO_ADMIN_PASSWORD:-local-admin-password}
AGENDA_TOKEN=local-agenda-token-change-me
SMS_TOKEN=local-sms-token-change-me

cat > "$RUN/fleet.toml" <<TOML
[server]
listen = "127.0.0.1:$PORT"
data_dir = "$RUN/fleet"
public_url = "http://127.0.0.1:$PORT"
admin_token = "$ADMIN_TOKEN"

[connector]
url = "http://127.0.0.1:$AGENDA_PORT/submissions"
inbound_token = "$AGENDA_TOKEN"

[releases]
keyring = "$RUN/release-keys"

[notices]
# The demo sends text messages at any hour.
sms_hours = ""

[notices.sms]
url = "http://127.0.0.1:$SMS_PORT/messages"
auth_header = "Authorization"
auth_value = "Bearer $SMS_TOKEN"
idempotency_header = "Idempotency-Key"
TOML

# Releases: a signing key (made once) and two demo releases for the kiosks' `dir` slots. Their
# app is a stand-in process (the kiosk app itself runs beside the agent, below).
HW=okenko-x86_64
mkdir -p "$RUN/releases"
if [ ! -f "$RUN/release.key" ]; then
  $BIN/fleetctl key new "$RUN/release.key" > "$RUN/release-keys"
fi
for v in 1.0.0 1.1.0; do
  if [ ! -f "$RUN/releases/$v.tar" ]; then
    d=$(mktemp -d)
    printf '#!/bin/sh\n# Okénko demo release %s: stands in for the kiosk app.\nexec sleep 2147483647\n' "$v" > "$d/run"
    chmod 755 "$d/run"; echo "$v" > "$d/VERSION"
    tar -C "$d" -cf "$RUN/releases/$v.tar" run VERSION; rm -rf "$d"
    $BIN/fleetctl release sign "$RUN/release.key" "$RUN/releases/$v.tar" --version "$v" --compatible "$HW" >/dev/null
  fi
done
# The local kiosk comes from the factory with 1.0.0 in slot A.
if [ ! -f "$RUN/agent/slots/a/.slot.json" ]; then
  mkdir -p "$RUN/agent/slots/a"
  tar -C "$RUN/agent/slots/a" -xf "$RUN/releases/1.0.0.tar"
  printf '{"version":"1.0.0","sha256":"%s"}' "$(sha256sum "$RUN/releases/1.0.0.tar" | cut -d' ' -f1)" \
    > "$RUN/agent/slots/a/.slot.json"
fi

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

if [ ! -f "$RUN/fleet/fleet.sqlite" ]; then
  $BIN/fleet-server --config "$RUN/fleet.toml" publish fleet-server/data/demo-catalog.json
  $BIN/fleet-server --config "$RUN/fleet.toml" token ostrava-01 --name "Nová radnice, přízemí" \
    > "$RUN/bootstrap-token"
fi
if [ -z "$($BIN/fleet-server --config "$RUN/fleet.toml" user list)" ]; then
  echo "$ADMIN_PASSWORD" | $BIN/fleet-server --config "$RUN/fleet.toml" user add admin --role admin
fi

# The simulated receipt printer: a pty whose path changes every run; its jobs go to printer.log.
$BIN/escpos-sim serve > "$RUN/printer.log" 2>&1 & pids+=($!)
for _ in $(seq 50); do [ -s "$RUN/printer.log" ] && break; sleep 0.1; done
PRINTER=$(head -n 1 "$RUN/printer.log")
# The simulated touchscreen: a FIFO of evdev records, a tap every 4 s (health only: the UI
# reads its own input).
$BIN/touch-sim serve "$RUN/touch" > "$RUN/touch.log" 2>&1 & pids+=($!)
for _ in $(seq 50); do [ -p "$RUN/touch" ] && break; sleep 0.1; done
# The technician's serial console: a null-modem cable between two pseudo-terminals; the agent
# owns one end, a terminal program opens the other.
$BIN/console-pty > "$RUN/console.log" 2>&1 & pids+=($!)
for _ in $(seq 50); do [ "$(wc -l < "$RUN/console.log")" -ge 2 ] && break; sleep 0.1; done
CONSOLE_KIOSK=$(awk '/^kiosk /{print $2}' "$RUN/console.log")
CONSOLE=$(awk '/^technician /{print $2}' "$RUN/console.log")

cat > "$RUN/agent.toml" <<TOML
[agent]
socket = "$RUN/agent.sock"
data_dir = "$RUN/agent"

[fleet]
url = "http://127.0.0.1:$PORT"
bootstrap_token_file = "$RUN/bootstrap-token"
heartbeat_interval_s = 10

[printer]
path = "$PRINTER"

[touchscreen]
path = "$RUN/touch"

[receipt]
header = "Statutární město Ostrava"

[speech]
# Audio mode (press * or F1 in the app): what the kiosk says is written to WAV files there
# (play them with aplay), unless OKENKO_PLAY_SPEECH=1 plays it on this machine's sound card.
$( [ "${OKENKO_PLAY_SPEECH:-}" = 1 ] || echo "record_dir = \"$RUN/speech\"" )

[console]
path = "$CONSOLE_KIOSK"

[update]
backend = "dir"
hardware = "$HW"
keyring = "$RUN/release-keys"
run = ["run"]
idle_s = 60
settle_s = 5
health_timeout_s = 60
TOML

$BIN/fleet-server --config "$RUN/fleet.toml" serve 2>"$RUN/fleet.log" & pids+=($!)
$BIN/agenda-ref --listen "127.0.0.1:$AGENDA_PORT" --fleet "http://127.0.0.1:$PORT" \
  --fleet-token "$AGENDA_TOKEN" --progress-after 20 2>"$RUN/agenda.log" & pids+=($!)
$BIN/sms-gateway-ref --listen "127.0.0.1:$SMS_PORT" --token "$SMS_TOKEN" >"$RUN/sms.log" 2>&1 & pids+=($!)
$BIN/kiosk-agent --config "$RUN/agent.toml" 2>"$RUN/agent.log" & pids+=($!)
sleep 1
# Upload the demo releases (a release already there is refused, harmlessly).
export OKENKO_FLEET_URL="http://127.0.0.1:$PORT" OKENKO_ADMIN_TOKEN="$ADMIN_TOKEN"
for v in 1.0.0 1.1.0; do
  $BIN/fleetctl release upload "$RUN/releases/$v.tar" >/dev/null 2>&1 || true
done
# 23 simulated kiosks beside the real one, so the fleet looks like a living city; a few of them
# run into trouble on a schedule (every kiosk's fate repeats each run).
SIM_COUNT=${OKENKO_SIM_KIOSKS:-23}
$BIN/kiosk-sim --fleet "http://127.0.0.1:$PORT" --admin-token "$ADMIN_TOKEN" \
  --count "$SIM_COUNT" --prefix ostrava-sim --interval 15 --state "$RUN/sim-state.json" \
  --faults "paper_near_end@60:ostrava-sim-02,paper_out@240:ostrava-sim-02,offline@120+300:ostrava-sim-07,card_reader_missing@90:ostrava-sim-11,hot@300+600:ostrava-sim-15" \
  2>"$RUN/kiosk-sim.log" & pids+=($!)

cat > "$RUN/app.toml" <<TOML
socket = "$RUN/agent.sock"
city = "Statutární město Ostrava"
backend = "winit"
TOML
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  $BIN/kiosk-app --config "$RUN/app.toml" 2>"$RUN/app.log" & pids+=($!)
  APP="in a window (log: $RUN/app.log)"
else
  APP="not started: no display (DISPLAY is unset). See every screen with:
                    $BIN/kiosk-app --render-screens $RUN/screens"
fi

cat <<TXT

Okénko is running locally (logs in $RUN/*.log):
  dashboard         http://127.0.0.1:$PORT/dashboard   (user admin, password $ADMIN_PASSWORD)
  fleet server      http://127.0.0.1:$PORT   (admin token: $ADMIN_TOKEN)
  agenda system     http://127.0.0.1:$AGENDA_PORT/submissions
  SMS gateway       http://127.0.0.1:$SMS_PORT/messages (the texts citizens get: $RUN/sms.log)
  call centre       the dashboard's Requests page (role call_centre); or
                    $BIN/fleetctl request show CODE
  kiosk agent       socket $RUN/agent.sock
  receipt printer   simulated on $PRINTER (receipts appear in $RUN/printer.log)
  touchscreen       simulated on $RUN/touch (a tap every 4 s)
  serial console    picocom -b 115200 $CONSOLE   (or: screen $CONSOLE 115200)
                    press Enter, then type the code of the moment:
                    $BIN/fleet-server --config $RUN/fleet.toml console-code ostrava-01
                    (also on the dashboard, kiosk ostrava-01, "Show the console code")
  kiosk app         $APP
  simulated kiosks  $SIM_COUNT (kiosk-sim; paper, offline, card reader and heat faults on a schedule)
  metrics           curl -H "Authorization: Bearer $ADMIN_TOKEN" http://127.0.0.1:$PORT/metrics
  alerts            curl -H "Authorization: Bearer $ADMIN_TOKEN" http://127.0.0.1:$PORT/api/admin/v1/alerts
  SLA report        http://127.0.0.1:$PORT/api/admin/v1/sla?format=html (with the admin token)
  releases          1.0.0 and 1.1.0 uploaded; roll 1.1.0 out on the dashboard's Releases page or:
                    $BIN/fleetctl rollout create 1.1.0 --canary ostrava-01 --force
                    $BIN/fleetctl rollout expand 1 --percent 100;  $BIN/fleetctl status
                    roll back (signed with the release key, as kiosks demand):
                    $BIN/fleetctl rollback 1 --key $RUN/release.key --to 1.0.0
                    (OKENKO_FLEET_URL and OKENKO_ADMIN_TOKEN as exported by this script; or
                     $BIN/fleetctl login http://127.0.0.1:$PORT admin)

Try it, as the kiosk app would:
  $BIN/kioskctl --socket $RUN/agent.sock catalog
  $BIN/kioskctl --socket $RUN/agent.sock submit podnet text="Rozbitá lavička u radnice" email=jana@example.cz
  $BIN/kioskctl --socket $RUN/agent.sock print <CODE>      (then: cat $RUN/printer.log)
  $BIN/kioskctl --socket $RUN/agent.sock status <CODE>
  $BIN/kioskctl --socket $RUN/agent.sock devices
  $BIN/kiosk-hwtest                                         (the hardware self-test, simulators)
  open http://127.0.0.1:$PORT/s/<CODE>   (the receipt's QR page; "in progress" after 20 s)

Ctrl-C stops everything.
TXT
wait
