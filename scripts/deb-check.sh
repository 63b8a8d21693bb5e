#!/usr/bin/env bash
# The Debian package, built, checked by lintian, installed, used and purged on this machine.
#
#   sudo bash scripts/deb-check.sh
#
# Needs root and dpkg; installs cargo-deb (cargo install) and lintian, systemd and man-db (apt-get)
# when missing. scripts/test.sh runs it as root where dpkg is (CI). Builds with the ci profile,
# packaging the binary the test suite built. Each check prints `deb package (CHECK): OK`, which
# scripts/test.sh counts; the first that fails prints `deb package (CHECK): FAILED: why` and
# stops the script with exit code 1, after the package and its user are removed again. The machine
# must have neither the package, nor /etc/maillogsentinel or /var/lib/maillogsentinel, nor a user
# `maillogsentinel` (the check installs, purges and deletes them).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
pkg=maillogsentinel
user=maillogsentinel
data=/var/lib/maillogsentinel
conf=/etc/maillogsentinel/maillogsentinel.toml
units=(maillogsentinel-scan.service maillogsentinel-scan.timer maillogsentinel-report.service
    maillogsentinel-report.timer maillogsentinel-watch.service maillogsentinel-blocklist.service
    maillogsentinel-blocklist.path)
# The man pages every command must have; the package holds one per command of the generated set
# (scripts/build-deb.sh writes them into target/deb-build/man), these at least.
pages=(maillogsentinel maillogsentinel-scan maillogsentinel-watch maillogsentinel-report maillogsentinel-blocklist
    maillogsentinel-geo maillogsentinel-geo-update maillogsentinel-geo-lookup maillogsentinel-setup maillogsentinel-fleet)

check="setup"
failed=false
fail() {
    echo "deb package ($check): FAILED: $*"
    failed=true
    exit 1
}
ok() { echo "deb package ($check): OK${1:+ ($1)}"; }

[ "$(id -u)" = 0 ] || fail "needs root (it installs and purges the package)"
command -v dpkg >/dev/null || fail "needs dpkg"
# The check purges what it installs: nothing of an installation of this machine may be there.
status="$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)"
[ -z "$status" ] || [ "$status" = not-installed ] \
    || fail "the $pkg package is on this machine ($status); the check installs and purges it: run it elsewhere"
for path in /etc/maillogsentinel "$data"; do
    [ ! -e "$path" ] || fail "$path exists (maillogsentinel setup?); the check's purge would delete it: run it elsewhere"
done
! getent passwd "$user" >/dev/null \
    || fail "user $user exists already (setup, or an earlier install): the check tests that the package creates it"

need=()
command -v lintian >/dev/null || need+=(lintian)
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v man >/dev/null || need+=(man-db)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
command -v cargo-deb >/dev/null || cargo install --quiet --locked cargo-deb

work="$(mktemp -d /tmp/mls-deb.XXXXXX)"
installed=false
cleanup() {
    local status=$?
    # A command that failed under set -e, outside the checks' own tests, fails the check too.
    if [ "$status" != 0 ] && ! $failed; then
        echo "deb package ($check): FAILED: exit status $status (see above)"
    fi
    if $installed; then
        dpkg --purge "$pkg" >/dev/null 2>&1 || true
        userdel "$user" >/dev/null 2>&1 || true
        groupdel "$user" >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

check="build, ci profile"
start=$(date +%s)
bash "$repo/scripts/build-deb.sh" --profile ci >"$work/build.log" 2>&1 || { cat "$work/build.log"; fail "scripts/build-deb.sh"; }
deb="$(sed -n 's|^\(/.*\.deb\)$|\1|p' "$work/build.log" | tail -1)"
[ -f "$deb" ] || { cat "$work/build.log"; fail "no .deb named in the build's output"; }
ok "$(basename "$deb"), $(($(date +%s) - start)) s"

check="lintian"
# Any tag fails, errors and warnings as well as info and pedantic ones, unless overridden in
# packaging/deb/lintian-overrides with its reason (shown here with an O:); an override that matches
# nothing is a tag too (unused-override), so that the file stays true. (--fail-on would count the
# overridden tags that --show-overrides shows.)
lintian --fail-on none --display-info --pedantic --show-overrides "$deb" >"$work/lintian.log" 2>&1 \
    || { cat "$work/lintian.log"; fail "lintian did not run"; }
cat "$work/lintian.log"
! grep -qE '^[EWIPX]: ' "$work/lintian.log" \
    || fail "lintian reports the tags above; fix them, or override one in packaging/deb/lintian-overrides with its reason"
ok "$(grep -c '^O: ' "$work/lintian.log") tags overridden, each with its reason"

check="contents"
dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|' >"$work/contents"
expect=(/usr/bin/maillogsentinel "$conf" /usr/share/bash-completion/completions/maillogsentinel
    /usr/share/zsh/vendor-completions/_maillogsentinel /usr/share/fish/vendor_completions.d/maillogsentinel.fish
    /usr/share/doc/maillogsentinel/copyright /usr/share/doc/maillogsentinel/changelog.Debian.gz
    /usr/share/lintian/overrides/maillogsentinel)
for unit in "${units[@]}"; do expect+=("/usr/lib/systemd/system/$unit"); done
generated=()
for page in "$repo"/target/deb-build/man/*.1.gz; do
    if [ -e "$page" ]; then generated+=("$(basename "$page" .1.gz)"); fi
done
for page in "${pages[@]}"; do
    [[ " ${generated[*]} " == *" $page "* ]] || fail "scripts/build-deb.sh generated no man page $page"
done
pages=("${generated[@]}")
for page in "${pages[@]}"; do expect+=("/usr/share/man/man1/$page.1.gz"); done
for path in "${expect[@]}"; do grep -qx "$path" "$work/contents" || fail "$path is not in the package"; done
[ "$(grep -c '^/usr/share/man/man1/.*\.1\.gz$' "$work/contents")" = "${#pages[@]}" ] || fail "man pages: $(grep man1 "$work/contents")"
[ "$(dpkg-deb -f "$deb" Package)" = "$pkg" ] || fail "the package is not named $pkg"
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx "$conf" || fail "$conf is not a conffile"
ok "${#expect[@]} files"

check="install"
installed=true
dpkg -i "$deb" >"$work/install.log" 2>&1 || { cat "$work/install.log"; fail "dpkg -i"; }
IFS=: read -r _ _ uid gid _ home shell < <(getent passwd "$user") || fail "no user $user"
[ "$uid" -lt 1000 ] || fail "$user has uid $uid, not a system user's"
[ "$home:$shell" = "$data:/usr/sbin/nologin" ] || fail "$user: home $home, shell $shell"
[ "$(id -gn "$user")" = "$user" ] || fail "$user's primary group is $(id -gn "$user")"
groups=" $(id -Gn "$user") "
[[ "$groups" == *" adm "* ]] || fail "$user is not in adm:$groups"
if getent group systemd-journal >/dev/null; then
    [[ "$groups" == *" systemd-journal "* ]] || fail "$user is not in systemd-journal:$groups"
fi
[ "$(stat -c '%a %U %G' "$data")" = "750 $user $user" ] || fail "$data: $(stat -c '%a %U %G' "$data")"
[ "$(stat -c '%a %U %G' "$conf")" = "640 root $user" ] || fail "$conf: $(stat -c '%a %U %G' "$conf")"
dpkg-query -W -f='${Conffiles}\n' "$pkg" | grep -q "^ $conf " || fail "dpkg does not list $conf as a conffile"
# Slim container images tell dpkg not to install man pages (path-exclude); they are in the
# package all the same (checked above).
man_note="man pages"
if grep -qs '^path-exclude=\?/usr/share/man' /etc/dpkg/dpkg.cfg.d/*; then
    man_note="man pages not installed (dpkg path-exclude)"
else
    for page in "${pages[@]}"; do man -w "$page" >/dev/null 2>&1 || fail "man cannot find $page(1)"; done
fi
for shell_file in /usr/share/bash-completion/completions/maillogsentinel /usr/share/zsh/vendor-completions/_maillogsentinel \
    /usr/share/fish/vendor_completions.d/maillogsentinel.fish; do
    [ -s "$shell_file" ] || fail "no completion $shell_file"
done
bash -c 'source /usr/share/bash-completion/completions/maillogsentinel && complete -p maillogsentinel' >/dev/null \
    || fail "bash does not load the completion"
# Enabled means a symlink in a .wants directory (or an alias); there must be none.
enabled="$(find /etc/systemd /usr/lib/systemd -lname '*maillogsentinel*' 2>/dev/null)"
[ -z "$enabled" ] || fail "units enabled by the installation: $enabled"
[ "$(/usr/bin/maillogsentinel --version)" = "maillogsentinel $(dpkg-deb -f "$deb" Version | sed 's/-[^-]*$//')" ] \
    || fail "/usr/bin/maillogsentinel --version: $(/usr/bin/maillogsentinel --version)"
ok "user $user (uid $uid, groups $(id -Gn "$user")), $data 750, $conf 640, $man_note, completions, nothing enabled"

check="quick-start scan as $user"
# The README's quick-start scan of examples/mail.log, run as the services run it: the installed
# configuration (readable through the user's group), its data directory, a log readable through
# adm as Debian's mail.log is. Reverse DNS off: the example's addresses are not ours to look up.
mkdir -m 755 "$work/log"
install -m 640 -g adm "$repo/examples/mail.log" "$work/log/mail.log"
chmod 711 "$work"
runuser -u "$user" -- /usr/bin/maillogsentinel scan --log "$work/log/mail.log" --year 2026 --no-dns \
    >"$work/scan.out" 2>"$work/scan.err" || { cat "$work/scan.out" "$work/scan.err"; fail "the scan failed"; }
grep -q ': 24 new failed logins, 5 successful logins, 1 auth backend error, 1 mechanism probe' "$work/scan.out" \
    || { cat "$work/scan.out" "$work/scan.err"; fail "the scan did not find what examples/README.md says"; }
csv="$data/reports/intrusions.csv"
[ "$(wc -l <"$csv")" = 25 ] || fail "$csv has $(wc -l <"$csv") lines, not a header and 24 rows"
[ "$(stat -c %U "$data/maillogsentinel.sqlite3")" = "$user" ] || fail "the store is not $user's"
ok "24 failed logins in $csv"

check="systemd-analyze verify"
# Also checks that each unit's Documentation= man page is installed, where dpkg installs them.
man_check=yes
[ "$man_note" = "man pages" ] || man_check=no
SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man="$man_check" "${units[@]/#//usr/lib/systemd/system/}" \
    >"$work/verify.log" 2>&1 \
    || { cat "$work/verify.log"; fail "systemd-analyze verify"; }
! grep maillogsentinel "$work/verify.log" || fail "systemd-analyze verify warns about the units (above)"
ok "${#units[@]} units"

check="remove keeps the data"
dpkg -r "$pkg" >"$work/remove.log" 2>&1 || { cat "$work/remove.log"; fail "dpkg -r"; }
[ -f "$csv" ] && [ -f "$conf" ] || fail "dpkg -r removed the data or the configuration"
[ ! -e /usr/bin/maillogsentinel ] || fail "dpkg -r left the binary"
ok

check="purge removes the data"
dpkg --purge "$pkg" >"$work/purge.log" 2>&1 || { cat "$work/purge.log"; fail "dpkg --purge"; }
[ ! -e "$data" ] || fail "$data is still there"
[ ! -e /etc/maillogsentinel ] || fail "/etc/maillogsentinel is still there"
! dpkg-statoverride --list "$conf" >/dev/null || fail "the statoverride of $conf is still there"
for unit in "${units[@]}"; do [ ! -e "/usr/lib/systemd/system/$unit" ] || fail "$unit is still there"; done
# Kept on purpose (README.md, "The Debian package"); the check removes it itself.
getent passwd "$user" >/dev/null || fail "the user $user was removed, which the README says is kept"
ok "$data and /etc/maillogsentinel gone, user kept"
echo "deb-check: done in $(($(date +%s) - start)) s"
