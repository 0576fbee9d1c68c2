#!/usr/bin/env bash
# Prove the README's first screen on a fresh machine: a minimal Debian root built with
# debootstrap, holding nothing but git and python3, a clean clone of this repository, and
# the README's two commands run exactly as README.md writes them (parsed from it), once as
# root and once as an unprivileged user who has passwordless sudo.
#
#   scripts/check-fresh-machine.sh                  bookworm and trixie, root and user
#   scripts/check-fresh-machine.sh --suite bookworm --user tester --only 1
#   scripts/check-fresh-machine.sh --keep           leave the roots for inspection
#   scripts/check-fresh-machine.sh --serial         the users one after the other
#
# Exit status: 0 every step passed; 1 a README command failed after set-up had finished (a
# failure of this repository: the demo and the tests need no network); 3 a step failed
# that depends on the network or the host (debootstrap, apt or pip inside the root, the
# set-up part of a README command); 2 this host cannot run the check (not root, a tool
# missing, no mount namespaces). .ci/run treats only 1 as a CI failure.
#
# Needs root on the host (debootstrap, mount namespaces), debootstrap, util-linux, git and
# a reachable Debian mirror (OPENINTERN_CI_MIRROR, default http://deb.debian.org/debian).
# Ubuntu is not checked: debootstrap here has no script for 24.04 (noble).
#
# How the root is entered. A plain chroot is not enough: the kernel refuses to create user
# namespaces for a chrooted process, so bubblewrap (the sandbox) fails and the demo would
# not test the real thing. Each command runs in a private mount and PID namespace
# (`unshare --mount --pid --fork`) whose root is switched with pivot_root; there
# namespaces, and so bubblewrap, work as on a real machine. /proc is the namespace's own;
# /dev and /sys (cgroups) are the host's; the network is the host's. When the command
# ends, the PID namespace ends with it (no stray servers), and its mounts vanish.
#
# What the fresh root gets besides git and python3, and why:
#   - /etc/hosts, /etc/hostname and /etc/resolv.conf, as an installed system has them;
#   - /usr/sbin/policy-rc.d refusing service starts (as in Debian's container images), so
#     installing postgresql does not start a server in the check;
#   - for the user run only: the sudo package and a user `tester` with passwordless sudo;
#   - this machine's pip configuration (`pip config list`, PIP_* variables), with the
#     directories and files it names bound read-only into the root, so packages come from
#     the same local wheel store as here (torch 2.13.0 as its CPU wheel from disk; a CUDA
#     build is never downloaded: the README's second command is skipped, and says so,
#     where no local CPU wheel of torch fits the root's Python).
#
# Caches, all outside the repository under OPENINTERN_CI_CACHE (/var/cache/openintern-ci):
#   debootstrap/SUITE.debs.tgz   the packages debootstrap downloads (--make-tarball)
#   roots/SUITE.tar              the bootstrapped root itself (both rebuilt after
#                                OPENINTERN_CI_ROOT_MAX_AGE_DAYS, default 7)
#   apt/SUITE-USER/{archives,lists}  apt's downloads and package lists inside the root
#   pip/SUITE-USER               the root's pip cache (wheels, HTTP responses)
# Nothing else is reused: every (suite, user) starts from the unpacked root, and the README's
# commands do all their work (apt installs, the venv, every pip install, the demo, the tests).
#
# Time, on this 2-core machine under other work (measured here): building a root about
# 3 minutes (the download half a minute; then cached for OPENINTERN_CI_ROOT_MAX_AGE_DAYS),
# unpacking the cached one seconds; command 1 about 100 CPU-seconds and 3-5 minutes of
# wall (apt, the venv, pip from the local wheel store, then the demo); command 2 is the
# bulk (apt for Chromium and PostgreSQL, torch and the extras, then the whole suite, once
# per user): the full matrix takes the better part of an hour. The users of a suite run at the same
# time, each in its own root (their own apt and pip caches, the host's network; PIDs,
# mounts and files apart); the suites run one after the other; `--serial` runs the users
# in turn. CI (.ci/run) runs command 1 on bookworm only, within a time limit. Steps, wall
# and CPU seconds are printed in a table at the end; logs stay in OPENINTERN_CI_WORK/logs
# (/var/tmp/openintern-fresh/logs).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cache=${OPENINTERN_CI_CACHE:-/var/cache/openintern-ci}
work=${OPENINTERN_CI_WORK:-/var/tmp/openintern-fresh}
mirror=${OPENINTERN_CI_MIRROR:-http://deb.debian.org/debian}
max_age_days=${OPENINTERN_CI_ROOT_MAX_AGE_DAYS:-7}
suites=()
users=()
only=""
keep=0
serial=0

usage() { sed -n '2,11p' "$0"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --suite) suites+=("$2"); shift 2 ;;
    --user) users+=("$2"); shift 2 ;;
    --only) only=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --serial) serial=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "check-fresh-machine: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done
[ ${#suites[@]} -gt 0 ] || suites=(bookworm trixie)
[ ${#users[@]} -gt 0 ] || users=(root tester)

die() { echo "check-fresh-machine: $*" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || die "run me as root (debootstrap and mount namespaces need it)"
for tool in debootstrap unshare pivot_root git tar python3; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is missing (apt-get install debootstrap util-linux git)"
done
unshare --mount --pid --fork --kill-child --propagation private true 2>/dev/null \
  || die "this host cannot create mount and PID namespaces (a locked-down container?)"

# --- the README's two commands --------------------------------------------------------
# The first fenced bash block of README.md holds them, one per line (comments included:
# the shell ignores them, and the line is run as it stands).
mapfile -t commands < <(awk '/^```bash/ {inblock = 1; next} inblock && /^```/ {exit}
                              inblock && NF {print}' "$here/README.md")
[ ${#commands[@]} -eq 2 ] || { echo "check-fresh-machine: expected two commands in README.md's first bash block, found ${#commands[@]}" >&2; exit 1; }

# --- results --------------------------------------------------------------------------
# Each run appends "step|suite|user|wall s|CPU s|result" rows to its own file (runs of the
# users go in parallel); the table at the end reads them in order. "-" results are parts
# of the command below them; only whole steps pass or fail.
rows_dir="$work/results"
record() { printf '%s|%s|%s|%s|%s|%s\n' "$1" "$2" "$3" "$4" "${6:--}" "$5" >>"$rows_file"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.0f", b - a}'; }

summary() {
  local format='%-40s %-9s %-7s %7s %7s  %s\n'
  # shellcheck disable=SC2059
  printf "\n$format" step suite user "wall s" "CPU s" result
  printf '%s\n' "------------------------------------------------------------------------------------------------"
  local step suite user wall cpu result
  while IFS='|' read -r step suite user wall cpu result; do
    # shellcheck disable=SC2059
    printf "$format" "$step" "$suite" "$user" "$wall" "$cpu" "$result"
  done < <(cat "$rows_dir"/*.rows)
}

failures() { cut -d'|' -f6 "$rows_dir"/*.rows | grep -cvE '^(ok|-|skipped)' || true; }
# Failures of the repository itself: a README command that failed after set-up finished.
repo_failures() { cut -d'|' -f6 "$rows_dir"/*.rows | grep -c '^FAILED (exit' || true; }

rm -rf "$rows_dir"
mkdir -p "$rows_dir"
mkdir -p "$cache/debootstrap" "$cache/roots" "$work/logs"

# --- building (or reusing) a root -------------------------------------------------------
root_tar() {  # SUITE: sets $tar to the cached root tarball, built when missing or old
  local suite=$1 debs="$cache/debootstrap/$1.debs.tgz"
  tar="$cache/roots/$1.tar"
  if [ -f "$tar" ] && [ -z "$(find "$tar" -mtime +"$max_age_days")" ]; then
    return
  fi
  local log="$work/logs/$suite-debootstrap.log" start tmp
  start=$(now)
  tmp=$(mktemp -d "$work/build-$suite.XXXXXX")
  {
    if [ ! -f "$debs" ] || [ -n "$(find "$debs" -mtime +"$max_age_days")" ]; then
      rm -f "$debs"
      debootstrap --variant=minbase --include=git,python3 --make-tarball="$debs.part" \
        "$suite" "$tmp/dl" "$mirror" && mv "$debs.part" "$debs"
      rm -rf "$tmp/dl"
    fi
    debootstrap --variant=minbase --include=git,python3 --unpack-tarball="$debs" \
      "$suite" "$tmp/root" "$mirror"
    chroot "$tmp/root" apt-get clean
    tar -C "$tmp/root" --numeric-owner -cf "$tar.part" . && mv "$tar.part" "$tar"
  } >"$log" 2>&1 || { rm -rf --one-file-system "$tmp"; record "debootstrap (build the root)" "$suite" - "$(secs "$start" "$(now)")" "FAILED, see $log"; return 1; }
  rm -rf --one-file-system "$tmp"
  record "debootstrap (build the root)" "$suite" - "$(secs "$start" "$(now)")" ok
}

# --- this machine's pip configuration, for the root -----------------------------------
# Prints "bind HOST_PATH ROOT_PATH" lines, then "conf" and the pip.conf text.
pip_forwarding() {
  python3 - <<'PY'
import os, re, subprocess

try:
    out = subprocess.run(["python3", "-m", "pip", "config", "list"], capture_output=True,
                         text=True, check=False).stdout
except OSError:
    out = ""
settings = {}
for line in out.splitlines():
    m = re.match(r"^(?:global|install|:env:)\.([\w-]+)='(.*)'$", line)
    if m:
        settings[m.group(1)] = m.group(2)
for name, value in os.environ.items():
    if name.startswith("PIP_") and name not in ("PIP_CONFIG_FILE", "PIP_REQUIRE_VIRTUALENV"):
        settings[name[4:].lower().replace("_", "-")] = value
binds, lines = {}, []
for key, value in sorted(settings.items()):
    parts = []
    for token in value.split():
        path = token[len("file://"):] if token.startswith("file://") else token
        if path.startswith("/") and os.path.exists(path):
            if os.path.isdir(path):
                # A local index (.../simple) may link its files in a sibling folder.
                folder = os.path.dirname(path.rstrip("/")) if path.rstrip("/").endswith(
                    "/simple") else path
                binds[folder] = folder
            else:  # a file (CA bundle, constraints): its own name under /etc/openintern-ci
                binds[path] = f"/etc/openintern-ci/{key}-{os.path.basename(path)}"
                token = token.replace(path, binds[path])
        parts.append(token)
    lines.append(f"{key} = {' '.join(parts)}")
for host, inside in binds.items():
    print("bind", host, inside)
print("conf")
print("[global]")
print("\n".join(lines))
PY
}

torch_wheel_for() {  # PYTHON_TAG VERSION -> 0 if a local CPU wheel of torch fits
  local tag=$1 version=$2 dir
  for dir in "${bind_dirs[@]}"; do
    [ -n "$(find "$dir" -maxdepth 3 -name "torch-$version*-$tag-$tag-*linux*_x86_64.whl" \
      -print -quit 2>/dev/null)" ] && return 0
  done
  return 1
}

# --- entering a root ---------------------------------------------------------------------
# in_root ROOT BINDS_FILE CMD...: run CMD as root inside ROOT (private mount + PID
# namespaces, pivot_root). BINDS_FILE lists "HOST_PATH ROOT_PATH [rw]" lines.
in_root() {
  local root=$1 binds=$2; shift 2
  unshare --mount --pid --fork --kill-child --propagation private -- /bin/bash -ec '
    root=$1 binds=$2; shift 2
    mount --rbind "$root" "$root"
    mount -t proc proc "$root/proc"
    mount --rbind /dev "$root/dev"
    mount --rbind /sys "$root/sys"
    while read -r host inside mode; do
      [ -n "$host" ] || continue
      if [ -d "$host" ]; then mkdir -p "$root$inside"; else mkdir -p "$(dirname "$root$inside")"; touch "$root$inside"; fi
      mount --bind "$host" "$root$inside"
      [ "$mode" = rw ] || mount -o remount,bind,ro "$root$inside"
    done <"$binds"
    cd "$root"
    mkdir -p .host
    pivot_root . .host
    umount -l /.host
    rmdir /.host
    # bash stays PID 1 of the namespace (it reaps orphans) and runs the command as its child.
    exec chroot . /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      HOME=/root LANG=C.UTF-8 /bin/bash -c "\"\$@\"; exit \$?" pid1 "$@"
  ' enter "$root" "$binds" "$@"
}

# Stamp each output line with the seconds since the start (for the step timings).
stamp() { python3 -u -c '
import sys, time
t0 = time.monotonic()
for line in sys.stdin:
    sys.stdout.write(f"{time.monotonic() - t0:9.2f} {line}")
'; }

# Seconds of CPU (user + system of the children) from the output of bash's `times`.
cpu_seconds() {
  awk 'NR == 2 {
    total = 0
    for (i = 1; i <= 2; i++) { split($i, p, /[ms]/); total += p[1] * 60 + p[2] }
    printf "%.0f", total
  }' "$1" 2>/dev/null || echo "?"
}

# From a stamped log of one README command: "part seconds" for each phase setup.sh
# announces (system packages, virtual environment, pip) and for what runs after it.
phases() {  # LOG LAST_PART_NAME
  python3 - "$1" "$2" <<'PY'
import re, sys
log, last = sys.argv[1], sys.argv[2]
marks = [("installing system packages", "setup.sh: apt-get"),
         ("creating the virtual environment", "setup.sh: venv"),
         ("installing torch", "setup.sh: pip"),
         ("installing OpenIntern", "setup.sh: pip"),
         ("OpenIntern is installed", last)]
found, end = [], 0.0
for line in open(log, errors="replace"):
    m = re.match(r"\s*(\d+\.\d+) (.*)", line)
    if not m:
        continue
    t, text = float(m.group(1)), m.group(2)
    end = t
    for needle, part in marks:
        if needle in text and (not found or found[-1][0] != part):
            found.append((part, t))
for i, (part, t) in enumerate(found):
    stop = found[i + 1][1] if i + 1 < len(found) else end
    print(f"{part}|{stop - t:.0f}")
PY
}

# --- one (suite, user) run ---------------------------------------------------------------
check_one() {
  local suite=$1 user=$2 tar=$3
  rows_file="$rows_dir/$index-1-$suite-$user.rows"
  local dir="$work/$suite-$user" root="$work/$suite-$user/root" start home log
  rm -rf --one-file-system "$dir"
  mkdir -p "$root"
  start=$(now)
  tar -C "$root" --numeric-owner -xpf "$tar"
  record "unpack the cached root" "$suite" "$user" "$(secs "$start" "$(now)")" ok

  # Machine set-up that an installed Debian has (or that an admin did for the user).
  start=$(now)
  local host_name; host_name=$(hostname)
  printf '%s\n' "$host_name" >"$root/etc/hostname"
  printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
    "$host_name" >"$root/etc/hosts"
  cp -L /etc/resolv.conf "$root/etc/resolv.conf"
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"; chmod 755 "$root/usr/sbin/policy-rc.d"
  local binds="$dir/binds"
  : >"$binds"
  local forwarding; forwarding=$(pip_forwarding)
  bind_dirs=()
  while read -r kind host inside; do
    [ "$kind" = bind ] || continue
    echo "$host $inside" >>"$binds"
    [ -d "$host" ] && bind_dirs+=("$host")
  done <<<"$forwarding"
  printf '%s\n' "${forwarding#*conf$'\n'}" >"$root/etc/pip.conf"
  # apt locks its cache: each (suite, user) has its own, so the users can run at once.
  local apt_cache="$cache/apt/$suite-$user"
  mkdir -p "$apt_cache/archives/partial" "$apt_cache/lists/partial"
  echo "$apt_cache/archives /var/cache/apt/archives rw" >>"$binds"
  echo "$apt_cache/lists /var/lib/apt/lists rw" >>"$binds"
  if [ "$user" = root ]; then
    home=/root
  else
    home=/home/$user
    in_root "$root" "$binds" bash -ec "
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq && apt-get install -y -qq --no-install-recommends sudo >/dev/null
      useradd --create-home --shell /bin/bash $user
      echo '$user ALL=(ALL) NOPASSWD:ALL' >/etc/sudoers.d/$user && chmod 440 /etc/sudoers.d/$user
    " >"$work/logs/$suite-$user-prepare.log" 2>&1 \
      || { record "prepare the machine" "$suite" "$user" "$(secs "$start" "$(now)")" "FAILED, see $work/logs/$suite-$user-prepare.log"; return; }
  fi
  local uid; uid=$(awk -F: -v u="$user" '$1 == u {print $3}' "$root/etc/passwd")
  mkdir -p "$cache/pip/$suite-$user" "$root$home/.cache/pip"
  chown "$uid:$uid" "$cache/pip/$suite-$user"
  echo "$cache/pip/$suite-$user $home/.cache/pip rw" >>"$binds"
  record "prepare the machine" "$suite" "$user" "$(secs "$start" "$(now)")" ok

  # A clean clone of the committed tree (not the working tree).
  start=$(now)
  git clone --quiet --no-hardlinks "$here" "$root$home/openintern"
  git -C "$root$home/openintern" reset --quiet --hard "$revision"  # the same for every run
  chown -R "$uid:$uid" "$root$home"
  record "git clone ${revision:0:7}" "$suite" "$user" "$(secs "$start" "$(now)")" ok

  local python_tag torch_version i
  python_tag=$(in_root "$root" "$binds" python3 -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
  torch_version=$(grep -o 'torch==[0-9.]*' "$root$home/openintern/scripts/setup.sh" | head -1 | cut -d= -f3)
  for i in 1 2; do
    [ -z "$only" ] || [ "$only" = "$i" ] || continue
    local command=${commands[$((i - 1))]}
    local label="README command $i"
    if [[ "$command" == *--dev* ]] && [ -n "$torch_version" ] && ! torch_wheel_for "$python_tag" "$torch_version"; then
      record "$label" "$suite" "$user" 0 "skipped (no local CPU wheel of torch $torch_version for $python_tag)"
      continue
    fi
    log="$work/logs/$suite-$user-command$i.log"
    echo "== $suite / $user: $command" >&2
    start=$(now)
    local rc
    # A login shell, as a person who opens a terminal and pastes the command.
    set +e
    (
      in_root "$root" "$binds" runuser -l "$user" -c "cd ~/openintern && $command"
      code=$?
      times >"$log.cpu"  # user and system time of everything the command ran
      exit $code
    ) 2>&1 | stamp >"$log"
    rc=${PIPESTATUS[0]}
    set -e
    local total; total=$(secs "$start" "$(now)")
    local cpu; cpu=$(cpu_seconds "$log.cpu")
    local part seconds last="intern demo"
    [[ "$command" == *pytest* ]] && last="pytest"
    while IFS='|' read -r part seconds; do
      record "  $part" "$suite" "$user" "$seconds" "-"
    done < <(phases "$log" "$last")
    if [ "$rc" -eq 0 ]; then
      record "$label" "$suite" "$user" "$total" ok "$cpu"
    else
      # Set-up (apt, pip) needs the network; what runs after it does not.
      if grep -q "OpenIntern is installed" "$log"; then
        record "$label" "$suite" "$user" "$total" "FAILED (exit $rc), see $log" "$cpu"
      else
        record "$label" "$suite" "$user" "$total" "FAILED in set-up (exit $rc), see $log" "$cpu"
      fi
      # The last lines, without the pip notes this machine's index configuration causes.
      grep -v "is ignored: it is neither a file nor a directory" "$log" | tail -n 40 >&2
    fi
  done
  [ "$keep" -eq 1 ] || rm -rf --one-file-system "$dir"
}

overall=$(now)
revision=$(git -C "$here" rev-parse HEAD)
[ -z "$(git -C "$here" status --porcelain --untracked-files=no)" ] \
  || echo "check-fresh-machine: note: uncommitted changes are not checked (it clones ${revision:0:7})" >&2
index=0
for suite in "${suites[@]}"; do
  index=$((index + 1))
  rows_file="$rows_dir/$index-0-build.rows"
  root_tar "$suite" || continue
  for user in "${users[@]}"; do
    if [ "$serial" -eq 1 ]; then
      check_one "$suite" "$user" "$tar"
    else
      check_one "$suite" "$user" "$tar" &
    fi
  done
  wait
done
rows_file="$rows_dir/9-total.rows"
if [ "$(failures)" -eq 0 ]; then result=ok; else result=FAILED; fi
record "whole check" - - "$(secs "$overall" "$(now)")" "$result"
summary
if [ "$(repo_failures)" -gt 0 ]; then exit 1; fi
[ "$result" = ok ] || exit 3
