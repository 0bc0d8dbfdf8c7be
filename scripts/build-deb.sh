#!/usr/bin/env bash
# Builds the Debian package of this checkout: scripts/build-deb.sh [--out DIR] [--version V]
#
#   /usr/lib/diskless/        the npm package's files (package.json "files": dist/src without
#                             tests, initramfs/, dashboard/, the helpers' C sources), its
#                             production node_modules as installed here (sockopt's compiled
#                             addon), and helpers/: the static C helpers, compiled now, so the
#                             boot server needs no compiler
#   /usr/bin/diskless         the command
#   /lib/systemd/system/diskless.service, /etc/default/diskless (a conffile)
#
# It builds first when node_modules/ or dist/ is missing (npm ci, npm run build), so a clean
# checkout is enough. Prints the path of the .deb it wrote. Needs dpkg-deb, gcc, libc6-dev.
set -euo pipefail
cd "$(dirname "$0")/.."

out=.
version=$(node -p 'require("./package.json").version')
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --version) version=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-deb: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done
[ -d node_modules ] || npm ci --no-fund --no-audit --loglevel=error >&2
[ -f dist/src/cli/main.js ] || npm run --silent build >&2

arch=$(dpkg --print-architecture)
stage=$(mktemp -d)
chmod 0755 "$stage"
trap 'rm -rf "$stage"' EXIT
lib=$stage/usr/lib/diskless
mkdir -p "$lib" "$out"

# The same files as the npm tarball: one list (package.json "files") for both installs.
tgz=$(npm pack --silent --pack-destination "$stage")
tar -xzf "$stage/$tgz" -C "$lib" --strip-components=1 --no-same-owner
rm "$stage/$tgz"

# Production dependencies only, as npm installed them here.
npm ls --omit=dev --all --parseable 2>/dev/null | tail -n +2 | while read -r dep; do
  rel=${dep#"$PWD"/}
  case "$rel" in node_modules/*) cp -a --parents "$rel" "$lib/" ;; esac
done
# Of sockopt's build tree only the addon is loaded.
find "$lib/node_modules" -path '*/build/*' ! -name '*.node' -type f -delete
find "$lib/node_modules" -type d -empty -delete

node --input-type=module -e '
  import { buildStaticHelper, nativeSource } from "./dist/src/native/static-helper.js";
  const dir = process.argv[1];
  for (const [src, name] of [["src/native/ra-responder.c", "ra-responder"], ["src/initramfs/helpers/nbd-keeper.c", "nbd-keeper"]]) {
    await buildStaticHelper(nativeSource(src), name, dir);
  }
  // arm64 initrds carry the NBD helper too; a server with the package needs no cross compiler.
  await buildStaticHelper(nativeSource("src/initramfs/helpers/nbd-keeper.c"), "nbd-keeper", dir, { arch: "arm64", triplet: "aarch64-linux-gnu" });' "$lib/helpers"
chmod 0755 "$lib/dist/src/cli/main.js"

mkdir -p "$stage/usr/bin" "$stage/etc/diskless" "$stage/usr/share/doc/diskless" "$stage/DEBIAN"
ln -s ../lib/diskless/dist/src/cli/main.js "$stage/usr/bin/diskless"
install -D -m 0644 packaging/diskless.service "$stage/lib/systemd/system/diskless.service"
install -D -m 0644 packaging/default "$stage/etc/default/diskless"
install -m 0644 README.md SECURITY.md "$stage/usr/share/doc/diskless/"
rm -rf "$lib/packaging"
printf 'Diskless\nLicense: %s\n' "$(node -p 'require("./package.json").license')" > "$stage/usr/share/doc/diskless/copyright"

cat > "$stage/DEBIAN/control" <<CONTROL
Package: diskless
Version: $version
Architecture: $arch
Maintainer: Diskless developers <diskless@localhost>
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
Section: net
Priority: optional
Depends: nodejs (>= 20), ipxe, pxelinux, syslinux-common, openssl, openssh-client
Recommends: mmdebstrap, squashfs-tools, busybox-static, nbd-client, zstd
Suggests: ipmitool, nfs-ganesha, nfs-ganesha-vfs
Description: boot server for fleets of diskless Linux machines
 DHCP (full or proxyDHCP), TFTP, HTTP, NBD and NFS, BIOS and UEFI, iPXE scripts and
 pxelinux configs generated from one YAML inventory, versioned root images with a network
 initramfs built from each image's own kernel, per-node identity and secrets, power through
 the nodes' BMCs and image rollouts with canaries.
CONTROL
echo /etc/default/diskless > "$stage/DEBIAN/conffiles"
install -m 0755 packaging/deb/postinst packaging/deb/prerm packaging/deb/postrm "$stage/DEBIAN/"

deb="$out/diskless_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
