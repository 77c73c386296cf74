#!/bin/sh
# Runs a notifier D-Bus suite on a session bus of its own: dbus-run-session -- <suite>. The suite starts Xvfb
# and dunst on that bus itself. A missing program skips (exit 77, ctest's SKIP_RETURN_CODE) with its name;
# scripts/herald installs them all, so CI never skips.
for program in dbus-run-session Xvfb dunst dunstctl busctl dbus-send; do
    if ! command -v "$program" >/dev/null 2>&1; then
        echo "SKIP: $program not found (scripts/herald deps installs it: dbus-daemon, xvfb, dunst, systemd, dbus-bin)"
        exit 77
    fi
done
exec dbus-run-session -- "$@"
