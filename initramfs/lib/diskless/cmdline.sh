# Kernel command line → DL_* variables. Words are split on blanks with globbing off and each
# value is assigned as data: root=$(reboot) yields the string "$(reboot)", nothing runs.

parse_cmdline() {
    local _cmdline _arg
    DL_ROOT="" DL_OVERLAY=tmpfs DL_COPY="" DL_SHA256="" DL_RETRY=180 DL_IP="" DL_BOOTIF=""
    DL_BREAK="" DL_SHELL="" DL_DEBUG="" DL_SERVER="" DL_INIT=/sbin/init DL_OVERLAY_SIZE=50%
    DL_NFS_OPTS="" DL_TOKEN="" DL_SECRETS_URL="" DL_NETWAIT=60 DL_SETTLE=3
    DL_DISK_PATH="" DL_DISK_MODEL="" DL_DISK_ID="" DL_DISK_SIZE="" DL_DISK_UPPER=1 DL_DISK_SWAP=0
    DL_DISK_SCRATCH="" DL_DISK_PERSIST="" DL_BOND="" DL_BOND_SLAVES="" DL_VLAN=""
    DL_EMERGENCY=reboot DL_FAILURE_DELAY=30 DL_SYSTEMD_MASK="" DL_PEERS=""
    read -r _cmdline < "${DL_CMDLINE_FILE:-/proc/cmdline}"
    set -f  # split on blanks but never expand a word such as "*" against the filesystem
    for _arg in $_cmdline; do
        case "$_arg" in
            root=*) DL_ROOT=${_arg#root=} ;;
            rd.diskless.overlay=*) DL_OVERLAY=${_arg#*=} ;;
            rd.diskless.overlay.size=*) DL_OVERLAY_SIZE=${_arg#*=} ;;
            rd.diskless.copy|rd.diskless.copy=1) DL_COPY=1 ;;
            rd.diskless.sha256=*) DL_SHA256=${_arg#*=} ;;
            rd.diskless.token=*) DL_TOKEN=${_arg#*=} ;;
            rd.retry=*) DL_RETRY=${_arg#*=} ;;
            rd.diskless.netwait=*) DL_NETWAIT=${_arg#*=} ;;
            rd.diskless.settle=*) DL_SETTLE=${_arg#*=} ;;
            ip=*) DL_IP=${_arg#ip=} ;;
            BOOTIF=*) DL_BOOTIF=${_arg#BOOTIF=} ;;
            rd.break=*) DL_BREAK=${_arg#*=} ;;
            rd.break) DL_BREAK=switch_root ;;
            rd.shell|rd.shell=1) DL_SHELL=1 ;;
            rd.shell=0) DL_SHELL=0 ;;
            rd.emergency=*) DL_EMERGENCY=${_arg#*=} ;;
            rd.diskless.failure_delay=*) DL_FAILURE_DELAY=${_arg#*=} ;;
            rd.debug) DL_DEBUG=1 ;;
            diskless.server=*) DL_SERVER=${_arg#*=} ;;
            diskless.secrets=*) DL_SECRETS_URL=${_arg#*=} ;;
            # The other boot servers, in the order to try them after diskless.server (one each).
            rd.diskless.peer=*) DL_PEERS="${DL_PEERS:+$DL_PEERS }${_arg#*=}" ;;
            init=*) DL_INIT=${_arg#init=} ;;
            rd.diskless.bond=*) DL_BOND=${_arg#*=} ;;
            rd.diskless.bond.slaves=*) DL_BOND_SLAVES=${_arg#*=} ;;
            rd.diskless.vlan=*) DL_VLAN=${_arg#*=} ;;
            rd.diskless.disk.path=*) DL_DISK_PATH=${_arg#*=} ;;
            rd.diskless.disk.model=*) DL_DISK_MODEL=${_arg#*=} ;;
            rd.diskless.disk.id=*) DL_DISK_ID=${_arg#*=} ;;
            rd.diskless.disk.size=*) DL_DISK_SIZE=${_arg#*=} ;;
            rd.diskless.disk.upper=*) DL_DISK_UPPER=${_arg#*=} ;;
            rd.diskless.disk.swap=*) DL_DISK_SWAP=${_arg#*=} ;;
            rd.diskless.disk.scratch=*) DL_DISK_SCRATCH=${_arg#*=} ;;
            rd.diskless.disk.persist=*) DL_DISK_PERSIST=${_arg#*=} ;;
            # systemd reads these too: a unit masked here never starts in the real system.
            systemd.mask=*) DL_SYSTEMD_MASK="${DL_SYSTEMD_MASK:+$DL_SYSTEMD_MASK }${_arg#*=}" ;;
        esac
    done
    set +f
    [ -n "$DL_DEBUG" ] && set -x
    return 0
}

# Sets DL_ROOT_KIND (and DL_ROOT_URL for live) from DL_ROOT.
classify_root() {
    case "$DL_ROOT" in
        live:http://*|live:https://*) DL_ROOT_KIND=live DL_ROOT_URL=${DL_ROOT#live:} ;;
        nbd:*) DL_ROOT_KIND=nbd ;;
        nfs:*|nfs4:*) DL_ROOT_KIND=nfs ;;
        *) cause "root=$DL_ROOT is not a Diskless root (expected live:http://…, nbd:SERVER:PORT/EXPORT or nfs:SERVER:/PATH)"; return ;;
    esac
    return 0
}

check_cmdline() {
    case "$DL_ROOT" in
        # No root named (or root=dhcp): the lease's root path (DHCP option 17), once the network is up.
        ""|dhcp) DL_ROOT_KIND=dhcp ;;
        *) classify_root || return ;;
    esac
    case "$DL_OVERLAY" in tmpfs|none) ;; *) cause "rd.diskless.overlay=$DL_OVERLAY: expected tmpfs or none"; return ;; esac
    case "$DL_RETRY" in ''|*[!0-9]*) cause "rd.retry=$DL_RETRY: expected a number of seconds"; return ;; esac
    case "$DL_NETWAIT" in ''|*[!0-9]*) cause "rd.diskless.netwait=$DL_NETWAIT: expected a number of seconds"; return ;; esac
    case "$DL_SETTLE" in ''|*[!0-9]*) cause "rd.diskless.settle=$DL_SETTLE: expected a number of seconds"; return ;; esac
    case "$DL_DISK_SWAP" in ''|*[!0-9]*) cause "rd.diskless.disk.swap=$DL_DISK_SWAP: expected MiB"; return ;; esac
    case "$DL_DISK_SIZE" in ""|*-*) ;; *) cause "rd.diskless.disk.size=$DL_DISK_SIZE: expected MIN-MAX in bytes"; return ;; esac
    case "$DL_DISK_SIZE" in *[!0-9-]*|*-*-*) cause "rd.diskless.disk.size=$DL_DISK_SIZE: expected MIN-MAX in bytes"; return ;; esac
    case "$DL_EMERGENCY" in reboot|poweroff|halt) ;; *) cause "rd.emergency=$DL_EMERGENCY: expected reboot, poweroff or halt"; return ;; esac
    case "$DL_FAILURE_DELAY" in ''|*[!0-9]*) cause "rd.diskless.failure_delay=$DL_FAILURE_DELAY: expected a number of seconds"; return ;; esac
    case "$DL_SHA256" in ''|[0-9a-f]*) ;; *) cause "rd.diskless.sha256 must be 64 hex digits"; return ;; esac
    if [ -n "$DL_SHA256" ] && [ ${#DL_SHA256} -ne 64 ]; then cause "rd.diskless.sha256 must be 64 hex digits"; return; fi
    case "$DL_SHA256" in *[!0-9a-f]*) cause "rd.diskless.sha256 must be 64 hex digits"; return ;; esac
    case "$DL_TOKEN" in *[!A-Za-z0-9_-]*) cause "rd.diskless.token has characters a token never has"; return ;; esac
    case "$DL_SECRETS_URL" in
        ""|https://[0-9]*.[0-9]*.[0-9]*.[0-9]*:[0-9]*) ;;
        *) cause "diskless.secrets=$DL_SECRETS_URL: expected https://ADDRESS:PORT"; return ;;
    esac
    case "${DL_SECRETS_URL#https://}" in *[!0-9.:]*) cause "diskless.secrets=$DL_SECRETS_URL: expected https://ADDRESS:PORT"; return ;; esac
    check_peers || return
    return 0
}

# Each rd.diskless.peer is http://ADDRESS[:PORT] and nothing else: the shell splits the list on
# blanks and builds URLs, NBD and TLS addresses from it.
check_peers() {
    local _p _host
    set -f
    for _p in $DL_PEERS; do
        _host=${_p#http://}
        _host=${_host%:*}
        case "$_p" in
            http://*) ;;
            *) set +f; cause "rd.diskless.peer=$_p: expected http://ADDRESS[:PORT]"; return ;;
        esac
        case "${_p#http://}" in
            *[!0-9.:]*|*:*:*|*:) set +f; cause "rd.diskless.peer=$_p: expected http://ADDRESS[:PORT]"; return ;;
        esac
        valid_ipv4 "$_host" || { set +f; cause "rd.diskless.peer=$_p: expected http://ADDRESS[:PORT]"; return; }
    done
    set +f
    return 0
}
