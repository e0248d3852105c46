"""The Linux microVM that the benchmarks hold ringzero against (issue 8):
Debian's own kernel (linux-image-amd64) with an initramfs the harness makes,
booted with the same QEMU settings and the same tap wiring as the unikernel.

    image = build_linuxvm()     # build/linuxvm/<key>/{vmlinuz,initramfs.cpio.gz}
    with boot_linuxvm(run, tap, "10.33.0.2/24", "10.33.0.1", "nginx,dns",
                      256, "tcg", artifacts, dns="www.example.test:10.33.0.50") as vm:
        vm.ready           # {"http": 6.07, "dns": 6.48}: the guest's uptime at each
        vm.start_to_ready  # 12.6: seconds from QEMU's start to the last one (host clock)

The initramfs holds busybox-static and its applet links; the virtio-net
drivers, which Debian builds as modules (virtio_pci, virtio_net and what
modules.dep says they need); nginx and dnsmasq from Debian's packages with
every library ldd names; a static page; and /init (INIT below). The guest's
command line says what to do:

    rz.ip=A/P rz.gw=G          eth0's address and default route
    rz.serve=nginx,dns         nginx or busybox httpd on TCP 80, dnsmasq on UDP 53,
                               discard on TCP 9 (busybox nc -ll forking a dd to
                               /dev/null per connection: this busybox has no inetd)
    rz.dns=name:a.b.c.d,...    the A records dnsmasq serves (the unikernel's dns=)
    rz.bytes=N,...             files /www/bytes/N of N zero octets, made at boot
                               after the services start (the unikernel's
                               /bytes/N, for the bulk benchmark)

and /init prints on the serial console, once each socket listens,

    linuxvm: ready http nginx (uptime 6.07 s)
    linuxvm: ready dns dnsmasq (uptime 6.48 s)
    linuxvm: bytes /bytes/16777216 (uptime 6.90 s)
    linuxvm: ready (uptime 6.91 s)

where the uptime is the guest kernel's own clock (/proc/uptime, 10 ms
steps, counted from early kernel init: the firmware, loading the images and
the kernel's decompression of itself, ~5-6 s of a TCG boot, are not in
it); or "linuxvm: error: ..." before it powers off. Under TCG on this
project's machines it is ready 12-13 s after QEMU starts, and boots with
112 MiB at the least (with less, unpacking the initramfs runs out of memory).
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import ipaddress
import json
import lzma
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import hypervisor
from .console import ConsoleError, LineMatch
from .hypervisor.accel import resolve
from .hypervisor.base import Accel, MachineSpec, NicSpec
from .paths import repo_root, reports_dir
from .runs import Run
from .targets import LINUX_VM_SERVES
from .vm import Guest

KERNEL_PACKAGE = "linux-image-amd64"
PACKAGES = ("busybox-static", "nginx", "dnsmasq-base")
INSTALL_HINT = f"apt-get install {KERNEL_PACKAGE} {' '.join(PACKAGES)} (or `make setup`)"
BUSYBOX = Path("/bin/busybox")
NGINX = Path("/usr/sbin/nginx")
DNSMASQ = Path("/usr/sbin/dnsmasq")
MIME_TYPES = Path("/etc/nginx/mime.types")
# The virtio-net NIC's drivers, loaded with their dependencies where they
# are modules (in Debian 12's kernel all of them are).
MODULES = ("virtio_pci", "virtio_net")

DEFAULT_MEMORY_MIB = 256
DEFAULT_MAC = "52:54:00:33:00:02"
HTTP_SERVERS = ("httpd", "nginx")
# Boot to ready takes 12-13 s under TCG; the default timeouts leave room
# for a loaded host.
READY_TIMEOUT = {"kvm": 30.0, "tcg": 120.0}
READY_RE = re.compile(r"^linuxvm: ready (\w+) (\w+) \(uptime ([\d.]+) s\)$")
DONE_RE = re.compile(r"^linuxvm: (?:ready \(uptime ([\d.]+) s\)|error: (.*))$")

# ---- what goes into the initramfs -------------------------------------------------

INIT = r"""#!/bin/sh
# /init of ringzero's Linux microVM, written by harness/linuxvm.py: loads the
# virtio-net drivers, configures eth0 and starts the services that the
# command line names (rz.ip= rz.gw= rz.serve= rz.dns=), saying on the
# console when each listens.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

say() { echo "linuxvm: $*"; }
uptime_s() { read -r up _ < /proc/uptime; echo "$up"; }
fail() {
    say "error: $*"
    poweroff -f
    while :; do sleep 3600; done
}
arg() {
    for word in $(cat /proc/cmdline); do
        case "$word" in "$1="*) echo "${word#*=}"; return 0 ;; esac
    done
}
seconds() { read -r up _ < /proc/uptime; echo "${up%.*}"; }
# listening PROTO HEXPORT STATE PID NAME: waits until /proc/net/PROTO or
# PROTO6 has a socket bound to the port in the state (0A: TCP LISTEN; 07: a
# bound UDP socket), while process PID lives.
listening() {
    deadline=$(($(seconds) + 60))
    until grep -qs ":$2 0*:0000 $3 " "/proc/net/$1" "/proc/net/${1}6"; do
        kill -0 "$4" 2>/dev/null || fail "$5 ended before it listened"
        [ "$(seconds)" -lt "$deadline" ] || fail "$5 did not listen within 60 s"
        usleep 10000
    done
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

ip=$(arg rz.ip)
gw=$(arg rz.gw)
serve=$(arg rz.serve)
records=$(arg rz.dns)
sizes=$(arg rz.bytes)

while read -r module; do
    insmod "$module" || fail "insmod $module failed"
done < /etc/linuxvm/modules
deadline=$(($(seconds) + 10))
until [ -e /sys/class/net/eth0 ]; do
    [ "$(seconds)" -lt "$deadline" ] || fail "no eth0 after 10 s (no virtio-net NIC?)"
    usleep 10000
done
ip link set lo up
ip link set eth0 up || fail "eth0 did not come up"
if [ -n "$ip" ]; then ip addr add "$ip" dev eth0 || fail "rz.ip=$ip: not an address/prefix"; fi
if [ -n "$gw" ]; then ip route add default via "$gw" || fail "rz.gw=$gw: no route to it"; fi
say "eth0 ${ip:-unconfigured} (uptime $(uptime_s) s)"

for service in $(echo "$serve" | tr , ' '); do
    case "$service" in
    nginx)
        nginx -c /etc/nginx/nginx.conf &
        listening tcp 0050 0A $! nginx
        say "ready http nginx (uptime $(uptime_s) s)"
        ;;
    httpd)
        httpd -f -p 80 -h /www &
        listening tcp 0050 0A $! httpd
        say "ready http httpd (uptime $(uptime_s) s)"
        ;;
    dns)
        : > /etc/linuxvm/hosts
        for record in $(echo "$records" | tr , ' '); do
            echo "${record#*:} ${record%%:*}" >> /etc/linuxvm/hosts
        done
        dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
            --no-poll --addn-hosts=/etc/linuxvm/hosts --local-ttl=60 --port=53 \
            --user=root --group=root --pid-file=/run/dnsmasq.pid --log-facility=- &
        listening udp 0035 07 $! dnsmasq
        say "ready dns dnsmasq (uptime $(uptime_s) s)"
        ;;
    discard)
        nc -ll -p 9 -e /etc/linuxvm/discard < /dev/null > /dev/null 2>&1 &
        listening tcp 0009 0A $! nc
        say "ready discard nc (uptime $(uptime_s) s)"
        ;;
    *) fail "rz.serve: unknown service '$service' (httpd, nginx, dns, discard)" ;;
    esac
done
for n in $(echo "$sizes" | tr , ' '); do
    case "$n" in *[!0-9]*) fail "rz.bytes: '$n' is not a number of octets" ;; esac
    mkdir -p /www/bytes
    head -c "$n" /dev/zero > "/www/bytes/$n" || fail "rz.bytes: could not write /www/bytes/$n"
    say "bytes /bytes/$n (uptime $(uptime_s) s)"
done
say "ready (uptime $(uptime_s) s)"
while :; do sleep 3600; done
"""

# A worker as Debian runs it, sized for benchmarks: no access log, and
# keep-alive connections that are not closed after nginx's default 1000
# requests (the unikernel closes none).
NGINX_CONF = """# nginx.conf of ringzero's Linux microVM (written by harness/linuxvm.py)
user www-data;
worker_processes 1;
worker_rlimit_nofile 8192;
daemon off;
pid /run/nginx.pid;
error_log stderr;

events {
    worker_connections 4096;
}

http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    keepalive_requests 1000000;

    server {
        listen 80;
        root /www;
        index index.html;
    }
}
"""

# The same routes and sizes as the unikernel's page and /hello.
INDEX_HTML = (
    "<!doctype html>\n<html><head><title>linuxvm</title></head>\n"
    "<body><h1>linuxvm</h1><p>Linux in a microVM served this page.</p>\n"
    '<p><a href="/hello">/hello</a></p></body></html>\n'
)
HELLO = "Hello from Linux\n"

# The discard service (RFC 863) behind `nc -ll -p 9 -e`: nc forks it per
# connection with the socket as its stdin and stdout; it reads to the
# peer's FIN and ends, which closes the connection.
DISCARD = "#!/bin/sh\nexec dd of=/dev/null bs=65536 2>/dev/null\n"

ETC = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www-data:/www:/bin/false\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    "etc/group": "root:x:0:\nwww-data:x:33:\nnogroup:x:65534:\n",
    "etc/nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
    "etc/nginx/nginx.conf": NGINX_CONF,
}
DIRS = ("proc", "sys", "dev", "run", "tmp", "root", "var/lib/nginx", "var/log/nginx")


class LinuxVmError(RuntimeError):
    pass


@dataclass(frozen=True)
class LinuxVmImage:
    kernel: Path  # Debian's bzImage, copied
    initramfs: Path  # cpio (newc), gzip
    kernel_release: str  # e.g. 6.1.0-56-amd64
    modules: tuple[str, ...]  # the .ko files /init loads, in order
    key: str  # hash of the inputs

    @property
    def kernel_bytes(self) -> int:
        return self.kernel.stat().st_size

    @property
    def initramfs_bytes(self) -> int:
        return self.initramfs.stat().st_size

    @property
    def size(self) -> int:
        """What the guest boots from: kernel + initramfs."""
        return self.kernel_bytes + self.initramfs_bytes


def linuxvm_dir() -> Path:
    return repo_root() / "build" / "linuxvm"


# ---- cpio -----------------------------------------------------------------------

S_IFDIR, S_IFREG, S_IFLNK, S_IFCHR = 0o040000, 0o100000, 0o120000, 0o020000


class Cpio:
    """An archive in the "newc" format the kernel unpacks into its rootfs,
    made without touching the host's file system: entries are sorted (a
    directory before what it holds), owned by root, dated 0."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[int, bytes, int, int]] = {}

    def _parents(self, path: str) -> None:
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            self._entries.setdefault("/".join(parts[:i]), (S_IFDIR | 0o755, b"", 0, 0))

    def _add(self, path: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)) -> None:
        path = path.strip("/")
        self._parents(path)
        self._entries[path] = (mode, data, *rdev)

    def dir(self, path: str, mode: int = 0o755) -> None:
        self._add(path, S_IFDIR | mode)

    def file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        self._add(path, S_IFREG | mode, data)

    def symlink(self, path: str, target: str) -> None:
        self._add(path, S_IFLNK | 0o777, target.encode())

    def chardev(self, path: str, major: int, minor: int, mode: int = 0o600) -> None:
        self._add(path, S_IFCHR | mode, rdev=(major, minor))

    def __contains__(self, path: str) -> bool:
        return path.strip("/") in self._entries

    def pack(self) -> bytes:
        out = bytearray()

        def entry(ino: int, name: str, mode: int, data: bytes, rdev: tuple[int, int]) -> None:
            raw = name.encode() + b"\0"
            nlink = 2 if mode & 0o170000 == S_IFDIR else 1
            fields = (ino, mode, 0, 0, nlink, 0, len(data), 0, 0, *rdev, len(raw), 0)
            out.extend(b"070701" + "".join(f"{f:08X}" for f in fields).encode() + raw)
            out.extend(b"\0" * (-len(out) % 4))
            out.extend(data)
            out.extend(b"\0" * (-len(out) % 4))

        for ino, (name, (mode, data, major, minor)) in enumerate(
            sorted(self._entries.items()), start=1
        ):
            entry(ino, name, mode, data, (major, minor))
        entry(0, "TRAILER!!!", 0, b"", (0, 0))
        return bytes(out)


# ---- gathering the inputs -----------------------------------------------------------


def _dpkg(fmt: str, package: str) -> str:
    result = subprocess.run(
        ["dpkg-query", "-W", f"-f={fmt}", package], capture_output=True, text=True, check=False
    )
    if result.returncode != 0 or not result.stdout.strip():
        raise LinuxVmError(f"{package} is not installed: {INSTALL_HINT}")
    return result.stdout.strip()


def kernel_release() -> str:
    """The release of the kernel linux-image-amd64 depends on (6.1.0-56-amd64)."""
    depends = _dpkg("${Depends}", KERNEL_PACKAGE)
    m = re.search(r"linux-image-(\d\S*?)(?:\s|,|$)", depends)
    if m is None:
        raise LinuxVmError(f"{KERNEL_PACKAGE} depends on no kernel image: {depends!r}")
    return m.group(1)


def libraries(binary: Path) -> list[Path]:
    """The shared objects a binary loads, the dynamic loader included (ldd)."""
    result = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise LinuxVmError(f"ldd {binary} failed: {(result.stderr or result.stdout).strip()}")
    found = []
    for line in result.stdout.splitlines():
        if "not found" in line:
            raise LinuxVmError(f"{binary} needs a library that is not installed: {line.strip()}")
        m = re.search(r"(/\S+) \(0x[0-9a-f]+\)", line)
        if m:
            found.append(Path(m.group(1)))
    return found


def _module_name(path: str) -> str:
    return Path(path).name.split(".ko")[0].replace("-", "_")


def module_order(moddir: Path, names: Sequence[str]) -> list[str]:
    """The modules (paths relative to moddir) to load for names, each after
    what it depends on (modules.dep); built-in ones need none."""
    deps: dict[str, list[str]] = {}
    for line in (moddir / "modules.dep").read_text().splitlines():
        path, _, rest = line.partition(":")
        deps[path] = rest.split()
    by_name = {_module_name(p): p for p in deps}
    builtin_file = moddir / "modules.builtin"
    builtin = (
        {_module_name(p) for p in builtin_file.read_text().split()}
        if builtin_file.exists()
        else set()
    )
    order: list[str] = []

    def visit(path: str) -> None:
        if path in order:
            return
        for dep in deps.get(path, []):
            visit(dep)
        order.append(path)

    for name in names:
        if name in builtin:
            continue
        if name not in by_name:
            raise LinuxVmError(f"{name} is neither built into {moddir.name} nor one of its modules")
        visit(by_name[name])
    return order


def _module_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if path.suffix == ".xz":
        return lzma.decompress(data)
    if path.suffix != ".ko":
        raise LinuxVmError(f"{path}: compressed modules other than .xz are not supported")
    return data


@dataclass(frozen=True)
class _Inputs:
    release: str
    kernel: Path
    moddir: Path
    modules: list[str]  # relative to moddir, in load order
    host_files: list[Path]  # copied as they are, to the same path
    versions: dict[str, str]

    def key(self) -> str:
        h = hashlib.sha256(Path(__file__).read_bytes())
        h.update(json.dumps(self.versions, sort_keys=True).encode())
        for path in [self.kernel, *(self.moddir / m for m in self.modules), *self.host_files]:
            st = path.stat()
            h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return h.hexdigest()


def _inputs() -> _Inputs:
    release = kernel_release()
    versions = {p: _dpkg("${Version}", p) for p in (f"linux-image-{release}", *PACKAGES)}
    kernel = Path(f"/boot/vmlinuz-{release}")
    moddir = Path(f"/lib/modules/{release}")
    for path in (kernel, moddir / "modules.dep", BUSYBOX, NGINX, DNSMASQ, MIME_TYPES):
        if not path.exists():
            raise LinuxVmError(f"{path} is missing: {INSTALL_HINT}")
    if not os.access(kernel, os.R_OK):
        raise LinuxVmError(f"{kernel} is not readable (run as root)")
    host_files = [BUSYBOX, NGINX, DNSMASQ, MIME_TYPES]
    for binary in (NGINX, DNSMASQ):
        host_files += [lib for lib in libraries(binary) if lib not in host_files]
    return _Inputs(release, kernel, moddir, module_order(moddir, MODULES), host_files, versions)


def _busybox_links() -> list[str]:
    result = subprocess.run(
        [str(BUSYBOX), "--list-full"], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise LinuxVmError(f"{BUSYBOX} --list-full failed: {result.stderr.strip()}")
    return [line.strip() for line in result.stdout.splitlines() if line.strip()]


def _initramfs(inputs: _Inputs) -> tuple[bytes, tuple[str, ...]]:
    cpio = Cpio()
    for d in DIRS:
        cpio.dir(d)
    cpio.dir("tmp", 0o1777)
    # The kernel opens /dev/console for init before devtmpfs is mounted.
    cpio.chardev("dev/console", 5, 1)
    for path in inputs.host_files:
        mode = 0o755 if os.access(path, os.X_OK) else 0o644
        cpio.file(str(path), path.read_bytes(), mode)
    for link in _busybox_links():
        if link not in cpio:
            cpio.symlink(link, "/bin/busybox")
    loaded = []
    for rel in inputs.modules:
        dest = f"lib/modules/{inputs.release}/{rel.split('.ko')[0]}.ko"
        cpio.file(dest, _module_bytes(inputs.moddir / rel))
        loaded.append(f"/{dest}")
    cpio.file("etc/linuxvm/modules", "".join(f"{m}\n" for m in loaded).encode())
    for name, text in ETC.items():
        cpio.file(name, text.encode())
    cpio.file("www/index.html", INDEX_HTML.encode())
    cpio.file("www/hello", HELLO.encode())
    cpio.file("etc/linuxvm/discard", DISCARD.encode(), 0o755)
    cpio.file("init", INIT.encode(), 0o755)
    modules = tuple(_module_name(m) for m in inputs.modules)
    return gzip.compress(cpio.pack(), compresslevel=9, mtime=0), modules


def build_linuxvm(force: bool = False, *, verbose: bool = True) -> LinuxVmImage:
    """The kernel and initramfs of the Linux microVM, built when the Debian
    packages they come from, or this file, changed (cached in build/linuxvm/)."""
    inputs = _inputs()
    key = inputs.key()
    root = linuxvm_dir()
    root.mkdir(parents=True, exist_ok=True)
    out = root / key[:16]
    manifest = out / "image.json"
    with (root / "build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if force or not manifest.exists():
            started = time.monotonic()
            shutil.rmtree(out, ignore_errors=True)
            tmp = root / f"{key[:16]}.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            shutil.copyfile(inputs.kernel, tmp / "vmlinuz")
            data, modules = _initramfs(inputs)
            (tmp / "initramfs.cpio.gz").write_bytes(data)
            meta = {"kernel_release": inputs.release, "modules": modules, "key": key}
            (tmp / "image.json").write_text(json.dumps(meta, indent=2) + "\n")
            tmp.rename(out)
            for old in root.iterdir():  # earlier builds
                if old.is_dir() and old != out:
                    shutil.rmtree(old, ignore_errors=True)
            if verbose:
                print(
                    f"ringzero: built the Linux microVM ({inputs.release}, initramfs "
                    f"{len(data) / 1024:.0f} KiB) in {time.monotonic() - started:.1f} s",
                    file=sys.stderr,
                )
        meta = json.loads(manifest.read_text())
    return LinuxVmImage(
        kernel=out / "vmlinuz",
        initramfs=out / "initramfs.cpio.gz",
        kernel_release=meta["kernel_release"],
        modules=tuple(meta["modules"]),
        key=meta["key"],
    )


# ---- booting --------------------------------------------------------------------


def parse_serve(serve: str | Sequence[str]) -> tuple[str, ...]:
    """rz.serve's services, checked: from LINUX_VM_SERVES, one HTTP server at most."""
    items = serve.split(",") if isinstance(serve, str) else list(serve)
    names = tuple(dict.fromkeys(s.strip() for s in items if s.strip()))
    unknown = [s for s in names if s not in LINUX_VM_SERVES]
    if unknown:
        raise ValueError(
            f"serve: unknown {', '.join(unknown)} (the Linux microVM serves "
            f"{', '.join(LINUX_VM_SERVES)})"
        )
    if sum(s in HTTP_SERVERS for s in names) > 1:
        raise ValueError("serve: httpd and nginx both want port 80; name one of them")
    return names


def parse_records(dns: str | Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """DNS A records as "name:a.b.c.d,..." (the unikernel's dns=) or pairs."""
    pairs: list[tuple[str, str]] = []
    if isinstance(dns, str):
        for item in filter(None, (w.strip() for w in dns.split(","))):
            name, sep, addr = item.partition(":")
            if not sep:
                raise ValueError(f"dns: {item!r} is not name:a.b.c.d")
            pairs.append((name, addr))
    else:
        pairs = [(str(n), str(a)) for n, a in dns]
    for name, addr in pairs:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            raise ValueError(f"dns: {name!r} is not a host name")
        try:
            ipaddress.IPv4Address(addr)
        except ValueError:
            raise ValueError(f"dns: {addr!r} ({name}) is not an IPv4 address") from None
    return pairs


def linuxvm_cmdline(
    ip: str | None,
    gw: str | None,
    serve: Sequence[str],
    records: Sequence[tuple[str, str]] = (),
    extra: str = "",
) -> str:
    """The guest's command line. panic=-1 with QEMU's -no-reboot: a panic
    (init failing included) ends the VM instead of hanging it."""
    words = ["console=ttyS0", "quiet", "panic=-1"]
    if ip is not None:
        iface = ipaddress.IPv4Interface(ip)
        if "/" not in ip:
            raise ValueError(f"ip {ip}: expected ADDR/PREFIX (e.g. 10.33.0.2/24)")
        words.append(f"rz.ip={iface.with_prefixlen}")
    if gw is not None:
        words.append(f"rz.gw={ipaddress.IPv4Address(gw)}")
    if serve:
        words.append(f"rz.serve={','.join(serve)}")
    if records:
        words.append("rz.dns=" + ",".join(f"{n}:{a}" for n, a in records))
    if extra:
        words.append(extra)
    return " ".join(words)


class LinuxVm(Guest):
    """A booted Linux microVM: its machine (any backend), console and
    artifacts (harness/vm.py's Guest: destroyed on destroy(), on leaving
    the with block, or when the run closes). Named like every VM of a run
    (ringzero-<run>-linuxvm-N), so `ringzero sweep` removes it when its run
    died."""

    error = LinuxVmError

    def __init__(
        self,
        run: Run,
        image: LinuxVmImage,
        *,
        cmdline: str,
        nic: NicSpec | None,
        memory_mib: int,
        accel: Accel,
        backend: str,
        artifacts: Path | None = None,
        echo: Callable[[bytes], None] | None = None,
        paused: bool = False,
    ) -> None:
        self.run = run
        self.image = image
        self.name = run.unique_name("linuxvm")
        # By default reports/<run-id>/linuxvm-<n>/: serial.log, qemu.log.
        local = self.name.removeprefix(run.name(""))
        self.artifacts = artifacts or reports_dir() / run.id / local
        self.cmdline = cmdline
        self.nic = nic
        self.memory_mib = memory_mib
        self.accel = accel
        self.backend = backend
        self.paused = paused
        self._echo = echo
        super().__init__()
        # Filled by wait_ready(): the guest's uptime when each kind of service
        # ("http", "dns") listened, which server it was, and the last ready line.
        self.ready: dict[str, float] = {}
        self.servers: dict[str, str] = {}
        self.ready_line: LineMatch | None = None

    def _spec(self) -> MachineSpec:
        return MachineSpec(
            name=self.name,
            kernel=self.image.kernel.resolve(),
            initrd=self.image.initramfs.resolve(),
            cmdline=self.cmdline,
            memory_mib=self.memory_mib,
            accel=self.accel,
            console_socket=self.run.dir / f"{self.name}.com1",
            log_dir=self.artifacts,
            nic=self.nic,
            paused=self.paused,
        )

    def wait_ready(self, timeout: float | None = None) -> dict[str, float]:
        """Waits for /init's last ready line; fails with the console's tail
        (and what the hypervisor said) when the guest reports an error, ends
        or is not ready in time."""
        if self.console is None or self.machine is None:
            raise LinuxVmError("the VM has not been started")
        limit = timeout if timeout is not None else READY_TIMEOUT[self.accel]
        try:
            done = self.console.wait_for(DONE_RE, limit)
        except ConsoleError as e:
            raise LinuxVmError(f"{self.name} did not become ready: {e}{self._log_tail()}") from None
        if done[2] is not None:
            raise LinuxVmError(
                f"{self.name}: {done[2]}\nconsole tail ({self.console.log_path}):\n"
                f"{self.console.tail()}{self._log_tail()}"
            )
        self.ready_line = done
        for line in self.console.lines:
            m = READY_RE.match(line.text)
            if m:
                self.ready[m[1]] = float(m[3])
                self.servers[m[1]] = m[2]
        return self.ready

    @property
    def uptime_at_ready(self) -> float:
        """The guest's uptime (s) when the last service listened."""
        if self.ready_line is None:
            raise LinuxVmError("not ready yet: wait_ready() first")
        return float(self.ready_line[1])

    @property
    def start_to_ready(self) -> float:
        """Seconds from asking the hypervisor to start the VM to the ready
        line's arrival, on the host's clock."""
        if self.ready_line is None or self.machine is None:
            raise LinuxVmError("not ready yet: wait_ready() first")
        return self.ready_line.line.time - self.machine.started_at

    def _log_tail(self) -> str:
        log = self.hypervisor_log().strip()
        if not log:
            return ""
        tail = "\n".join(f"  | {line}" for line in log.splitlines()[-15:])
        return f"\nhypervisor log ({self.backend}):\n{tail}"


def boot_linuxvm(
    run: Run,
    tap: str | None,
    ip: str | None,
    gw: str | None,
    serve: str | Sequence[str],
    memory_mib: int = DEFAULT_MEMORY_MIB,
    accel: Accel | None = None,
    artifacts: Path | None = None,
    *,
    dns: str | Sequence[tuple[str, str]] = (),
    backend: str = "qemu",
    mac: str = DEFAULT_MAC,
    attach: Callable[[], None] | None = None,
    timeout: float | None = None,
    image: LinuxVmImage | None = None,
    echo: Callable[[bytes], None] | None = None,
    cmdline_extra: str = "",
) -> LinuxVm:
    """Builds the image if needed, boots it with a virtio-net NIC on tap (an
    existing tap in the root namespace) and returns once every service in
    serve listens. accel None is what --accel auto picks (accel.resolve).
    attach, if given, runs after the hypervisor has opened
    the tap and before the guest's CPU starts (e.g. ``lambda:
    wire.adopt(tap)``, which moves the tap into the wire). On failure the VM
    is destroyed and the error carries the console's tail."""
    names = parse_serve(serve)
    records = parse_records(dns)
    if records and "dns" not in names:
        raise ValueError("dns records given, but serve does not name dns")
    cmdline = linuxvm_cmdline(ip, gw, names, records, cmdline_extra)
    nic = None
    if tap is not None:
        if not Path(f"/sys/class/net/{tap}/tun_flags").exists():
            raise ValueError(
                f"tap {tap}: no such tap in this network namespace; "
                f"create it with `ip tuntap add dev {tap} mode tap`"
            )
        nic = NicSpec(tap=tap, mac=mac)
    vm = LinuxVm(
        run,
        image or build_linuxvm(),
        cmdline=cmdline,
        nic=nic,
        memory_mib=memory_mib,
        accel=accel or resolve("auto"),
        backend=backend,
        artifacts=artifacts,
        echo=echo,
        paused=attach is not None,
    )
    vm.start()
    try:
        if attach is not None:
            attach()
            vm.resume()
        vm.wait_ready(timeout)
    except BaseException:
        vm.destroy()
        raise
    return vm


def main(argv: Sequence[str] | None = None) -> int:
    """By hand, until `ringzero bench` drives it:

    ip tuntap add dev tap0 mode tap && ip addr add 10.33.0.1/24 dev tap0 && ip link set tap0 up
    python -m ringzero.linuxvm --tap tap0 --ip 10.33.0.2/24 --gw 10.33.0.1 --serve nginx,dns \\
        --dns www.example.test:10.33.0.50

    builds the image, boots it, streams its console, and stops it on Ctrl-C."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m ringzero.linuxvm", description=main.__doc__)
    p.add_argument("--tap", help="an existing tap for its virtio-net NIC")
    p.add_argument("--ip", help="ADDR/PREFIX of eth0")
    p.add_argument("--gw", help="its default gateway")
    p.add_argument("--serve", default="nginx,dns", help="httpd|nginx,dns (default nginx,dns)")
    p.add_argument("--dns", default="", help="name:a.b.c.d,... for dnsmasq")
    p.add_argument("--mac", default=DEFAULT_MAC)
    p.add_argument("--memory", type=int, default=DEFAULT_MEMORY_MIB, metavar="MIB")
    p.add_argument("--accel", choices=("auto", "kvm", "tcg"), default="auto")
    p.add_argument("--backend", choices=hypervisor.BACKENDS, default="qemu")
    p.add_argument("--force-build", action="store_true", help="rebuild the image")
    args = p.parse_args(argv)

    def echo(data: bytes) -> None:
        sys.stdout.buffer.write(data.replace(b"\r\n", b"\n"))
        sys.stdout.buffer.flush()

    from .cli import start_run

    try:
        image = build_linuxvm(force=args.force_build)
        print(
            f"ringzero: {image.kernel_release}: kernel {image.kernel_bytes} bytes, "
            f"initramfs {image.initramfs_bytes} bytes",
            file=sys.stderr,
        )
        with start_run() as run:
            vm = boot_linuxvm(
                run,
                args.tap,
                args.ip,
                args.gw,
                args.serve,
                args.memory,
                resolve(args.accel),
                dns=args.dns,
                backend=args.backend,
                mac=args.mac,
                image=image,
                echo=echo,
            )
            with vm:
                print(
                    f"ringzero: {vm.name} ready {vm.start_to_ready:.2f} s after QEMU started "
                    f"(guest uptime {vm.uptime_at_ready:.2f} s); Ctrl-C stops it",
                    file=sys.stderr,
                )
                assert vm.console is not None
                vm.console.wait_closed(1e9)
    except KeyboardInterrupt:
        return 130
    except (LinuxVmError, ValueError) as e:
        print(f"ringzero: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
