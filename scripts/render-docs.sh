#!/usr/bin/env bash
# Renders the pictures in docs/screenshots/ that come from the code alone, through the real code
# paths: the kiosk's screens (kiosk-app --render-screens, the software renderer and the
# project's fonts) and the receipt (the agent's ESC/POS encoder, decoded and drawn by
# escpos-sim). hw-tests/tests/docs_pictures_are_current.rs fails when one of them is stale.
# The dashboard's, the status page's and the appliance's pictures need running servers, a
# browser or a VM: docs/screenshots/README.md says where each comes from.
set -euo pipefail
cd "$(dirname "$0")/.."
export FONTCONFIG_FILE="$PWD/assets/fonts/fonts.conf"
cargo build --quiet -p kiosk-app -p hw-tests --bins
out=docs/screenshots
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# docs name ← rendered screen
while read -r doc screen; do
  target/debug/kiosk-app --render-screens "$tmp" --size 1920x1080 --only "$screen" >/dev/null
  cp "$tmp/$screen.png" "$out/$doc.png"
done <<'LIST'
kiosk-home-cs landscape-normal-cs-home
kiosk-my-requests-cs landscape-normal-cs-status-card
kiosk-form-contrast-uk landscape-contrast-uk-form-errors
kiosk-review-sms-en landscape-normal-en-review-sms
kiosk-keypad-focus-en landscape-normal-en-review-email-typing-focus
LIST
target/debug/escpos-sim sample --png "$out/receipt-cs.png" >/dev/null
echo "render-docs: kiosk screens and the receipt written to $out"
