# Attach the read-only root image at $DL_MNT/lower, retrying the whole attach for
# rd.retry seconds (as initramfs-tools retries an NFS root for ROOTDELAY seconds, 180 by
# default) so a server that is briefly down is waited for.

# Under /run/initramfs, systemd treats these mounts as the root's own and never tries to
# unmount them at shutdown (they are busy under the overlay until the very end).
DL_MNT=/run/initramfs/diskless
DL_LOWER=$DL_MNT/lower
DL_IMAGE_DIR=$DL_MNT/image

# A kernel module this initrd must have for the root, modular or built in.
have_module() {
    modprobe -q "$1" 2>/dev/null && return 0
    [ -d "/sys/module/$1" ] && return 0
    grep -q "/$1\.ko" "/lib/modules/$(uname -r)/modules.builtin" 2>/dev/null
}

# The modules a root kind needs beyond squashfs: nbd and nfs are carried only when the image's
# kernel has them (Red Hat's kernels ship no nbd.ko). Missing, they stay missing: no retry.
root_support() {
    local _v
    case "$DL_ROOT_KIND" in
        nbd) have_module nbd || { cause "this initrd has no nbd module (its kernel $(uname -r) has none): boot this image with root mode live or nfs, or use an image whose kernel has nbd"; return; } ;;
        nfs)
            # NFSv3 may be built into nfs.ko itself (CONFIG_NFS_V3=y beside a modular nfs).
            _v=$(nfs_root_version)
            have_module "nfsv$_v" || { [ "$_v" = 3 ] && have_module nfs; } || { cause "this initrd has no nfsv$_v module (its kernel $(uname -r) has none): boot this image with root mode live or nbd, or use an image whose kernel has NFS"; return; } ;;
    esac
    return 0
}

attach_root_with_retry() {
    local _start _try _why _elapsed
    if [ "$DL_ROOT_KIND" = dhcp ]; then
        root_from_dhcp || return
        DL_STAGE_DETAIL="root_from=dhcp"
    fi
    root_support || return
    _start=$(now_ms)
    _try=1
    while :; do
        DL_CAUSE=""
        if attach_root; then
            [ $_try -gt 1 ] && info "root attached on attempt $_try"
            return 0
        fi
        _why=${DL_CAUSE:-unknown error}
        detach_root
        _elapsed=$(( ($(now_ms) - _start) / 1000 ))
        if [ "$_elapsed" -ge "$DL_RETRY" ]; then
            cause "gave up after $_try attempts in ${_elapsed}s (rd.retry=$DL_RETRY): $_why"
            return
        fi
        info "attempt $_try to attach the root failed: $_why; retrying in 2 s (${_elapsed}s of rd.retry=${DL_RETRY}s used)"
        report root retry "$_why"
        sleep 2
        _try=$((_try + 1))
    done
}

attach_root() {
    mkdir -p "$DL_LOWER"
    case "$DL_ROOT_KIND" in
        live) attach_live ;;
        nbd) attach_nbd ;;
        nfs) attach_nfs ;;
    esac
}

# Undo a half-done attach before the next try.
detach_root() {
    umount "$DL_LOWER" 2>/dev/null
    umount $DL_MNT/sqfs 2>/dev/null
    [ -n "$DL_NBD_DEV" ] && nbd-client -d "$DL_NBD_DEV" >/dev/null 2>&1
    rm -f "$DL_IMAGE_DIR/root.sqfs"
    return 0
}

# One download of the live root from DL_URL into RAM.
get_live_root() {
    info "fetching $DL_URL into RAM"
    # No -T: Debian's static busybox 1.35 wget crashes (SIGSEGV) whenever -T is given; its
    # built-in read timeout (900 s) still ends an attempt against a server that went silent.
    wget -q -O "$DL_IMAGE_DIR/root.sqfs" "$DL_URL" 2>>"$DL_LOG" && return 0
    info "cannot download $DL_URL"
    rm -f "$DL_IMAGE_DIR/root.sqfs"
    return 1
}

# A live root on a boot server (under diskless.server) is asked of each server in turn, at the
# same path: every server holds the same versions by content hash, and rd.diskless.sha256 checks
# the bytes whichever sent them. A server that refuses, resets or closes early costs one try.
fetch_live_root() {
    case "$DL_ROOT_URL" in
        "$DL_SERVER"/*) ask_servers "${DL_ROOT_URL#"$DL_SERVER"}" get_live_root ;;
        *) DL_URL=$DL_ROOT_URL; get_live_root ;;
    esac
}

attach_live() {
    local _t _size _ms _sum
    modprobe -q squashfs; modprobe -q loop
    mkdir -p "$DL_IMAGE_DIR"
    _t=$(now_ms)
    fetch_live_root || { cause "cannot download $DL_ROOT_URL${DL_PEERS:+ (nor from $DL_PEERS)}"; return; }
    _size=$(stat -c %s "$DL_IMAGE_DIR/root.sqfs")
    _ms=$(( $(now_ms) - _t ))
    info "fetched $_size bytes in $_ms ms from $DL_URL"
    report fetched ok "bytes=$_size duration_ms=$_ms from=$DL_URL"
    if [ -n "$DL_SHA256" ]; then
        _sum=$(sha256sum "$DL_IMAGE_DIR/root.sqfs" | cut -d' ' -f1)
        [ "$_sum" = "$DL_SHA256" ] || { cause "image checksum mismatch: got sha256 $_sum, want $DL_SHA256"; return; }
        info "sha256 verified"
        report verified ok "sha256=$_sum"
    fi
    if [ -n "$DL_COPY" ]; then
        # rd.diskless.copy: the whole tree in tmpfs, the image file freed afterwards.
        mkdir -p $DL_MNT/sqfs
        mount -t squashfs -o ro,loop "$DL_IMAGE_DIR/root.sqfs" $DL_MNT/sqfs || { cause "cannot mount the downloaded image (not a squashfs?)"; return; }
        mount -t tmpfs -o mode=0755,size=90% tmpfs "$DL_LOWER" || { cause "cannot mount tmpfs for the copy"; return; }
        info "copying the image into RAM"
        cp -a $DL_MNT/sqfs/. "$DL_LOWER/" || { cause "copying the image into RAM failed (out of memory?)"; return; }
        umount $DL_MNT/sqfs
        rm -f "$DL_IMAGE_DIR/root.sqfs"
        DL_LOWER_WRITABLE=1
    else
        mount -t squashfs -o ro,loop "$DL_IMAGE_DIR/root.sqfs" "$DL_LOWER" || { cause "cannot mount the downloaded image (not a squashfs?)"; return; }
    fi
    return 0
}

# The NBD servers to try for root=nbd:SERVER:…, space-separated: SERVER, then each
# rd.diskless.peer's address (every boot server exports the same versions, by the same name,
# on the same port).
nbd_servers() {
    local _list _p _h
    _list=$1
    for _p in $DL_PEERS; do
        _h=$(server_host "$_p")
        case " $_list " in *" $_h "*) ;; *) _list="$_list $_h" ;; esac
    done
    printf '%s' "$_list"
}

# root=nbd:SERVER:PORT/EXPORT (PORT defaults to 10809)
attach_nbd() {
    local _rest _server _port _export _s _on _before _after _why
    _rest=${DL_ROOT#nbd:}
    _server=${_rest%%[:/]*}
    _rest=${_rest#"$_server"}
    _port=10809
    case "$_rest" in :*) _rest=${_rest#:}; _port=${_rest%%/*}; _rest=${_rest#"$_port"} ;; esac
    _export=${_rest#/}
    [ -n "$_server" ] && [ -n "$_export" ] || { cause "root=$DL_ROOT: expected nbd:SERVER:PORT/EXPORT"; return; }
    modprobe -q nbd; modprobe -q squashfs
    DL_NBD_DEV=/dev/nbd0
    _on="" _before="" _after="" _why=""
    for _s in $(nbd_servers "$_server"); do
        if [ -n "$_on" ]; then _after="$_after,$_s"; continue; fi
        info "attaching export $_export from $_s:$_port on $DL_NBD_DEV"
        # -systemd-mark: argv[0] starts with "@", so systemd's shutdown does not kill it
        # while the root still needs it (systemd's root storage daemon convention).
        if nbd-client "$_s" "$_port" "$DL_NBD_DEV" -N "$_export" -b 4096 -readonly -systemd-mark >>"$DL_LOG" 2>&1; then
            _on=$_s
        else
            _why="${_why:+$_why; }NBD attach of $_export from $_s:$_port failed: $(tail -n 1 "$DL_LOG")"
            _before="$_before,$_s"
        fi
    done
    [ -n "$_on" ] || { cause "$_why"; return; }
    mount -t squashfs -o ro "$DL_NBD_DEV" "$DL_LOWER" || { cause "cannot mount $DL_NBD_DEV (export $_export is not a squashfs?)"; return; }
    DL_STAGE_DETAIL="${DL_STAGE_DETAIL:+$DL_STAGE_DETAIL }nbd_server=$_on"
    # The keeper walks on from the server it holds: the ones after it first, in list order.
    keep_nbd_attached "$_on$_after$_before" "$_port" "$_export"
    return 0
}

# How long requests wait for the server to come back (NBD_ATTR_DEAD_CONN_TIMEOUT) before the
# kernel fails them with EIO; a later reconnect still revives the device.
DL_NBD_DEAD_TIMEOUT=${DL_NBD_DEAD_TIMEOUT:-3600}

# nbd-client (netlink mode) gives the socket to the kernel and exits: nothing reconnects when
# the server restarts, and the kernel then fails every read of the root with EIO at once
# (drivers/block/nbd.c: no dead-connection timeout, "failed to find a fallback"). Debian 12's
# nbd-client 3.24 can neither set that timeout nor reconnect a netlink device (-persist is
# ioctl-only, where reads made while the server is down still fail). diskless-nbd-keeper
# (src/initramfs/helpers/nbd-keeper.c) sets the timeouts, waits for the kernel's
# NBD_CMD_LINK_DEAD event and hands the kernel a new connection (NBD_CMD_RECONFIGURE); it
# outlives switch_root as a storage daemon ("@" argv[0], spared by systemd at shutdown). $1 is
# the server attached to, then the others, comma-separated: a reconnect walks on from the one
# that was lost to the next, so the root goes on through another boot server.
keep_nbd_attached() {
    if [ ! -x /usr/sbin/diskless-nbd-keeper ]; then
        info "warning: no diskless-nbd-keeper in this initrd: the root will not survive a server restart"
        return 0
    fi
    /usr/sbin/diskless-nbd-keeper "$DL_NBD_DEV" "$1" "$2" "$3" "$DL_NBD_DEAD_TIMEOUT" </dev/null >>"$DL_LOG" 2>&1 \
        || info "warning: diskless-nbd-keeper failed: the root will not survive a server restart (see $DL_LOG)"
    return 0
}

# No root on the command line (or root=dhcp): the lease's root path, DHCP option 17, in the
# kernel's nfsroot form [SERVER:]/PATH[,OPTIONS] (the DHCP server when no SERVER is named), or
# a root= value (nfs:, nfs4:, live:, nbd:). It is data like any other root=.
root_from_dhcp() {
    local _rp _server _path _opts
    _rp=$NET_ROOTPATH
    [ -n "$_rp" ] || { cause "no root= on the kernel command line and no root path (DHCP option 17) in the lease: give the profile a root, or set the DHCP server's root path"; return; }
    case "$_rp" in
        nfs:*|nfs4:*|live:*|nbd:*) DL_ROOT=$_rp ;;
        *)
            _opts=""
            case "$_rp" in *,*) _opts=${_rp#*,} _rp=${_rp%%,*} ;; esac
            case "$_rp" in
                /*) _server=$NET_SERVERID _path=$_rp ;;
                *:/*) _server=${_rp%%:*} _path=${_rp#*:} ;;
                *) cause "root path from DHCP \"$NET_ROOTPATH\": expected [SERVER:]/PATH[,OPTIONS] or nfs:, nfs4:, live:, nbd:"; return ;;
            esac
            [ -n "$_server" ] || { cause "root path from DHCP \"$NET_ROOTPATH\" names no server and the lease has no server id"; return; }
            DL_ROOT="nfs:$_server:$_path${_opts:+:$_opts}"
            ;;
    esac
    info "no root= on the command line: root $DL_ROOT from DHCP option 17"
    classify_root
}

# The NFS version root= asks for: the one its options name (vers= or nfsvers=), else 4 for
# nfs4: and 3 for nfs:.
nfs_root_version() {
    local _rest _opts
    _rest=${DL_ROOT#*:}
    _rest=${_rest#*:}
    _opts=""
    case "$_rest" in *:*) _opts=${_rest#*:} ;; esac
    case ",$_opts," in
        *,vers=4*|*,nfsvers=4*) echo 4 ;;
        *,vers=*|*,nfsvers=*) echo 3 ;;
        *) case "$DL_ROOT" in nfs4:*) echo 4 ;; *) echo 3 ;; esac ;;
    esac
}

# root=nfs:SERVER:/PATH[:OPTIONS] or root=nfs4:SERVER:/PATH[:OPTIONS]. nfs4: mounts NFSv4;
# nfs: the version its options name (vers= or nfsvers=), else NFSv3, as the kernel's own
# nfsroot and initramfs-tools' klibc nfsmount do.
attach_nfs() {
    local _rest _server _path _opts _o _vers _type _named
    _rest=${DL_ROOT#*:}
    _server=${_rest%%:*}
    _rest=${_rest#*:}
    _path=${_rest%%:*}
    _opts=""
    case "$_rest" in *:*) _opts=${_rest#*:} ;; esac
    [ -n "$_server" ] && [ -n "$_path" ] || { cause "root=$DL_ROOT: expected nfs:SERVER:/PATH[:OPTIONS]"; return; }
    # The kernel's NFS client takes the server's address itself (addr=), not a name.
    valid_ipv4 "$_server" || { cause "root=$DL_ROOT: the NFS server must be an IPv4 address (the kernel mounts without a resolver)"; return; }
    _vers=$(nfs_root_version) _named=""
    case ",$_opts," in *,vers=*|*,nfsvers=*) _named=1 ;; esac
    if [ "$_vers" = 4 ]; then _type=nfs4; modprobe -q nfsv4; else _type=nfs; modprobe -q nfsv3; fi
    modprobe -q nfs
    # mount.nfs would add addr= (and the v4 callback address); busybox mount passes our options
    # through as they are. For v3 the kernel asks the server's rpcbind for mountd and nfsd itself.
    _o="ro,nolock"
    [ -n "$_named" ] || _o="$_o,vers=$_vers"
    _o="$_o,addr=$_server"
    [ "$_vers" = 4 ] && [ -n "$NET_IP" ] && _o="$_o,clientaddr=$NET_IP"
    _o="$_o${_opts:+,$_opts}"
    info "mounting $_server:$_path (NFSv$_vers, $_o)"
    mount -t "$_type" -o "$_o" "$_server:$_path" "$DL_LOWER" 2>>"$DL_LOG" || { cause "NFSv$_vers mount of $_server:$_path failed: $(tail -n 1 "$DL_LOG")"; return; }
    DL_STAGE_DETAIL="${DL_STAGE_DETAIL:+$DL_STAGE_DETAIL }nfs_version=$_vers"
    return 0
}
