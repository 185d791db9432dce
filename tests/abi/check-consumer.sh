#!/bin/sh
# Installs the build into a temporary DESTDIR, then builds programs against
# the installed files using nothing but pkg-config, and runs them:
# tests/abi/consumer.c and the flagship example, each linked against the
# shared library, and the consumer again against the static library.
#
# Usage: check-consumer.sh BUILD_DIR SOURCE_DIR
set -eu

build=$1
src=$2
cc=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

meson install -C "$build" --destdir "$tmp/root" --no-rebuild >"$tmp/install.log" 2>&1 || {
    cat "$tmp/install.log"
    exit 1
}

pc=$(find "$tmp/root" -name failover.pc | head -n 1)
[ -n "$pc" ] || { echo "failover.pc was not installed"; exit 1; }
export PKG_CONFIG_PATH="$(dirname "$pc")"
export PKG_CONFIG_SYSROOT_DIR="$tmp/root"
unset PKG_CONFIG_LIBDIR

cflags=$(pkg-config --cflags failover)
libs=$(pkg-config --libs failover)
# pkgconf prefixes the sysroot to variables too; older pkg-config does not.
libdir=$(pkg-config --variable=libdir failover | sed "s|^$tmp/root||")
includedir=$(pkg-config --variable=includedir failover | sed "s|^$tmp/root||")
echo "pkg-config: $cflags $libs"
for h in failover common error alloc clock router route result attempt version; do
    [ -f "$tmp/root$includedir/failover/$h.h" ] ||
        { echo "missing installed header failover/$h.h"; exit 1; }
done

# The installed shared library carries the SONAME, not the full version.
soname=$(readelf -d "$tmp/root$libdir/libfailover.so" 2>/dev/null |
    sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
[ "$soname" = "libfailover.so.0" ] || { echo "unexpected SONAME '$soname'"; exit 1; }

# shellcheck disable=SC2086 # word splitting of pkg-config output is wanted
$cc -std=c11 -Wall -Wextra -Werror $cflags "$src/tests/abi/consumer.c" $libs -o "$tmp/consumer"
# shellcheck disable=SC2086
$cc -std=c11 -Wall -Wextra -Werror $cflags "$src/examples/carrier_failover.c" $libs -o "$tmp/example"
readelf -d "$tmp/consumer" | grep -q 'NEEDED.*libfailover.so.0' ||
    { echo "consumer does not depend on libfailover.so.0"; exit 1; }

LD_LIBRARY_PATH="$tmp/root$libdir" "$tmp/consumer"
LD_LIBRARY_PATH="$tmp/root$libdir" "$tmp/example" >"$tmp/example.out"
tail -n 3 "$tmp/example.out"

# Static: the archive plus what `pkg-config --static` adds.
# shellcheck disable=SC2086
$cc -std=c11 $cflags "$src/tests/abi/consumer.c" -L"$tmp/root$libdir" \
    -Wl,-Bstatic -lfailover -Wl,-Bdynamic \
    $(pkg-config --static --libs-only-other failover) -o "$tmp/consumer-static"
if readelf -d "$tmp/consumer-static" | grep -q 'NEEDED.*libfailover'; then
    echo "static consumer still needs the shared library"
    exit 1
fi
"$tmp/consumer-static"
echo "consumer checks passed"
