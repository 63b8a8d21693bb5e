#!/usr/bin/env bash
# Accuracy against real daemons: a Postfix (SASL through Dovecot, the common setup) and a Dovecot
# (IMAP, POP3) on loopback take password-guessing sessions (scripts/real_daemons.py), and a scan
# of what they logged must find every attempt once, with its address, user and service.
#
#   sudo bash scripts/real-daemons.sh [BINARY]    # default: target/ci/maillogsentinel
#
# Needs root and Debian's postfix, dovecot-core, dovecot-imapd, dovecot-pop3d (rsyslog for the
# syslog route, systemd-journal-remote for the journal route); installs them with apt-get when
# missing. The system's own mail setup is left alone: Postfix runs as a second instance
# (`postfix -c DIR`, high ports; the only change to the system configuration is that DIR is
# listed in alternate_config_directories while it runs), Dovecot with a configuration and base
# directory of its own. Two routes, each a full run, and a third made of the logs of one of them:
# - files: Postfix writes its own log (maillog_file) and Dovecot its own (log_path), so the scan
#   reads two logs and must join their lines of one attempt across files; the sessions come in two
#   rounds with a scan and a `postfix logrotate` (rename to postfix.log.YYYYMMDD-HHMMSS, gzip)
#   between them, and every attempt of both rounds must be counted once;
# - syslog: both log through an rsyslogd of ours into one mail.log, as on a default Debian;
#   only where no syslog daemon owns /dev/log already (as in CI), otherwise skipped with a note;
# - journal: there is no journald to log to (CI runs in a container without systemd), so each line
#   of the syslog route (of the files route where that is skipped) becomes the journal entry
#   journald would have stored (units postfix@-.service and dovecot.service, a few foreign
#   entries that must not count), systemd-journal-remote writes them to a journal file, and
#   `scan --journal-dir` must count every attempt of that route once; a second scan adds nothing.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-${CARGO_TARGET_DIR:-$repo/target}/ci/maillogsentinel}"
[ "$(id -u)" = 0 ] || { echo "real-daemons: needs root (it starts Postfix and Dovecot)" >&2; exit 1; }
[ -x "$bin" ] || { echo "real-daemons: no binary at $bin (cargo build --profile ci first)" >&2; exit 1; }

need=()
for pair in postfix:postfix dovecot:dovecot-core rsyslogd:rsyslog journalctl:systemd; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
[ -e /usr/lib/dovecot/imap-login ] || need+=(dovecot-imapd)
[ -e /usr/lib/dovecot/pop3-login ] || need+=(dovecot-pop3d)
remote=/lib/systemd/systemd-journal-remote
[ -x "$remote" ] || need+=(systemd-journal-remote)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

work="$(mktemp -d /tmp/mls-real.XXXXXX)"
chmod 755 "$work"
pf="$work/postfix"
dc="$work/dovecot"
current=$(postconf -h alternate_config_directories)
cleanup() {
    postfix -c "$pf" stop >/dev/null 2>&1 || true
    doveadm -c "$dc/dovecot.conf" stop >/dev/null 2>&1 || true
    [ -f "$work/rsyslog.pid" ] && kill "$(cat "$work/rsyslog.pid")" 2>/dev/null
    postconf -e "alternate_config_directories = $current"
    rm -rf "$work"
}
trap cleanup EXIT

ipv6=false
if [ -e /proc/net/if_inet6 ] && python3 -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
    ipv6=true
fi
listen="127.0.0.1"
$ipv6 && listen="127.0.0.1, [::1]"
ports='{"smtpd": 2525, "submission": 5870, "smtps": 4650, "imap": 1143, "pop3": 1110, "ipv6": '$ipv6'}'

id vmail >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin vmail
postconf -e "alternate_config_directories = $current $pf"

# $1: route (files or syslog). Writes the logs to scan under $work/$1/.
run_route() {
    local route=$1 out="$work/$1"
    mkdir -p "$out" "$pf" "$dc/mail" "$work/queue-$route" "$work/pdata-$route"
    chmod 755 "$out"
    chown vmail:vmail "$dc/mail"
    chown postfix "$work/pdata-$route"
    cp /usr/share/postfix/master.cf.dist "$pf/master.cf"
    : >"$pf/main.cf"
    local maillog=""
    [ "$route" = files ] && maillog="$out/postfix.log"
    postconf -c "$pf" -e \
        "queue_directory = $work/queue-$route" "data_directory = $work/pdata-$route" \
        "myhostname = mx.example.test" "mydestination = localhost" "inet_interfaces = $listen" \
        "inet_protocols = $($ipv6 && echo all || echo ipv4)" "mynetworks = 127.0.0.0/8" \
        "smtpd_sasl_type = dovecot" "smtpd_sasl_path = private/auth" "smtpd_sasl_auth_enable = yes" \
        "smtpd_tls_security_level = none" "compatibility_level = 3.6" "maillog_file = $maillog" \
        "smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination" \
        "maillog_file_prefixes = /var, /dev/stdout, $work" "alias_maps =" "alias_database =" \
        "multi_instance_name = postfix-mls" "syslog_name = postfix"
    # The stock smtpd on 25 becomes 2525; two named services as on real servers.
    postconf -c "$pf" -M -X smtp/inet
    postconf -c "$pf" -M "2525/inet=2525 inet n - n - - smtpd"
    postconf -c "$pf" -M "5870/inet=5870 inet n - n - - smtpd -o syslog_name=postfix/submission"
    postconf -c "$pf" -M "4650/inet=4650 inet n - n - - smtpd -o syslog_name=postfix/smtps"
    printf 'alice:{PLAIN}secret::::\nbob@example.test:{PLAIN}hunter2::::\n' >"$dc/users"
    local dlog="log_path = syslog
syslog_facility = mail"
    [ "$route" = files ] && dlog="log_path = $out/dovecot.log"
    cat >"$dc/dovecot.conf" <<EOF
protocols = imap pop3
listen = ${listen//[\[\]]/}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_verbose = yes
$dlog
base_dir = $work/run
mail_location = maildir:$dc/mail/%u
first_valid_uid = 1
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $dc/users
}
userdb {
  driver = static
  args = uid=vmail gid=vmail home=$dc/mail/%u
}
service auth {
  unix_listener $work/queue-$route/private/auth {
    mode = 0660
    user = postfix
    group = postfix
  }
}
service imap-login {
  inet_listener imap {
    port = 1143
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 1110
  }
}
EOF
    if [ "$route" = syslog ]; then
        printf 'module(load="imuxsock")\nmail.* %s;RSYSLOG_TraditionalFileFormat\n' "$out/mail.log" >"$work/rsyslog.conf"
        rsyslogd -f "$work/rsyslog.conf" -i "$work/rsyslog.pid" </dev/null >/dev/null 2>&1
    fi
    postfix -c "$pf" start </dev/null >/dev/null 2>&1
    mkdir -p "$work/queue-$route/private"
    dovecot -c "$dc/dovecot.conf" </dev/null >/dev/null 2>&1
    for _ in $(seq 50); do
        [ -S "$work/queue-$route/private/auth" ] && python3 -c 'import socket; socket.create_connection(("127.0.0.1", 2525), 1); socket.create_connection(("127.0.0.1", 1143), 1)' 2>/dev/null && break
        sleep 0.2
    done
    if [ "$route" = files ]; then
        python3 "$repo/scripts/real_daemons.py" attack "$ports" 1 >"$out/truth1.json"
        # A scan, then Postfix's own rotation of its maillog_file; a second round of sessions
        # goes to the new file. Lines Postfix writes between the scan and the rename are read
        # from the compressed archive by the next scan.
        scan_logs "$out"
        if ! postfix -c "$pf" logrotate </dev/null >"$out/logrotate.txt" 2>&1; then
            echo "real daemons ($route): postfix logrotate failed: $(cat "$out/logrotate.txt")"
            return 1
        fi
        python3 "$repo/scripts/real_daemons.py" attack "$ports" 2 >"$out/truth2.json"
        python3 "$repo/scripts/real_daemons.py" merge "$out/truth1.json" "$out/truth2.json" >"$out/truth.json"
        if ! compgen -G "$out/postfix.log.*.gz" >/dev/null; then
            echo "real daemons ($route): postfix logrotate left no postfix.log.*.gz: $(ls "$out")"
            return 1
        fi
    else
        python3 "$repo/scripts/real_daemons.py" attack "$ports" 1 >"$out/truth.json"
    fi
    postfix -c "$pf" stop </dev/null >/dev/null 2>&1
    doveadm -c "$dc/dovecot.conf" stop </dev/null >/dev/null 2>&1
    if [ "$route" = syslog ]; then
        kill "$(cat "$work/rsyslog.pid")"
        rm -f "$work/rsyslog.pid"
    fi
    # An attempt's last line may be the newest of the log, and the scan holds back the attempts
    # of the last two correlation windows (their partner line may still come): scan past them.
    sleep 21
    scan_logs "$out"
    if ! python3 "$repo/scripts/real_daemons.py" check "$route" "$out/truth.json" "$out/data" "$out/summary.txt"; then
        echo "--- the logs ($route):"
        for f in "$out"/*.log.*.gz; do [ -e "$f" ] && { echo "--- $f"; zcat "$f"; }; done
        cat "$out"/*.log
        return 1
    fi
}

# $1: a route's directory. Scans its *.log (rotated siblings are found by the scan), appending
# the summary line to $1/summary.txt.
scan_logs() {
    local out=$1 logs=()
    for f in "$out"/*.log; do logs+=(--log "$f"); done
    "$bin" scan "${logs[@]}" --data-dir "$out/data" --no-dns --no-geo >>"$out/summary.txt"
}

# $1: the route whose logs (and truth) the journal is made of. Its summaries go to
# $work/journal/summary.txt, where the check adds them up: the second scan, from the saved
# cursor, must add no row and no count to the first.
journal_route() {
    local from="$work/$1" out="$work/journal" logs=()
    mkdir -p "$out/journal"
    for f in "$from"/*.log.*.gz "$from"/*.log; do
        if [ -e "$f" ]; then logs+=("$f"); fi
    done
    if ! python3 "$repo/scripts/real_daemons.py" journal "${logs[@]}" >"$out/entries.export"; then
        echo "real daemons (journal): the logs of the $1 route did not convert"
        return 1
    fi
    if ! "$remote" --output="$out/journal/mail.journal" - <"$out/entries.export" >"$out/remote.txt" 2>&1; then
        echo "real daemons (journal): systemd-journal-remote failed: $(cat "$out/remote.txt")"
        return 1
    fi
    for _ in 1 2; do
        "$bin" scan --journal-dir "$out/journal" --data-dir "$out/data" --no-dns --no-geo >>"$out/summary.txt"
    done
    if ! python3 "$repo/scripts/real_daemons.py" check journal "$from/truth.json" "$out/data" "$out/summary.txt"; then
        echo "--- the journal (from the $1 route):"
        journalctl -D "$out/journal" --no-pager -o short-iso-precise
        return 1
    fi
}

status=0
journal_from=files
run_route files || status=1
if [ -S /dev/log ] && ! python3 -c 'import socket; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).connect("/dev/log")' 2>/dev/null; then
    rm -f /dev/log # a stale socket: nothing reads it
fi
if [ -e /dev/log ]; then
    echo "real daemons: the syslog route skipped, a syslog daemon of this system owns /dev/log"
else
    journal_from=syslog
    run_route syslog || status=1
fi
if [ -f "$work/$journal_from/truth.json" ]; then
    journal_route $journal_from || status=1
else
    echo "real daemons (journal): not run, the $journal_from route ended before its sessions"
    status=1
fi
exit $status
