#!/bin/bash
# assemble-base.sh: builds the base image of the agent's container image from this host's own
# files, with no container engine and no network, as a `docker save`-format tar that Jib takes
# as `tar://` base (manifest.json + config JSON + one gzipped layer).
#
#   assemble-base.sh JDK_HOME OUT_DIR
#
# The root holds: a jlink runtime of JDK_HOME at /opt/java; bash, sh and every program the
# launcher (packaging/bin/outpost-agent), the launch wrapper (sandbox/Launcher.java) and the
# sandbox (Bubblewrap.java, Signals.java, LimitPlan.java) run, with the shared libraries `ldd`
# names; /etc/passwd and /etc/group with the user `outpost` (10001); the CA bundle; and /data
# (state, work, tmp) owned by 10001. The Dockerfile beside this script builds the same image
# from debian:bookworm-slim where a container engine is at hand.
#
# Writes OUT_DIR/outpost-base.tar (and OUT_DIR/rootfs, the staged root).
set -euo pipefail

jdk=${1:?usage: assemble-base.sh JDK_HOME OUT_DIR}
out=${2:?usage: assemble-base.sh JDK_HOME OUT_DIR}

# The runtime's modules, in jlink.modules beside this script (the Dockerfile reads it too). A
# fixed list: `jdeps --print-module-deps` over the shaded jar takes ~15 s, a third of this
# module's budget. java.sql: Jackson's date handling; java.naming: DNS and certificate names;
# java.management + jdk.management: Micrometer's JVM and process meters; jdk.crypto.ec: EC
# keys and TLS key exchange; jdk.unsupported: Netty and protobuf (sun.misc.Unsafe); jdk.zipfs:
# zip archives; java.net.http: small, and at hand for HTTP. PackagingIT runs the agent on it.
here=$(cd "$(dirname "$0")" && pwd)
modules=$(tr -d ' \n' <"$here/jlink.modules")

# What runs inside the container besides the JVM: the launcher (bash, env, readlink, dirname,
# date, sleep), the launch wrapper (sh, setsid, env, mv, rmdir, sleep), the sandbox (bwrap,
# prlimit, true), signals (kill), and a few tools a `local-exec` of a job commonly needs.
programs=(
  /bin/bash /bin/sh /usr/bin/env /usr/bin/setsid /usr/bin/prlimit /usr/bin/bwrap /bin/kill
  /bin/mv /bin/rm /bin/rmdir /bin/mkdir /bin/sleep /bin/cat /bin/true /bin/false /bin/date
  /bin/readlink /usr/bin/dirname /usr/bin/basename /bin/ls /bin/cp /bin/ln /bin/chmod
  /usr/bin/id /usr/bin/head /usr/bin/tail /usr/bin/tr /usr/bin/wc /usr/bin/sort /bin/grep
  /bin/sed /usr/bin/stat /bin/touch /bin/uname
)

jlink=$jdk/bin/jlink
[ -x "$jlink" ] || jlink=$(command -v jlink) || { echo "assemble-base: no jlink in $jdk/bin or on PATH" >&2; exit 1; }

root=$out/rootfs
work=$out/image
rm -rf "$root" "$work"
mkdir -p "$root" "$work"

# Merged /usr, as on Debian 12: the sandbox binds /bin, /lib* as the symlinks they are.
mkdir -p "$root"/usr/{bin,sbin,lib,lib64,local/bin} "$root"/etc/ssl/certs "$root"/opt/outpost \
  "$root"/{proc,dev,sys,run} "$root"/data/{state,work,tmp,cache}
for d in bin sbin lib lib64; do ln -s "usr/$d" "$root/$d"; done
install -d -m 1777 "$root/tmp"
install -d -m 0700 "$root/root"
chmod 0700 "$root"/data/{state,work,tmp,cache}

# The runtime; its own libraries resolve through $ORIGIN, the system ones are added below.
# --compress=0: the layer is gzipped anyway; jimage compression made it larger (24 MB against
# 22 MB gzipped), jlink three times slower (12 s against 4 s) and the JVM's start slower.
"$jlink" --add-modules "$modules" --strip-debug --no-header-files --no-man-pages --compress=0 \
  --output "$root/opt/java"
# The runtime's own class-data archive (lib/server/classes.jsa, as a JDK ships it; jlink makes
# none): every start maps the JDK's classes instead of loading them, and the launcher's archive
# of the agent's classes (in /data/cache) can only be made on top of it.
"$root/opt/java/bin/java" -Xshare:dump >/dev/null

# Copies PATH into the root at its canonical directory (so /bin/x lands in /usr/bin/x), as a
# symlink when it is one (and then its target too). Few forks: this machine forks slowly.
declare -A canon=()
add() {
  local path=$1 dir base dest target
  dir=${path%/*}
  base=${path##*/}
  [ -n "${canon[$dir]:-}" ] || canon[$dir]=$(readlink -f "$dir")
  dir=${canon[$dir]}
  dest=$root$dir/$base
  if [ -e "$dest" ] || [ -L "$dest" ]; then return 0; fi
  [ -d "$root$dir" ] || mkdir -p "$root$dir"
  if [ -L "$path" ]; then
    target=$(readlink "$path")
    ln -s "$target" "$dest"
    case $target in
      /*) add "$target" ;;
      *) add "$dir/$target" ;;
    esac
  else
    cp -p "$path" "$dest"
  fi
}

is_elf() {
  local magic=
  LC_ALL=C read -r -n 4 magic <"$1" || true
  [ "$magic" = $'\x7fELF' ]
}

elves=()
for p in "${programs[@]}"; do
  [ -e "$p" ] || { echo "assemble-base: $p is not on this host" >&2; exit 1; }
  add "$p"
  is_elf "$p" && elves+=("$p")
done
while IFS= read -r -d '' f; do
  elves+=("$f")
done < <(find "$root/opt/java" -type f \( -name '*.so' -o -path '*/bin/java' \) -print0)

# Netty's native libraries inside the agent jar (BoringSSL for TLS, epoll for sd_notify), which
# the JVM unpacks at run time, link to these besides libc; nothing above needs them, so they are
# named here (ContainerImageIT checks the image has every library that code names).
ldconfig=$(command -v ldconfig || echo /sbin/ldconfig)
for soname in librt.so.1 libpthread.so.0 libdl.so.2; do
  # awk reads to the end: leaving early would kill ldconfig with SIGPIPE, which pipefail reports.
  lib=$("$ldconfig" -p | awk -v n="$soname" '$1 == n && /x86-64/ && !found {print $NF; found = 1}')
  [ -n "$lib" ] || { echo "assemble-base: $soname is not on this host" >&2; exit 1; }
  add "$lib"
  elves+=("$lib")
done

# Every shared library (and the loader) those need, from one `ldd` over all of them; the
# runtime's own libraries (found through $ORIGIN, or libjvm.so, which the JVM loads first)
# resolve inside the root and are skipped.
declare -A libs=()
while IFS= read -r line; do
  line=${line#"${line%%[![:space:]]*}"}
  case $line in
    *"not found"*) echo "assemble-base: a library is missing: $line" >&2; exit 1 ;;
    *"=> "/*) lib=${line#*=> }; lib=${lib%% (*} ;;
    /*:) continue ;;
    /*) lib=${line%% (*} ;;
    *) continue ;;
  esac
  case $lib in "$root"/*) continue ;; esac
  libs[$lib]=1
done < <(LD_LIBRARY_PATH="$root/opt/java/lib:$root/opt/java/lib/server" ldd "${elves[@]}")
for lib in "${!libs[@]}"; do add "$lib"; done

cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
outpost:x:10001:10001:Outpost agent:/data:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
outpost:x:10001:
nogroup:x:65534:
EOF
cat >"$root/etc/nsswitch.conf" <<'EOF'
passwd: files
group: files
hosts: files dns
EOF
chmod 0644 "$root"/etc/{passwd,group,nsswitch.conf}

# One layer, reproducible: names sorted, times and owners fixed; /data belongs to the agent.
layer=$work/layer.tar
topdirs=()
while IFS= read -r -d '' e; do topdirs+=("$(basename "$e")"); done \
  < <(find "$root" -mindepth 1 -maxdepth 1 ! -name data -print0 | sort -z)
tar_opts=(--format=gnu --sort=name --mtime=@0 --numeric-owner)
tar -C "$root" "${tar_opts[@]}" --owner=0 --group=0 -cf "$layer" "${topdirs[@]}"
tar -C "$root" "${tar_opts[@]}" --owner=10001 --group=10001 -rf "$layer" data
diff_id=sha256:$(sha256sum "$layer" | cut -d' ' -f1)
gzip -n -1 "$layer"

case $(uname -m) in
  x86_64) arch=amd64 ;;
  aarch64) arch=arm64 ;;
  *) arch=$(uname -m) ;;
esac
cat >"$work/config.json" <<EOF
{"architecture":"$arch","os":"linux","created":"1970-01-01T00:00:00Z",
 "config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
 "rootfs":{"type":"layers","diff_ids":["$diff_id"]},
 "history":[{"created":"1970-01-01T00:00:00Z","created_by":"packaging/container/assemble-base.sh"}]}
EOF
cat >"$work/manifest.json" <<'EOF'
[{"Config":"config.json","RepoTags":["outpost-base:local"],"Layers":["layer.tar.gz"]}]
EOF
tar -C "$work" "${tar_opts[@]}" --owner=0 --group=0 -cf "$out/outpost-base.tar" \
  manifest.json config.json layer.tar.gz
echo "assemble-base: $out/outpost-base.tar ($(du -h "$out/outpost-base.tar" | cut -f1), layer $diff_id)"
