#!/run/diskless/bin/busybox sh
# The lease keeper: keeps the boot interface's DHCP lease alive in a real system that runs no
# DHCP client of its own. The handoff stage copies this file and the initrd's static busybox to
# /run/diskless and starts `lease-keeper.sh start IFACE ADDRESS` chrooted into the new root,
# just before switch_root; it then runs busybox udhcpc in the foreground with this file as its
# script, so the lease is renewed at T1 (unicast to the server) and rebound at T2 (broadcast)
# for as long as the node runs.
#
# The interface carries the root: nothing here ever removes an address or takes the link down.
# A lease that could not be renewed (server down) leaves the address in place while udhcpc
# keeps asking; udhcpc's own "deconfig" (at its start and after a NAK) changes nothing. Values
# from DHCP are passed to ip as single quoted arguments and written shell-quoted, never run.
#
# In an image whose network manager renews the lease itself (networkd, NetworkManager: `start
# IFACE ADDRESS MANAGER`), the keeper only bridges the system's start: its own start is an
# exchange with the server at switch_root, and it renews until the manager runs, then ends,
# without a RELEASE, leaving the lease to the manager. So a lease shorter than the system's
# start never lapses meanwhile. A watcher looks for the manager every 2 s, so the keeper is
# gone before its own T1 as a rule and the renewals the server sees are the manager's. For NetworkManager the address keeps the lease's lifetime
# (what NetworkManager takes over as DHCP's); otherwise it is kept for good.
BB=${DL_KEEPER_BUSYBOX:-/run/diskless/bin/busybox}
PROC=${DL_KEEPER_PROC:-/proc}
STATE_DIR=${DL_KEEPER_STATE_DIR:-/run/diskless/net}
STATE=$STATE_DIR/lease-keeper.state

# One line per value, overwritten at every event: the file stays the size of one lease.
record() {
    local _count _f
    _count=0
    [ -f "$STATE" ] && _count=$("$BB" sed -n "s/^RENEWALS='\([0-9]*\)'$/\1/p" "$STATE")
    case "$1" in renew) _count=$((${_count:-0} + 1)) ;; esac
    _f=$STATE.tmp
    {
        printf "EVENT='%s'\n" "$1"
        printf "AT_UPTIME='%s'\n" "$("$BB" cut -d' ' -f1 /proc/uptime)"
        printf "IP='%s'\n" "$(printf '%s' "$ip" | "$BB" tr -cd '0-9.')"
        printf "LEASE='%s'\n" "$(printf '%s' "$lease" | "$BB" tr -cd '0-9')"
        printf "SERVER='%s'\n" "$(printf '%s' "$serverid" | "$BB" tr -cd '0-9.')"
        printf "RENEWALS='%s'\n" "${_count:-0}"
    } > "$_f" && "$BB" mv "$_f" "$STATE"
}

# The image's network manager has started (its process name, as the kernel shortens it).
manager_runs() {
    local _comm
    case "$DL_KEEPER_UNTIL" in networkd) _comm=systemd-network ;; *) _comm=$DL_KEEPER_UNTIL ;; esac
    "$BB" cat "$PROC"/[0-9]*/comm 2>/dev/null | "$BB" grep -qx "$_comm"
}

case "$1" in
    start)
        # start IFACE ADDRESS [MANAGER]: ask for the address the initramfs had, and never stop
        # asking (or not once MANAGER runs).
        "$BB" mkdir -p "$STATE_DIR"
        exec </dev/null >/dev/null 2>&1
        case "$4" in ''|networkd|NetworkManager) ;; *) exit 2 ;; esac
        export DL_KEEPER_UNTIL="$4"
        if [ -n "$4" ]; then
            # $$ is this shell's PID, which udhcpc keeps once exec'd. udhcpc ends on SIGTERM
            # without a RELEASE (no -R) and without touching the address.
            (
                while "$BB" kill -0 $$ 2>/dev/null && ! manager_runs; do "$BB" sleep 2; done
                "$BB" kill -0 $$ 2>/dev/null || exit 0
                "$BB" kill -TERM $$
                printf "HANDED='%s'\n" "$DL_KEEPER_UNTIL" >> "$STATE"
            ) &
        fi
        exec "$BB" udhcpc -f -i "$2" -r "$3" -V Diskless-node -t 3 -T 3 -A 20 -s "$0"
        ;;
    bound|renew)
        _prefix=${mask:-$("$BB" ipcalc -p "$ip" "$subnet" 2>/dev/null | "$BB" cut -d= -f2)}
        # replace: the same address again is a no-op; a new one is added beside the old, which
        # open connections (the root's NBD or NFS) may still use.
        _lft=forever
        case "$DL_KEEPER_UNTIL:$lease" in NetworkManager:[0-9]*) _lft=$(printf '%s' "$lease" | "$BB" tr -cd '0-9') ;; esac
        "$BB" ip addr replace "$ip/$_prefix" ${broadcast:+broadcast "$broadcast"} dev "$interface" valid_lft "$_lft" preferred_lft "$_lft"
        record "$1"
        ;;
    deconfig|leasefail|nak)
        record "$1"
        ;;
esac
exit 0
