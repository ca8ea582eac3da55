#!/usr/bin/env bash
# Builds the real Pulumi engine's binaries from the Go module proxy into a cache outside the repo and
# prints the directory to put on PATH (last line of stdout). Skips what is already built.
#   pulumi                  the CLI at the version of @pulumi/pulumi in package.json
#   pulumi-language-nodejs  Pulumi's Node.js language host (see LANGHOST_SDK below; two changes, each explained where made)
# The resource providers are stand-ins from this repo (engine/bin, engine/standin): the proxy serves
# neither pulumi-oci, pulumi-command, pulumi-random nor terraform-provider-oci.
# Env: COINPILOT_TOOLCHAIN_CACHE (default ~/.cache/coinpilot-toolchain).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

PULUMI_VERSION="v$(node -p "require('$ROOT/package.json').dependencies['@pulumi/pulumi']")"
# The host's own module (sdk/nodejs/cmd/pulumi-language-nodejs/v3) is not served by the proxy at any
# version. sdk/v3 carried the host inside it up to v3.68.0, the newest such release served: it is built
# from there, with one change (below) so that it works with a v3.2xx engine and SDK.
LANGHOST_SDK=v3.68.0
CACHE="${COINPILOT_TOOLCHAIN_CACHE:-$HOME/.cache/coinpilot-toolchain}"
BIN="$CACHE/pulumi-$PULUMI_VERSION-langhost-$LANGHOST_SDK/bin"
mkdir -p "$BIN" "$CACHE/build"

log() { printf '[toolchain] %s\n' "$*" >&2; }

# Runs a build step, reporting wall time and (where GNU time exists) peak memory.
measured() {
    local what=$1; shift
    local start=$SECONDS
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f "[toolchain] $what: peak RSS %M KiB" "$@"
    else
        "$@"
    fi
    log "$what: $((SECONDS - start)) s"
}

build_cli() {
    if [ -x "$BIN/pulumi" ] && [ "$("$BIN/pulumi" version 2>/dev/null)" = "$PULUMI_VERSION" ]; then
        log "pulumi $PULUMI_VERSION: already built"
        return
    fi
    log "pulumi $PULUMI_VERSION: building from github.com/pulumi/pulumi/pkg/v3 (cold: several minutes)"
    local dir="$CACHE/build/cli-$PULUMI_VERSION"
    rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
    go mod init coinpilot-toolchain/cli >/dev/null 2>&1
    # A dependency's replace directives are ignored, so the CLI's own (except the local ../sdk one) are
    # repeated here; sdk/v3 comes from the proxy at the same version instead.
    local gomod
    gomod=$(go mod download -json "github.com/pulumi/pulumi/pkg/v3@$PULUMI_VERSION" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).GoMod))')
    grep -E '^replace [^ ]+ => [^.]' "$gomod" | while read -r _ from _ to version; do
        go mod edit -replace "$from=$to@$version"
    done
    go get "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@$PULUMI_VERSION" "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION" 2>&1 | grep -v '^go: \(downloading\|added\|upgraded\)' >&2 || true
    measured "pulumi $PULUMI_VERSION build" go build -tags osusergo,grpcnotrace \
        -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
        -o "$BIN/pulumi.new" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
    mv "$BIN/pulumi.new" "$BIN/pulumi"
}

build_langhost() {
    local stamp="$BIN/pulumi-language-nodejs.stamp"
    local want="$LANGHOST_SDK direct-monitor runplugin-$(sha256sum "$ROOT/engine/langhost/runplugin.go" | cut -c1-12)"
    if [ -x "$BIN/pulumi-language-nodejs" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
        log "pulumi-language-nodejs ($LANGHOST_SDK): already built"
        return
    fi
    log "pulumi-language-nodejs: building from github.com/pulumi/pulumi/sdk/v3@$LANGHOST_SDK"
    local dir="$CACHE/build/langhost-$LANGHOST_SDK"
    rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
    go mod init pulumi-language-nodejs >/dev/null 2>&1
    go get "github.com/pulumi/pulumi/sdk/v3@$LANGHOST_SDK" 2>&1 | grep -v '^go: \(downloading\|added\|upgraded\)' >&2 || true
    local src
    src="$(go list -m -f '{{.Dir}}' "github.com/pulumi/pulumi/sdk/v3")/nodejs/cmd/pulumi-language-nodejs"
    find "$src" -maxdepth 1 -name '*.go' ! -name '*_test.go' -exec cp {} . \;
    chmod u+w ./*.go
    # The v3.68 host puts a monitor proxy built on v3.68's protocol between the program and the engine,
    # so every later RPC (RegisterErrorHook, which this program's capacity hunt needs, among them)
    # fails as "unknown method". Newer hosts hand the engine's monitor address to the program directly;
    # this does the same.
    local proxied='fmt.Sprintf("127.0.0.1:%d", handle.Port)'
    if [ "$(grep -cF "$proxied" main.go)" != 1 ]; then
        log "pulumi-language-nodejs: the expected monitor-proxy line is not in main.go; refusing to build a host that would break error hooks"
        exit 1
    fi
    sed -i "s|$proxied|req.GetMonitorAddress()|" main.go
    # Its RunPlugin is a stub, so `pulumi preview --policy-pack` could not start a policy pack: the stub
    # goes, and engine/langhost/runplugin.go (this repo's) takes its place.
    local stub='^func (host \*nodeLanguageHost) RunPlugin($'
    if [ "$(grep -c "$stub" main.go)" != 1 ] || ! grep -q 'return errors.New("not supported")' main.go; then
        log "pulumi-language-nodejs: the expected RunPlugin stub is not in main.go; refusing to build"
        exit 1
    fi
    sed -i "/$stub/,/^}/d" main.go
    cp "$ROOT/engine/langhost/runplugin.go" .
    go mod tidy >/dev/null 2>&1
    measured "pulumi-language-nodejs build" go build \
        -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$LANGHOST_SDK" \
        -o "$BIN/pulumi-language-nodejs" .
    echo "$want" > "$stamp"
}

check() {
    local version
    version=$("$BIN/pulumi" version)
    [ "$version" = "$PULUMI_VERSION" ] || { log "pulumi version says $version, expected $PULUMI_VERSION"; exit 1; }
    # A language host prints the port it serves on, then serves until killed.
    local port
    port=$(timeout 20 "$BIN/pulumi-language-nodejs" 2>/dev/null | head -n 1 || true)
    [[ "$port" =~ ^[0-9]+$ ]] || { log "pulumi-language-nodejs did not start (printed '$port')"; exit 1; }
    log "checked: pulumi $version, pulumi-language-nodejs serves (port $port)"
}

build_cli
build_langhost
check
log "disk: cache $(du -sh "$CACHE" | cut -f1), Go modules $(du -sh "$(go env GOMODCACHE)" | cut -f1), Go build cache $(du -sh "$(go env GOCACHE)" | cut -f1)"
echo "$BIN"
