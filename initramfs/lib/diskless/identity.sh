# This node's own files, applied over the overlay and never baked into the image: SSH host keys
# kept on the server (so they stay the same from boot to boot), root's authorized_keys and
# password hash, and the files its profile and the node itself add to the image.

DL_FILES=${DL_FILES:-/run/initramfs/node-files.cpio}
DL_NEWROOT=${DL_NEWROOT:-/newroot}
DL_BUSYBOX=${DL_BUSYBOX:-/bin/busybox}
DL_SERVER_CERTS=${DL_SERVER_CERTS:-/etc/diskless/server-certs.pem}

# POST the one-time token over TLS to diskless.secrets (https://ADDRESS:PORT), and only to a
# server whose certificate this initrd carries: busybox wget checks no certificate, and the
# answer holds this node's private keys. openssl s_client with -verify_return_error hangs up
# before sending anything when the certificate is not one of ours; -partial_chain lets the
# carried certificate itself be the trust anchor; -no_check_time because a node's clock at
# boot may be anything. The archive lands in RAM, readable by root only.
fetch_node_files() {
    local _s _port _hostport _rc
    _port=${DL_SECRETS_URL##*:}
    for _s in $(server_order); do
        # diskless.secrets names this server's address for the node; a peer is asked at its own.
        if [ "$_s" = "$DL_SERVER" ]; then _hostport=${DL_SECRETS_URL#https://}; else _hostport=$(server_host "$_s"):$_port; fi
        fetch_node_files_from "$_hostport" "$1"
        _rc=$?
        [ "$_rc" -eq 2 ] && continue
        [ "$_rc" -eq 0 ] && DL_SERVER_NOW=$_s
        return "$_rc"
    done
    return 1
}

# One server's answer: 0 the files, 1 refused (every server shares the tokens: another would
# refuse it too), 2 no answer, or an error of its own (5xx): the next server is asked.
fetch_node_files_from() {
    local _hostport _body _status
    rm -f "$DL_FILES" "$DL_FILES.http"
    _hostport=$1
    _body="token=$(urlencode "$2")&mac=$(urlencode "$DL_MAC")"
    (
        umask 077
        printf 'POST /api/v1/node-files HTTP/1.0\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %s\r\n\r\n%s' \
            "$_hostport" "${#_body}" "$_body" \
            | OPENSSL_CONF=/dev/null timeout 30 openssl s_client -quiet -connect "$_hostport" -CAfile "$DL_SERVER_CERTS" \
                -partial_chain -no_check_time -verify_return_error > "$DL_FILES.http" 2>> "$DL_LOG"
    ) || { info "identity: TLS to $_hostport failed (not reachable, or its certificate is not one this initrd carries)"; rm -f "$DL_FILES.http"; return 2; }
    http_body "$DL_FILES.http" "$DL_FILES"
    _status=$DL_HTTP_STATUS
    rm -f "$DL_FILES.http"
    [ "$_status" = 200 ] && [ -s "$DL_FILES" ] && return 0
    info "identity: $_hostport answered ${_status:-nothing}: $(sed -n 1p "$DL_FILES" 2>/dev/null | cut -c1-200)"
    rm -f "$DL_FILES"
    case "$_status" in 4[0-9][0-9]) return 1 ;; esac
    return 2
}

# An HTTP response in file $1 → its body in file $2, its status code in DL_HTTP_STATUS. `read`
# takes the header lines a byte at a time, so `cat` goes on exactly where they end.
http_body() {
    local _line
    DL_HTTP_STATUS=""
    {
        IFS= read -r _line && DL_HTTP_STATUS=$(printf '%s' "$_line" | cut -d' ' -f2)
        while IFS= read -r _line; do
            case "$_line" in
                ""|"$(printf '\r')") break ;;
                [Xx]-[Dd]iskless-[Rr]eport-[Kk]ey:*) report_key_header "${_line#*:}" ;;
            esac
        done
        cat > "$2"
    } < "$1"
}

# "ID KEY" from the node-files answer: this boot's report id and key, with which every later
# report proves it comes from this node (common.sh report_proof). Kept only when well formed.
report_key_header() {
    local _v _id _key
    _v=$(printf '%s' "$1" | tr -d '\r')
    _v=${_v# }
    _id=${_v%% *} _key=${_v#* }
    case "$_id" in ""|*[!0-9a-f-]*) return 0 ;; esac
    case "$_key" in ""|*[!0-9a-f]*) return 0 ;; esac
    [ ${#_key} -eq 64 ] || return 0
    DL_REPORT_ID=$_id DL_REPORT_KEY=$_key
}

# Tokens live in the server's memory for token_ttl: after a server restart, or a boot slower
# than that, the node's own boot script (asked for from this node's address) carries a new one.
fresh_token() {
    ask_servers "/boot/$DL_MAC.ipxe" token_from_script
}

# The token in the boot script at DL_URL, printed; fails when there is none.
token_from_script() {
    local _t
    _t=$(timeout 10 wget -q -O - "$DL_URL" 2>/dev/null | sed -n 's/.*rd\.diskless\.token=\([A-Za-z0-9_-]*\).*/\1/p' | head -n 1)
    [ -n "$_t" ] || return 1
    printf '%s' "$_t"
}

apply_identity() {
    local _token _until _count _err
    if [ -z "$DL_TOKEN" ]; then
        info "identity: no rd.diskless.token (pxelinux, or a node without secrets): keeping the image's own"
        return 0
    fi
    [ -n "$DL_SECRETS_URL" ] || { cause "rd.diskless.token without diskless.secrets=https://…: the boot script is from an older server"; return; }
    [ -s "$DL_SERVER_CERTS" ] || { cause "this initrd carries no server certificate ($DL_SERVER_CERTS), so it cannot fetch this node's secrets: rebuild it (diskless image build, or diskless initrd build --config FILE)"; return; }
    if ! touch "$DL_NEWROOT/.diskless-write-test" 2>/dev/null; then
        cause "the root is read-only (rd.diskless.overlay=none): this node's keys and files cannot be applied"; return
    fi
    rm -f "$DL_NEWROOT/.diskless-write-test"
    _token=$DL_TOKEN
    _until=$(( $(now_ms) / 1000 + DL_RETRY ))
    until fetch_node_files "$_token"; do
        if [ "$(( $(now_ms) / 1000 ))" -ge "$_until" ]; then
            cause "no files for this node from $DL_SECRETS_URL${DL_PEERS:+ or its peers} within rd.retry=$DL_RETRY s (token refused or servers down; see the server log)"; return
        fi
        info "identity: this node's files are not available yet; asking for a new token"
        sleep 3
        _token=$(fresh_token)
    done
    _count=$(cpio -t < "$DL_FILES" 2>/dev/null | wc -l)
    if ! _err=$(unpack_node_files); then
        rm -f "$DL_FILES"
        cause "cannot unpack this node's files: $_err"; return
    fi
    rm -f "$DL_FILES"
    apply_root_password || return
    info "identity: $_count entries applied (host keys, keys, files)"
    return 0
}

# Unpacked inside the node's root (chroot), not beside it: a directory of the image that is an
# absolute symlink (/etc/ssh -> /srv/ssh) must resolve within the image, or the files would land
# in the initramfs and vanish at switch_root; and no name can climb out with "..". The image may
# have no cpio, so this busybox is put in for the moment. Prints cpio's complaint on failure.
unpack_node_files() {
    local _tmp _rc _out
    _tmp=/.diskless-unpack.$$
    mkdir "$DL_NEWROOT$_tmp" && cp "$DL_BUSYBOX" "$DL_NEWROOT$_tmp/busybox" || { rm -rf "$DL_NEWROOT$_tmp"; return 1; }
    _rc=0
    _out=$(chroot "$DL_NEWROOT" "$_tmp/busybox" cpio -i -d -u < "$DL_FILES" 2>&1 >/dev/null) || _rc=1
    rm -rf "$DL_NEWROOT$_tmp"
    [ "$_rc" -eq 0 ] || { printf '%s\n' "$_out"; return 1; }
}

# Only root's field of the image's /etc/shadow changes; other accounts keep the image's.
apply_root_password() {
    local _f _hash
    _f=$DL_NEWROOT/etc/diskless/root-password-hash
    [ -f "$_f" ] || return 0
    read -r _hash < "$_f"
    rm -f "$_f"
    # crypt(3) output is [./0-9A-Za-z$] plus yescrypt's params: nothing sed or the shell reads.
    case "$_hash" in
        ''|*[!A-Za-z0-9./\$]*) cause "the root password hash from the server has unexpected characters"; return ;;
    esac
    [ -f "$DL_NEWROOT/etc/shadow" ] || { info "identity: the image has no /etc/shadow; root password not set"; return 0; }
    sed -i "s|^root:[^:]*:|root:$_hash:|" "$DL_NEWROOT/etc/shadow" || { cause "cannot set root's password in /etc/shadow"; return; }
}
