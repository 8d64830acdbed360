#!/usr/bin/env bash
# Installs, upgrades or removes ledagent on a Debian/Ubuntu PC beside an LED screen (docs/install.md).
#
# A release (from `npm run package`) is unpacked to /opt/ledagent/releases/<version> and
# /opt/ledagent/current is switched to it in one rename, so an upgrade is a switch and the
# previous releases stay for a rollback. The config and the device key are created once and
# never replaced: a second run, or an upgrade, keeps both. The ledger under /var/lib/ledagent is
# evidence of every play and is only ever deleted on an explicit, separate request.
set -euo pipefail
# Tools' messages (quoted in errors) and sort orders the same on every box.
export LC_ALL=C

usage() {
  cat <<'EOF'
Usage:
  install.sh [options] RELEASE.tar.gz      install or upgrade (as root)
  install.sh --uninstall [--purge [--yes-delete-ledger]] [--destdir DIR]

Install options. --screen to --headless make the config, on a first install only (when there is
no /etc/ledagent/config.yaml yet); they are what `ledagent init` takes:
  --screen ID               this screen's id, as ops know it (needed for a first install)
  --panel WxH               the panel's exact pixel size (default 768x384)
  --mqtt-url URL            broker, e.g. mqtts://broker.example:8883
  --ops-public-key FILE     PEM key that signs schedules and commands; installed as
                            /etc/ledagent/ops.pub.pem
  --controller URL|none     serial:///dev/ttyUSB0?baud=115200, tcp://host:5200 or none (default)
  --timezone TZ             IANA time zone for reports (default UTC)
  --headless                play without a display
  --destdir DIR             install under DIR (an image, a staging root); the live system is not
                            touched: no packages, no systemctl
  --no-packages             do not install ffmpeg and mpv with apt-get
  --no-start                do not enable and start the service

Uninstall options:
  --uninstall               stop the service; remove /opt/ledagent, the unit and the command.
                            Keeps /var/lib/ledagent (the ledger and the device key),
                            /etc/ledagent and the ledagent user
  --purge                   also remove /etc/ledagent, the ledagent user and /var/lib/ledagent;
                            deleting the ledger must be confirmed with --yes-delete-ledger
EOF
}

die() {
  printf 'install.sh: %s\n' "$*" >&2
  exit 1
}
usage_error() {
  printf 'install.sh: %s (install.sh --help says how to use it)\n' "$*" >&2
  exit 2
}
say() { printf '%s\n' "$*"; }
note() { printf 'note: %s\n' "$*"; }

# Where everything goes, as the running system will see it.
readonly OPT_DIR=/opt/ledagent
readonly BIN_LINK=/usr/local/bin/ledagent
readonly CLI=$OPT_DIR/current/bin/ledagent.js
readonly UNIT=/etc/systemd/system/ledagent.service
readonly UNIT_WANTS=/etc/systemd/system/multi-user.target.wants/ledagent.service
readonly ETC_DIR=/etc/ledagent
readonly CONFIG=$ETC_DIR/config.yaml
readonly OPS_KEY=$ETC_DIR/ops.pub.pem
readonly DATA_DIR=/var/lib/ledagent
readonly RUN_DIR=/run/ledagent
readonly DEVICE_KEY=$DATA_DIR/keys/device.key
readonly AGENT_USER=ledagent
# How many releases stay under /opt/ledagent/releases: the current one and two to roll back to.
readonly KEEP_RELEASES=3

# ---- arguments -------------------------------------------------------------------------------

destdir="" screen="" panel="" mqtt_url="" ops_key_file="" controller="" timezone="" tarball=""
headless=0 packages=1 start=1 uninstall=0 purge=0 delete_ledger=0

# --opt=value is --opt value.
args=()
for a in "$@"; do
  case $a in
    --*=*) args+=("${a%%=*}" "${a#*=}") ;;
    *) args+=("$a") ;;
  esac
done
set -- ${args[@]+"${args[@]}"}

value() {
  [[ $# -ge 2 && -n $2 ]] || usage_error "$1 needs a value"
}
while [ $# -gt 0 ]; do
  case $1 in
    --destdir) value "$@"; destdir=$2; shift 2 ;;
    --screen) value "$@"; screen=$2; shift 2 ;;
    --panel) value "$@"; panel=$2; shift 2 ;;
    --mqtt-url) value "$@"; mqtt_url=$2; shift 2 ;;
    --ops-public-key) value "$@"; ops_key_file=$2; shift 2 ;;
    --controller) value "$@"; controller=$2; shift 2 ;;
    --timezone) value "$@"; timezone=$2; shift 2 ;;
    --headless) headless=1; shift ;;
    --no-packages) packages=0; shift ;;
    --no-start) start=0; shift ;;
    --uninstall) uninstall=1; shift ;;
    --purge) purge=1; shift ;;
    --yes-delete-ledger) delete_ledger=1; shift ;;
    -h | --help) usage; exit 0 ;;
    --) shift; break ;;
    -*) usage_error "unknown option $1" ;;
    *)
      [ -z "$tarball" ] || usage_error "one release tarball at a time ($tarball, $1)"
      tarball=$1
      shift
      ;;
  esac
done
if [ $# -gt 0 ]; then
  [[ -z $tarball && $# -eq 1 ]] || usage_error "one release tarball at a time"
  tarball=$1
fi

if [ "$uninstall" = 1 ]; then
  [ -z "$tarball" ] || usage_error "--uninstall takes no tarball"
else
  [ -n "$tarball" ] || usage_error "which release? give the tarball made by \`npm run package\`"
  [ "$purge" = 0 ] || usage_error "--purge goes with --uninstall"
fi
[ "$delete_ledger" = 0 ] || [ "$purge" = 1 ] || usage_error "--yes-delete-ledger goes with --uninstall --purge"

# R: the root everything is installed under; empty for the live system.
R=""
if [ -n "$destdir" ]; then
  mkdir -p -- "$destdir" || die "--destdir $destdir: cannot create it"
  R=$(cd -- "$destdir" && pwd -P)
  # A destdir that is / (or a link to it) would make this a live install with apt and systemctl:
  # whoever gave --destdir did not ask for that.
  [ "$R" != / ] || die "--destdir $destdir is the root of this system: run without --destdir to install here"
fi
live() { [ -z "$R" ]; }
is_root() { [ "$(id -u)" = 0 ]; }
if live && ! is_root; then
  die "must run as root (sudo $0 ...); --destdir DIR installs under DIR without touching this system"
fi
where() { # a path as the running system will see it, and where it is here
  printf '%s%s' "$R" "$1"
}

# One installer at a time on a root: two would swap the release directory under each other.
# Under --destdir the root directory itself is locked, so nothing is added to the tree.
if live; then
  lock=/run/lock/ledagent-install.lock
  mkdir -p -- /run/lock
  exec 9>>"$lock" || die "$lock: cannot open the installer's lock"
else
  lock=$R
  exec 9<"$lock" || die "$lock: cannot open it to lock it"
fi
flock -n 9 || die "another install.sh is running on $(live && echo this system || echo "$R") (it holds a lock on $lock)"

# ---- the agent's user ------------------------------------------------------------------------

# From the root's own files, so that --destdir reads the image's users, not this machine's.
user_field() { # user field
  [ -f "$R/etc/passwd" ] || return 0
  awk -F: -v u="$1" -v f="$2" '$1 == u { print $f; exit }' "$R/etc/passwd"
}
group_line() {
  [ -f "$R/etc/group" ] || return 0
  awk -F: -v g="$1" '$1 == g { print; exit }' "$R/etc/group"
}
in_group() { # user group
  group_line "$2" | awk -F: -v u="$1" '{ n = split($4, m, ","); for (i = 1; i <= n; i++) if (m[i] == u) found = 1 } END { exit !found }'
}
user_tools() { # useradd & co. on the live system, or chrooted into DIR with --root
  if live; then "$@"; else
    local tool=$1
    shift
    "$tool" --root "$R" "$@"
  fi
}
# Users can be made when we are root and the root has account files (an image built by
# debootstrap has them; a bare staging directory does not).
can_make_users() { is_root && [ -f "$R/etc/passwd" ] && [ -f "$R/etc/group" ]; }

agent_uid="" agent_gid=""
lookup_agent() {
  agent_uid=$(user_field "$AGENT_USER" 3)
  agent_gid=$(user_field "$AGENT_USER" 4)
}

ensure_user() { # groups...
  if ! can_make_users; then
    if ! is_root; then
      note "not root: no ledagent user is created in $R, and files stay owned by $(id -un)"
    else
      note "$R/etc/passwd does not exist: no ledagent user is created; create it on the target (useradd --system --user-group --home-dir $DATA_DIR --shell /usr/sbin/nologin --groups $(IFS=,; echo "$*") $AGENT_USER) and chown $DATA_DIR to it"
    fi
    lookup_agent
    return 0
  fi
  local g made=()
  for g in "$@"; do
    if [ -z "$(group_line "$g")" ]; then
      user_tools groupadd --system "$g"
      made+=("$g")
    fi
  done
  [ ${#made[@]} -eq 0 ] || say "groups: created ${made[*]}"
  local shell=/usr/sbin/nologin
  [ -x "$R/usr/sbin/nologin" ] || [ ! -x "$R/sbin/nologin" ] || shell=/sbin/nologin
  if [ -z "$(user_field "$AGENT_USER" 1)" ]; then
    user_tools useradd --system --user-group --home-dir "$DATA_DIR" --no-create-home --shell "$shell" \
      --comment "ledagent LED screen agent" --groups "$(IFS=,; echo "$*")" "$AGENT_USER"
    say "user $AGENT_USER: created (groups $*)"
  else
    local missing=()
    for g in "$@"; do in_group "$AGENT_USER" "$g" || missing+=("$g"); done
    if [ ${#missing[@]} -gt 0 ]; then
      user_tools usermod --append --groups "$(IFS=,; echo "${missing[*]}")" "$AGENT_USER"
      say "user $AGENT_USER: already there, added to ${missing[*]}"
    else
      say "user $AGENT_USER: already there"
    fi
  fi
  lookup_agent
}

# ---- uninstall -------------------------------------------------------------------------------

systemd_running() { live && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; }

uninstall() {
  local data
  data=$(where "$DATA_DIR")
  # Refused before anything is removed: a half-done purge helps no one.
  if [ "$purge" = 1 ] && [ "$delete_ledger" = 0 ] && [ -e "$data" ]; then
    die "--purge would delete $DATA_DIR: the proof-of-play ledger (the evidence of every play, which customers and auditors may still ask for) and the device key that signs it; export what may be needed (ledagent proofs export, ledagent proofs head), then add --yes-delete-ledger, or drop --purge to keep them"
  fi
  if systemd_running && [ -e "$UNIT" ]; then
    systemctl disable --now ledagent >/dev/null 2>&1 || true
    say "service: stopped and disabled"
  fi
  rm -f -- "$(where "$UNIT_WANTS")"
  if [ -e "$(where "$UNIT")" ]; then
    rm -f -- "$(where "$UNIT")"
    say "removed $UNIT"
    ! systemd_running || systemctl daemon-reload
  else
    say "$UNIT: not installed"
  fi
  local link
  link=$(where "$BIN_LINK")
  if [ -L "$link" ] && [[ $(readlink -- "$link") == "$OPT_DIR"/* ]]; then
    rm -f -- "$link"
    say "removed $BIN_LINK"
  elif [ -e "$link" ] || [ -L "$link" ]; then
    note "left $BIN_LINK: it is not the link this installer makes"
  fi
  if [ -e "$(where "$OPT_DIR")" ]; then
    rm -rf -- "$(where "$OPT_DIR")"
    say "removed $OPT_DIR (every release)"
  else
    say "$OPT_DIR: not installed"
  fi
  if [ "$purge" = 0 ]; then
    [ ! -e "$data" ] || say "kept $DATA_DIR: the ledger (the evidence of every play) and the device key"
    [ ! -e "$(where "$ETC_DIR")" ] || say "kept $ETC_DIR: the config and the ops key"
    [ -z "$(user_field "$AGENT_USER" 1)" ] || say "kept user $AGENT_USER"
    say "ledagent uninstalled${R:+ from $R}; --uninstall --purge also removes the config, the user and the ledger"
    return 0
  fi
  if [ -e "$(where "$ETC_DIR")" ]; then
    rm -rf -- "$(where "$ETC_DIR")"
    say "removed $ETC_DIR (the config and the ops key)"
  fi
  if [ -e "$data" ]; then
    say "deleting the ledger: $DATA_DIR (every proof of play) and the device key (--yes-delete-ledger)"
    rm -rf -- "$data"
  fi
  if can_make_users && [ -n "$(user_field "$AGENT_USER" 1)" ]; then
    user_tools userdel "$AGENT_USER"
    # Without USERGROUPS_ENAB in login.defs, userdel leaves the user's own group behind.
    [ -z "$(group_line "$AGENT_USER")" ] || user_tools groupdel "$AGENT_USER"
    say "removed user $AGENT_USER"
  fi
  say "ledagent purged${R:+ from $R}"
}

if [ "$uninstall" = 1 ]; then
  uninstall
  exit 0
fi

# ---- checks, before anything is changed ------------------------------------------------------

# The values that end up in the config, checked before anything is installed.
if [ -n "$screen" ] && ! [[ $screen =~ ^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$ ]]; then
  usage_error "--screen $screen: 1–64 letters, digits, '.', '_' or '-', not starting with '-' or '.'"
fi
if [ -n "$panel" ] && ! [[ $panel =~ ^[0-9]{1,5}x[0-9]{1,5}$ ]]; then
  usage_error "--panel $panel: WIDTHxHEIGHT in pixels, e.g. 768x384"
fi
[ -e "$tarball" ] || die "$tarball: no such file"
[[ -f $tarball && -r $tarball ]] || die "$tarball: not a readable file"

readonly NODE_HELP="install Node.js 20 or later (Debian 13: apt-get install nodejs; Debian 12 and Ubuntu: the nodejs 20 package from NodeSource)"
command -v node >/dev/null || die "no node on PATH: ledagent needs Node.js 20 or later; $NODE_HELP"
# One node start for every fact about it: version, major, arch, module ABI, C library.
facts=$(node -p '[process.version, process.versions.node.split(".")[0], process.arch, process.versions.modules, process.report.getReport().header.glibcVersionRuntime || "-"].join(" ")') ||
  die "$(command -v node) does not run; $NODE_HELP"
read -r node_version node_major host_arch host_abi host_glibc <<<"$facts"
[ "$node_major" -ge 20 ] || die "node $node_version is too old: ledagent needs Node.js 20 or later; $NODE_HELP"

work=$(mktemp -d)
incoming=""
cleanup() {
  rm -rf -- "$work"
  [ -z "$incoming" ] || rm -rf -- "$incoming"
}
trap cleanup EXIT

# The whole archive is read once before anything is unpacked: a truncated or damaged download is
# refused here, with the install as it was.
if ! tar_err=$(tar -tzf "$tarball" 2>&1 >"$work/list"); then
  why=$(printf '%s\n' "$tar_err" | grep -v -e '^[[:space:]]*$' -e '^tar: \(Exiting\|Error is not recoverable\|Child returned\)' | head -n 1 || true)
  die "$tarball: not a valid release tarball (corrupt or incomplete): ${why:-$tar_err}"
fi
top=$(head -n 1 "$work/list" | cut -d/ -f1)
[[ -n $top && $top != . && $top != .. ]] || die "$tarball: not a ledagent release (no top directory)"
if awk -v t="$top" '$0 != t && substr($0, 1, length(t) + 1) != t "/" { bad = 1 } END { exit !bad }' "$work/list"; then
  die "$tarball: not a ledagent release (more than one top directory)"
fi
grep -qxF "$top/release.json" "$work/list" || die "$tarball: not a ledagent release (no release.json)"
grep -qxF "$top/systemd/ledagent.service" "$work/list" || die "$tarball: not a ledagent release (no systemd/ledagent.service)"
tar -xzf "$tarball" -C "$work" --no-same-owner "$top/release.json" "$top/systemd/ledagent.service"
mv -- "$work/$top/release.json" "$work/$top/systemd/ledagent.service" "$work/"

# name version arch nodeAbi nodeVersion glibc, each checked to be a plain word (the version
# becomes a directory name).
# shellcheck disable=SC2016 # JavaScript, not shell: its template literals are not for bash
if ! manifest=$(node -e '
  const m = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const word = (k, v) => { if (typeof v !== "string" || !/^[A-Za-z0-9._+-]+$/.test(v)) throw new Error(`${k}: ${JSON.stringify(v)}`); return v; };
  if (m.name !== "ledagent") throw new Error(`name: ${JSON.stringify(m.name)}`);
  if (m.platform !== "linux") throw new Error(`platform: ${JSON.stringify(m.platform)}`);
  console.log([word("version", m.version), word("arch", m.arch), word("nodeAbi", m.nodeAbi), word("nodeVersion", m.nodeVersion), m.glibc == null ? "-" : word("glibc", m.glibc)].join(" "));
' "$work/release.json" 2>&1); then
  die "$tarball: release.json is not a ledagent release manifest ($(printf '%s\n' "$manifest" | grep -m1 'Error' || true))"
fi
read -r version rel_arch rel_abi rel_node rel_glibc <<<"$manifest"
[[ $version != . && $version != .. ]] || die "$tarball: bad version in release.json"

[ "$rel_arch" = "$host_arch" ] || die "$tarball is built for $rel_arch, this machine is $host_arch: build the package on a $host_arch machine (docs/install.md)"
if [ "$rel_abi" != "$host_abi" ]; then
  die "$tarball is built for Node ABI $rel_abi ($rel_node), this machine's node $node_version has ABI $host_abi: its native modules would not load; build the package with Node $node_major (docs/install.md), or install the Node major version it was built with"
fi
if [ "$rel_glibc" != - ] && [ "$host_glibc" != - ] && [ "$(printf '%s\n%s\n' "$rel_glibc" "$host_glibc" | sort -V | head -n 1)" != "$rel_glibc" ]; then
  die "$tarball is built against glibc $rel_glibc, this machine has $host_glibc: its native modules would not load; build the package on a system no newer than the target (docs/install.md)"
fi

config_here=$(where "$CONFIG")
if [ ! -e "$config_here" ] && [ -z "$screen" ]; then
  die "--screen ID is needed: there is no $CONFIG yet to keep"
fi
if [ -n "$ops_key_file" ]; then
  [[ -f $ops_key_file && -r $ops_key_file ]] || die "--ops-public-key $ops_key_file: no such readable file"
  grep -q -- '-----BEGIN PUBLIC KEY-----' "$ops_key_file" || die "--ops-public-key $ops_key_file: not a PEM public key"
  if [ -e "$(where "$OPS_KEY")" ] && ! cmp -s -- "$ops_key_file" "$(where "$OPS_KEY")"; then
    die "$OPS_KEY exists and differs from $ops_key_file: whoever holds that key signs what this screen plays, so it is not replaced by an install; replace it by hand if the ops key really changed"
  fi
fi

# The unit names the groups the agent runs with: each must exist, or systemd refuses to start it.
unit_groups=$(sed -n 's/^SupplementaryGroups=//p' "$work/ledagent.service" | tr ' ' '\n')
groups=(dialout video)
for g in $unit_groups; do
  [[ " ${groups[*]} " == *" $g "* ]] || groups+=("$g")
done

say "installing ledagent $version${R:+ under $R}"

# ---- packages --------------------------------------------------------------------------------

missing_packages() {
  local missing=()
  command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || missing+=(ffmpeg)
  command -v mpv >/dev/null || missing+=(mpv)
  [ ${#missing[@]} -eq 0 ] || printf '%s\n' "${missing[@]}"
}
if ! live; then
  note "--destdir: no packages are installed; the target needs ffmpeg and mpv"
else
  mapfile -t missing < <(missing_packages)
  if [ ${#missing[@]} -eq 0 ]; then
    say "ffmpeg, mpv: already installed"
  elif [ "$packages" = 0 ]; then
    note "missing ${missing[*]} (--no-packages): the agent cannot fit or play creatives until they are installed (apt-get install ${missing[*]})"
  else
    command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get to install them: install them, or pass --no-packages"
    say "installing ${missing[*]} (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  node_path=$(command -v node)
  case ${node_path%/*} in
    /usr/local/sbin | /usr/local/bin | /usr/sbin | /usr/bin | /sbin | /bin) ;;
    *) note "node is $node_path, outside the PATH systemd gives services: install Node.js system-wide, or link it as /usr/local/bin/node" ;;
  esac
fi

ensure_user "${groups[@]}"
# Who owns the agent's files: the agent's user, or (no user could be made) whoever runs this.
owner_uid=${agent_uid:-$(id -u)}
owner_gid=${agent_gid:-$(id -g)}
own() { # uid gid mode path; never through a symbolic link (root would change its target)
  [ ! -L "$4" ] || die "$4 is a symbolic link: refusing to change owner or mode through it"
  ! is_root || chown -h -- "$1:$2" "$4"
  chmod -- "$3" "$4"
}

# ---- the release -----------------------------------------------------------------------------

releases=$(where "$OPT_DIR/releases")
mkdir -p -- "$releases"
chmod 0755 -- "$(where "$OPT_DIR")" "$releases"
target=$releases/$version
sha=$(sha256sum -- "$tarball" | cut -d' ' -f1)
changed=0
if [ -f "$target/.tarball-sha256" ] && [ "$(cat -- "$target/.tarball-sha256")" = "$sha" ]; then
  say "release $version: already installed"
else
  incoming=$(mktemp -d "$releases/.incoming.XXXXXX")
  tar -xzf "$tarball" -C "$incoming" --strip-components=1 --no-same-owner || die "$tarball: unpacking failed"
  printf '%s\n' "$sha" >"$incoming/.tarball-sha256"
  chmod 0755 -- "$incoming"
  if [ -e "$target" ]; then
    # Same version, different build: the new one replaces it whole.
    mv -T -- "$target" "$incoming.replaced"
    mv -T -- "$incoming" "$target"
    rm -rf -- "$incoming.replaced"
    say "release $version: replaced (this tarball differs from the one installed)"
  else
    mv -T -- "$incoming" "$target"
    say "release $version: unpacked to $OPT_DIR/releases/$version"
  fi
  incoming=""
  touch -- "$target" # the newest install is the newest release, whatever tar said
  changed=1
fi

# The switch: a new link renamed over the old one, so `current` is always one release or the other.
current=$(where "$OPT_DIR/current")
was=$(readlink -- "$current" 2>/dev/null || true)
if [ "$was" = "releases/$version" ]; then
  say "current: already $version"
else
  ln -sfn -- "releases/$version" "$current.new"
  mv -T -- "$current.new" "$current"
  touch -- "$target" # the release switched to is the newest: the pruning below keeps the others
  say "current: $version${was:+ (was ${was#releases/})}"
  changed=1
fi

# Newest first; a release's directory is touched when it is installed.
mapfile -t older < <(find "$releases" -mindepth 1 -maxdepth 1 -type d ! -name '.*' ! -name "$version" -printf '%T@ %f\n' | sort -rn | cut -d' ' -f2-)
for old in "${older[@]:$((KEEP_RELEASES - 1))}"; do
  rm -rf -- "${releases:?}/$old"
  say "release $old: removed (the last $KEEP_RELEASES are kept)"
done

link=$(where "$BIN_LINK")
mkdir -p -- "$(dirname -- "$link")"
if [ "$(readlink -- "$link" 2>/dev/null || true)" = "$CLI" ]; then
  say "$BIN_LINK: already installed"
else
  [[ ! -e $link && ! -L $link ]] || note "$BIN_LINK replaced (it was $(readlink -- "$link" 2>/dev/null || echo 'a file'))"
  ln -sfn -- "$CLI" "$link.new"
  mv -T -- "$link.new" "$link"
  say "$BIN_LINK -> $CLI"
fi

# ---- the unit --------------------------------------------------------------------------------

unit=$(where "$UNIT")
mkdir -p -- "$(dirname -- "$unit")"
if cmp -s -- "$current/systemd/ledagent.service" "$unit"; then
  say "$UNIT: already installed"
else
  install -m 0644 -- "$current/systemd/ledagent.service" "$unit.new"
  mv -T -- "$unit.new" "$unit"
  say "$UNIT: installed"
  changed=1
fi
exec_path=$(sed -n 's/^ExecStart=[-@:+!]*\([^ ]*\).*/\1/p' "$unit" | head -n 1)
case $exec_path in
  "$CLI" | "$BIN_LINK") ;;
  *) note "the unit starts $exec_path, which this install does not provide ($CLI, $BIN_LINK): the service cannot start until they agree" ;;
esac

# ---- config and device key -------------------------------------------------------------------

etc=$(where "$ETC_DIR")
data=$(where "$DATA_DIR")
mkdir -p -- "$etc" "$data"
own 0 "$owner_gid" 0750 "$etc"
own "$owner_uid" "$owner_gid" 0700 "$data"

if [ -n "$ops_key_file" ]; then
  if [ -e "$(where "$OPS_KEY")" ]; then
    say "$OPS_KEY: already installed"
  else
    install -m 0644 -- "$ops_key_file" "$(where "$OPS_KEY").new"
    own 0 0 0644 "$(where "$OPS_KEY").new"
    mv -T -- "$(where "$OPS_KEY").new" "$(where "$OPS_KEY")"
    say "$OPS_KEY: installed"
  fi
fi

as_agent() { # runs a command as the agent's user when there is one (and we may switch to it)
  if is_root && [ -n "$agent_uid" ]; then
    # With the PATH systemd gives the service: the caller's may hold directories it cannot enter.
    setpriv --reuid="$agent_uid" --regid="$agent_gid" --clear-groups -- \
      env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
  else
    "$@"
  fi
}

if [ -e "$config_here" ]; then
  say "$CONFIG: already there, kept"
  if [ -n "$screen$panel$mqtt_url$controller$timezone" ] || [ "$headless" = 1 ]; then
    note "--screen, --panel, --mqtt-url, --controller, --timezone and --headless make a new config only; edit $CONFIG (or ledagent init --force) to change this one"
  fi
else
  # `ledagent init` writes the config; run as the agent's user, so the key and anything else it
  # creates under the data directory is the agent's from the start, and an existing key (a
  # reinstall that kept the ledger) passes the key's owner check. It cannot write /etc/ledagent,
  # so it writes beside the key and the config is moved into place from there.
  staged=$DATA_DIR/.install-config.yaml
  rm -f -- "$(where "$staged")"
  init=(init --config "$staged" --screen "$screen" --data-dir "$DATA_DIR" --run-dir "$RUN_DIR")
  live || init+=(--root "$R")
  [ -z "$panel" ] || init+=(--panel "$panel")
  [ -z "$mqtt_url" ] || init+=(--mqtt-url "$mqtt_url")
  [ ! -e "$(where "$OPS_KEY")" ] || init+=(--ops-public-key "$OPS_KEY")
  [ -z "$controller" ] || init+=(--controller "$controller")
  [ -z "$timezone" ] || init+=(--timezone "$timezone")
  [ "$headless" = 0 ] || init+=(--headless)
  key_state=new
  if [ -e "$(where "$DEVICE_KEY")" ]; then
    init+=(--force) # --force without --new-key: the key is kept, the config written
    key_state="already there, kept"
  fi
  if ! as_agent test -r "$(where "$CLI")"; then
    die "the $AGENT_USER user (uid $agent_uid) cannot read $(where "$CLI"): every directory above it needs mode 0755"
  fi
  if ! out=$(cd / && as_agent "$(command -v node)" "$(where "$CLI")" "${init[@]}" 2>&1); then
    rm -f -- "$(where "$staged")"
    die "ledagent init failed: $(printf '%s\n' "$out" | tail -n 1)"
  fi
  # Read as the agent's user: the file is in the agent's directory, and a link planted there must
  # not make root copy a file the agent may not read (such as /etc/shadow) into its config.
  rm -f -- "$config_here.new"
  (umask 0077 && as_agent cat -- "$(where "$staged")" >"$config_here.new") || die "cannot read the config init wrote"
  own 0 "$owner_gid" 0640 "$config_here.new"
  mv -T -- "$config_here.new" "$config_here"
  rm -f -- "$(where "$staged")"
  say "$CONFIG: written for screen $screen"
  say "device key: $DEVICE_KEY ($key_state); its public key, for ops, customers and auditors:"
  printf '%s\n' "$out" | sed -n '/-----BEGIN PUBLIC KEY-----/,/-----END PUBLIC KEY-----/p'
fi
# Owners and modes, every run: a config others could rewrite would be refused by the agent.
own 0 "$owner_gid" 0640 "$config_here"
key=$(where "$DEVICE_KEY")
if [ -e "$key" ] || [ -L "$key" ]; then
  # The key and its directory belong to the agent's user, who could replace either with a link:
  # their modes are set as that user, never by root (a chmod follows links).
  for path in "$(dirname -- "$key")" "$key"; do
    [ ! -L "$path" ] || die "$path is a symbolic link: the device key must be a plain file in a plain directory"
  done
  if ! { as_agent chmod 0700 -- "$(dirname -- "$key")" && as_agent chmod 0600 -- "$key"; }; then
    die "cannot set the device key's modes as the $AGENT_USER user: $key must be that user's"
  fi
fi

# ---- the service -----------------------------------------------------------------------------

if ! live; then
  if [ "$start" = 1 ]; then
    # What `systemctl enable` does, done in the image: the agent starts at its first boot.
    wants=$(where "$UNIT_WANTS")
    if [ "$(readlink -- "$wants" 2>/dev/null || true)" = "$UNIT" ]; then
      say "service: already enabled"
    else
      mkdir -p -- "$(dirname -- "$wants")"
      ln -sfn -- "$UNIT" "$wants"
      say "service: enabled (starts at the target's boot)"
    fi
  fi
  say "ledagent $version installed under $R"
  exit 0
fi

if [ "$start" = 0 ]; then
  say "ledagent $version installed; not started (--no-start): systemctl daemon-reload && systemctl enable --now ledagent"
elif systemd_running; then
  active=0
  ! systemctl is-active --quiet ledagent || active=1
  systemctl daemon-reload
  systemctl enable --now ledagent >/dev/null 2>&1 || die "systemctl enable --now ledagent failed: see systemctl status ledagent and journalctl -u ledagent"
  if [ "$active" = 1 ] && [ "$changed" = 1 ]; then
    systemctl restart ledagent || die "systemctl restart ledagent failed: see journalctl -u ledagent"
    say "service: restarted on $version"
  elif [ "$active" = 1 ]; then
    say "service: already running"
  else
    say "service: enabled and started"
  fi
  say "ledagent $version installed; ledagent doctor checks the setup, journalctl -u ledagent shows the agent's log"
else
  say "ledagent $version installed; systemd is not running here, so nothing was started: as root, install -d -o $AGENT_USER -g $AGENT_USER -m 0750 $RUN_DIR && setpriv --reuid=$AGENT_USER --regid=$AGENT_USER --init-groups $BIN_LINK run --config $CONFIG"
fi
