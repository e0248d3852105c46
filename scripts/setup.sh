#!/usr/bin/env bash
# Everything ringzero needs on a fresh Debian 12 machine, idempotent: the
# Debian packages in scripts/apt-packages.txt, and a virtual environment in
# .venv with the harness installed. A second run only checks and returns.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*"; }

# ---- Debian packages ---------------------------------------------------------
mapfile -t wanted < <(grep -Ev '^\s*(#|$)' scripts/apt-packages.txt)
missing=()
for pkg in "${wanted[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done
if ((${#missing[@]})); then
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { say "need root to install: ${missing[*]}"; exit 1; }
    sudo="sudo"
  fi
  say "installing ${#missing[@]} Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  # INITRD=No: linux-image-amd64 (the benchmarks' Linux microVM) would
  # otherwise build an initramfs for this host that nothing boots.
  $sudo env DEBIAN_FRONTEND=noninteractive INITRD=No apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  say "Debian packages: all ${#wanted[@]} present"
fi

# ---- /dev/kvm --------------------------------------------------------------------
# Debian's udev rule makes /dev/kvm root:kvm 0660; these machines have no udev,
# so it is root-only, libvirt's capability check (run as its QEMU user, in
# group kvm) fails, and libvirtd then re-probes QEMU on every domain start
# (~45 s). Apply what udev would.
if [[ -c /dev/kvm && $(stat -c '%G %a' /dev/kvm) != "kvm 660" ]] && getent group kvm >/dev/null; then
  if [[ $(id -u) -eq 0 ]]; then
    chgrp kvm /dev/kvm && chmod 660 /dev/kvm && say "/dev/kvm: made root:kvm 0660, as udev would"
  else
    say "/dev/kvm is not root:kvm 0660; libvirt will be slow (run: sudo chgrp kvm /dev/kvm; sudo chmod 660 /dev/kvm)"
  fi
fi

# ---- Python virtual environment ---------------------------------------------
stamp=.venv/.setup-stamp
want=$(cat pyproject.toml | sha256sum | cut -d' ' -f1)
if [[ -f $stamp && $(cat $stamp) == "$want" && -x .venv/bin/ringzero ]]; then
  say "Python environment: up to date (.venv)"
else
  [[ -x .venv/bin/python ]] || { say "creating .venv"; python3 -m venv .venv; }
  say "installing the harness into .venv (libvirt-python compiles: ~20 s)"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[dev]'
  echo "$want" > $stamp
fi

# ---- the Allure command-line ------------------------------------------------------
# `ringzero conformance` turns its Allure results into an HTML report with it
# (a Java program, from the npm registry; Debian's JRE runs it). Without it
# the run still writes everything else and says so.
if [[ -x .tools/node_modules/.bin/allure ]]; then
  say "Allure command-line: present (.tools)"
elif command -v npm >/dev/null && command -v java >/dev/null; then
  say "installing the Allure command-line into .tools (npm)"
  npm install --prefix .tools --no-audit --no-fund --loglevel=error allure-commandline@2 >/dev/null \
    || say "Allure command-line: npm install failed; conformance runs will skip the Allure HTML report"
else
  say "Allure command-line: needs npm and java; conformance runs will skip the Allure HTML report"
fi

# ---- KVM ----------------------------------------------------------------------
if .venv/bin/python -c 'from ringzero.hypervisor.accel import kvm_status as s; ok, why = s(); print(why); raise SystemExit(0 if ok else 1)' >/tmp/ringzero-kvm.$$ 2>&1; then
  say "KVM: usable"
else
  say "KVM: not usable ($(cat /tmp/ringzero-kvm.$$)); VMs will run under TCG"
fi
rm -f /tmp/ringzero-kvm.$$
