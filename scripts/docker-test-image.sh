#!/usr/bin/env bash
# Builds the local image the compose tests run (default chatops-busybox:test): a static busybox
# imported from a tarball, so no registry is needed. Its services run `busybox httpd` and `sh`.
# Does nothing when the image exists. Needs a running Docker engine and busybox-static
# (/bin/busybox, or BUSYBOX=/path/to/static/busybox).
set -euo pipefail

image="${1:-${COMPOSE_TEST_IMAGE:-chatops-busybox:test}}"
busybox="${BUSYBOX:-/bin/busybox}"

if docker image inspect "$image" >/dev/null 2>&1; then
  echo "image $image: present"
  exit 0
fi
if [ ! -x "$busybox" ]; then
  echo "image $image: cannot build it: $busybox is missing (install busybox-static)" >&2
  exit 1
fi
# A dynamically linked busybox would need the host's libraries inside the image.
if ! file -L "$busybox" 2>/dev/null | grep -q 'statically linked'; then
  if command -v file >/dev/null 2>&1; then
    echo "image $image: cannot build it: $busybox is not statically linked (install busybox-static)" >&2
    exit 1
  fi
fi

root="$(mktemp -d)"
trap 'rm -rf "$root" "$root.tar"' EXIT
mkdir -p "$root/bin" "$root/tmp" "$root/www"
cp "$busybox" "$root/bin/busybox"
for applet in sh httpd echo cat sleep mkdir ls date; do ln -s busybox "$root/bin/$applet"; done
tar -C "$root" -cf "$root.tar" .
docker import --change 'CMD ["/bin/sh"]' "$root.tar" "$image" >/dev/null
rm -f "$root.tar"
echo "image $image: built from $busybox"
