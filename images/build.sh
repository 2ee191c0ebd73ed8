#!/usr/bin/env bash
# Build the Training Zoo container images with buildah (no Docker daemon), and the offline CI path.
#
#   images/build.sh wheel              build the training-zoo wheel into the build context
#   images/build.sh base               debootstrap Debian bookworm and import it as $CI_BASE (cached)
#   images/build.sh build NAME...      build images/NAME/Dockerfile, tagged $REGISTRY/NAME:$VERSION
#   images/build.sh check [IMAGE]      run the singleuser checks in IMAGE (default: singleuser-cpu)
#   images/build.sh ci [--no-check]    base + wheel + build singleuser-cpu on $CI_BASE + check
#   images/build.sh all                wheel + build all five images (needs registry access)
#   images/build.sh push NAME...       buildah push $REGISTRY/NAME:$VERSION
#   images/build.sh context NAME       assemble NAME's build context and print its folder
#   images/build.sh tag NAME           print $REGISTRY/NAME:$VERSION
#
# Environment (the Makefile sets the first three from REGISTRY, VERSION and PULL):
#   IMAGE_REGISTRY    image name prefix              (registry.example.com/training-zoo)
#   IMAGE_VERSION     image tag                      (extensions/training_zoo/_version.py)
#   IMAGE_PULL        never | missing | always       (missing; `ci` always uses never)
#   IMAGE_STORAGE     local: containers storage under $IMAGES_DIR, vfs driver (the default; works
#                     anywhere, as root, without a daemon) | system: buildah's default storage
#   IMAGES_DIR        cache and storage folder       (.images, gitignored)
#   IMAGE_BUILD_ARGS  more `buildah bud` arguments   (e.g. "--layers --build-arg TORCH_INDEX=...")
#   IMAGE_PUSH_ARGS   more `buildah push` arguments  (e.g. "--authfile FILE", "--tls-verify=false")
#   IMAGE_PYTHON      builds the wheel               (.venv/bin/python)
#   IMAGE_SOURCE      org.opencontainers.image.source (the git remote "origin", else "unknown")
#   IMAGE_CI_BASE     the debootstrapped base's name (localhost/tz-debian-base:bookworm)
#   IMAGE_BUILD_CA    a CA bundle that pip inside the builds must trust (a TLS-intercepting proxy);
#                     default: $PIP_CERT, else the system bundle when
#                     /usr/local/share/ca-certificates holds extra CAs. Mounted at /etc/xdg/pip.
#   DEBIAN_MIRROR     for `base`                     (http://deb.debian.org/debian; and
#                     DEBIAN_SECURITY_MIRROR: http://deb.debian.org/debian-security)
# See images/README.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

IMAGES=(hub singleuser-cpu singleuser-pytorch-cuda singleuser-tensorflow-cuda trainer-pytorch)
REGISTRY="${IMAGE_REGISTRY:-registry.example.com/training-zoo}"
VERSION="${IMAGE_VERSION:-$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' \
    extensions/training_zoo/_version.py)}"
PULL="${IMAGE_PULL:-missing}"
IMAGE_STORAGE="${IMAGE_STORAGE:-local}"
IMAGES_DIR="$(mkdir -p "${IMAGES_DIR:-.images}" && cd "${IMAGES_DIR:-.images}" && pwd)"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DEBIAN_SECURITY_MIRROR="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
CI_BASE="${IMAGE_CI_BASE:-localhost/tz-debian-base:bookworm}"
PY="${IMAGE_PYTHON:-$ROOT/.venv/bin/python}"
CONTEXT="$IMAGES_DIR/context"

log() { printf '[images] %s\n' "$*" >&2; }
die() { printf '[images] error: %s\n' "$*" >&2; exit 1; }

storage_opts() {
    if [[ "$IMAGE_STORAGE" == local ]]; then
        printf '%s\n' --root "$IMAGES_DIR/storage" --runroot "$IMAGES_DIR/run" --storage-driver vfs
    fi
}
mapfile -t STORAGE < <(storage_opts)
buildah_() { buildah "${STORAGE[@]}" "$@"; }
podman_() { podman "${STORAGE[@]}" "$@"; }

# pip in the build containers trusts what the host's pip trusts: /etc/xdg/pip/pip.conf (a site-wide
# pip config location) is bind-mounted for RUN steps only; an empty /etc/xdg/pip stays behind.
build_ca_opts() {
    local ca="${IMAGE_BUILD_CA-${PIP_CERT:-}}"
    if [[ -z "$ca" ]] && compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
        ca=/etc/ssl/certs/ca-certificates.crt
    fi
    [[ -n "$ca" ]] || return 0
    [[ -f "$ca" ]] || die "IMAGE_BUILD_CA: no file $ca"
    local dir="$IMAGES_DIR/pip-build"
    mkdir -p "$dir"
    cp "$ca" "$dir/build-ca.pem"
    printf '[global]\ncert = /etc/xdg/pip/build-ca.pem\n' >"$dir/pip.conf"
    printf '%s\n' --volume "$dir:/etc/xdg/pip:ro"
}

pull_opt() {
    case "$1" in
        never) echo --pull=never ;;
        missing) echo --pull=false ;;  # buildah 1.28: "false" = pull only when not present
        always) echo --pull=always ;;
        *) die "IMAGE_PULL must be never, missing or always, not '$1'" ;;
    esac
}

# The wheel, as users get it: the prebuilt labextension and the server-extension config are data
# files. `make install` builds the labextension first; refuse a wheel without it.
cmd_wheel() {
    [[ -x "$PY" ]] || die "no $PY: run 'make install' first"
    rm -rf "$CONTEXT/dist"
    mkdir -p "$CONTEXT/dist"
    local log="$IMAGES_DIR/wheel.log"
    "$PY" -m pip wheel --no-deps --no-build-isolation -w "$CONTEXT/dist" . >"$log" 2>&1 \
        || { cat "$log" >&2; die "pip wheel failed"; }
    local wheels=("$CONTEXT"/dist/training_zoo-"$VERSION"-*.whl)
    [[ -f "${wheels[0]}" && ${#wheels[@]} -eq 1 ]] || die "expected one training_zoo-$VERSION wheel"
    "$PY" - "${wheels[0]}" <<'EOF' || die "the wheel lacks the labextension: run 'make install'"
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
sys.exit(not any(n.endswith("/share/jupyter/labextensions/training-zoo/package.json") for n in names))
EOF
    log "wheel: ${wheels[0]#"$ROOT"/}"
}

# A build context with the repo's layout but only what the Dockerfiles use: dist/ (the wheel) and,
# for the hub, jupyterhub_config/jupyterhub_config.d/.
cmd_context() {
    local name="$1" dir="$CONTEXT/$1"
    [[ -f "images/$name/Dockerfile" ]] || die "no images/$name/Dockerfile"
    [[ -d "$CONTEXT/dist" ]] || cmd_wheel
    rm -rf "$dir"
    mkdir -p "$dir/jupyterhub_config"
    cp -r "$CONTEXT/dist" "$dir/dist"
    cp "images/$name/Dockerfile" "$dir/Dockerfile"
    if [[ "$name" == hub ]]; then
        cp -r jupyterhub_config/jupyterhub_config.d "$dir/jupyterhub_config/"
        find "$dir" -name __pycache__ -prune -exec rm -rf {} +
    fi
    echo "$dir"
}

# Debian bookworm, minbase, trimmed like the official debian:bookworm-slim image (no apt lists or
# cached .debs, no docs, man pages or locales, and a dpkg filter so later installs skip them too).
cmd_base() {
    if podman_ image exists "$CI_BASE"; then
        log "base: $CI_BASE already in storage"
        return
    fi
    local tarball="$IMAGES_DIR/debian-bookworm-minbase.tar"
    if [[ ! -s "$tarball" ]]; then
        command -v debootstrap >/dev/null || die "debootstrap is not installed"
        local rootfs="$IMAGES_DIR/rootfs"
        rm -rf "$rootfs"
        log "base: debootstrap --variant=minbase bookworm from $DEBIAN_MIRROR"
        debootstrap --variant=minbase bookworm "$rootfs" "$DEBIAN_MIRROR" \
            >"$IMAGES_DIR/debootstrap.log" 2>&1 \
            || { tail -20 "$IMAGES_DIR/debootstrap.log" >&2; die "debootstrap failed"; }
        rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin \
            "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* \
            "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* "$rootfs"/var/log/*.log \
            "$rootfs"/etc/apt/sources.list
        cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $DEBIAN_MIRROR
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $DEBIAN_SECURITY_MIRROR
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
        cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
EOF
        # Like the official image: apt-get leaves no .debs or package caches in a layer.
        cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
        tar --numeric-owner -C "$rootfs" -cf "$tarball.tmp" .
        mv "$tarball.tmp" "$tarball"
        rm -rf "$rootfs"
    fi
    log "base: importing $tarball as $CI_BASE"
    podman_ import --quiet \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["bash"]' "$tarball" "$CI_BASE" >/dev/null
}

# buildah bud with chroot isolation: the OCI runtime isolation fails on hosts whose cgroups a
# nested runtime cannot use (CI here), and chroot works on any build machine.
build_one() {
    local name="$1" pull="$2"; shift 2
    local dir tag="$REGISTRY/$name:$VERSION"
    dir="$(cmd_context "$name")"
    local source revision
    source="${IMAGE_SOURCE:-$(git remote get-url origin 2>/dev/null || echo unknown)}"
    revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
    log "build: $tag"
    local start=$SECONDS ca_opts
    mapfile -t ca_opts < <(build_ca_opts)
    # shellcheck disable=SC2086
    buildah_ bud --isolation chroot "$(pull_opt "$pull")" "${ca_opts[@]}" \
        --build-arg VERSION="$VERSION" --build-arg SOURCE="$source" \
        --build-arg REVISION="$revision" ${IMAGE_BUILD_ARGS:-} "$@" \
        -f "$dir/Dockerfile" -t "$tag" "$dir" >&2
    log "build: $tag done in $((SECONDS - start)) s"
    # vfs keeps full copies: drop the image this build untagged (only in the project's storage).
    if [[ "$IMAGE_STORAGE" == local ]]; then podman_ image prune --force >/dev/null; fi
}

cmd_build() {
    [[ $# -gt 0 ]] || die "usage: images/build.sh build NAME..."
    cmd_wheel
    for name in "$@"; do build_one "$name" "$PULL"; done
}

cmd_tag() { echo "$REGISTRY/$1:$VERSION"; }

cmd_all() { cmd_build "${IMAGES[@]}"; }

cmd_push() {
    [[ $# -gt 0 ]] || set -- "${IMAGES[@]}"
    for name in "$@"; do
        log "push: $REGISTRY/$name:$VERSION"
        # shellcheck disable=SC2086
        buildah_ push ${IMAGE_PUSH_ARGS:-} "$REGISTRY/$name:$VERSION" \
            "docker://$REGISTRY/$name:$VERSION"
    done
}

# What a singleuser image must do in a pod (as Pod Security "restricted" runs it: no capabilities,
# no privilege escalation): start as uid 1000, have jupyterhub-singleuser, import training_zoo,
# and list both extensions enabled. Prints one section per check; exits non-zero on
# the first failure. tests/integration/test_images.py asserts on the same run's output.
# shellcheck disable=SC2016  # $HOME expands in the container
CHECK_SCRIPT='set -e
echo "== id"; id -u; id -g; echo "$HOME"; pwd
echo "== singleuser"; jupyterhub-singleuser --version
echo "== import"; python -c "import training_zoo; print(training_zoo.__version__)"
echo "== labextensions"; jupyter labextension list 2>&1
echo "== serverextensions"; jupyter server extension list 2>&1
echo "== end"'

run_check() {
    local image="$1"
    podman_ --runtime runc run --rm --network none \
        --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
        --cap-drop ALL --security-opt no-new-privileges \
        "$image" sh -c "$CHECK_SCRIPT"
}

cmd_check() {
    local image="${1:-$REGISTRY/singleuser-cpu:$VERSION}" out
    out="$(run_check "$image")" || { echo "$out"; die "check: a command failed in $image"; }
    echo "$out"
    local plain
    # shellcheck disable=SC2001  # a regex, not a plain substitution
    plain="$(sed 's/\x1b\[[0-9;]*m//g' <<<"$out")"
    grep -qx 1000 <<<"$plain" || die "check: not uid 1000"
    grep -qx "$VERSION" <<<"$plain" || die "check: training_zoo is not version $VERSION"
    grep -Eq 'training-zoo .*enabled.*OK' <<<"$plain" || die "check: labextension not enabled OK"
    grep -Eq '^ *training_zoo +enabled' <<<"$plain" || die "check: server extension not enabled"
    log "check: $image OK"
}

cmd_ci() {
    local start=$SECONDS
    command -v buildah >/dev/null || die "buildah is not installed"
    command -v podman >/dev/null || die "podman is not installed"
    cmd_base
    log "ci: base ready after $((SECONDS - start)) s"
    cmd_wheel
    build_one singleuser-cpu never --build-arg BASE="$CI_BASE"
    log "ci: image built after $((SECONDS - start)) s"
    # tests/integration/test_images.py runs its own, more thorough check of the same image.
    [[ "${1:-}" == --no-check ]] || cmd_check "$REGISTRY/singleuser-cpu:$VERSION"
    log "ci: done in $((SECONDS - start)) s"
}

case "${1:-}" in
    wheel | base | build | all | push | check | ci | context | tag)
        cmd="$1"; shift; "cmd_$cmd" "$@" ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
