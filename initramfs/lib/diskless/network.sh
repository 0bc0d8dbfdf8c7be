# Pick the interface the machine booted from and configure it: DHCP (with retries) or the
# kernel's static ip= form. The result is in /run/diskless/net/lease.env (quoted values).

DL_NET_DIR=${DL_NET_DIR:-/run/diskless/net}

# BOOTIF=01-52-54-00-12-34-56 (pxelinux "ipappend 2", our iPXE scripts) → 52:54:00:12:34:56
bootif_mac() {
    printf '%s' "${DL_BOOTIF#01-}" | tr 'A-F-' 'a-f:'
}

iface_with_mac() {
    local _n
    for _n in "${DL_SYSFS:-/sys}"/class/net/*; do
        [ "$(cat "$_n/address" 2>/dev/null)" = "$1" ] && { echo "${_n##*/}"; return 0; }
    done
    return 1
}

pick_interface() {
    local _mac _n _i
    DL_IFACE=""
    if [ -n "$DL_BOOTIF" ]; then
        _mac=$(bootif_mac)
        # coldplug waited for it; should it have gone (a driver re-probing), scan the buses again.
        DL_IFACE=$(iface_with_mac "$_mac") || { wait_for_devices "mac $_mac"; DL_IFACE=$(iface_with_mac "$_mac"); }
        [ -n "$DL_IFACE" ] || { cause "BOOTIF names $_mac but no interface has that address after ${DL_COLDPLUG_WAITED_MS} ms (have: $(cat /sys/class/net/*/address | tr '\n' ' '))"; return; }
        info "interface $DL_IFACE has the boot MAC $_mac (BOOTIF)"
        return 0
    fi
    # Without BOOTIF: the first interface that gets link.
    for _n in /sys/class/net/*; do [ "${_n##*/}" = lo ] || ip link set "${_n##*/}" up; done
    _i=0
    while [ $_i -lt 100 ]; do
        for _n in /sys/class/net/*; do
            [ "${_n##*/}" = lo ] && continue
            [ "$(cat "$_n/carrier" 2>/dev/null)" = 1 ] && { DL_IFACE=${_n##*/}; info "interface $DL_IFACE has link"; return 0; }
        done
        sleep 0.1; _i=$((_i + 1))
    done
    cause "no interface got link within 10 s"
}

network_up() {
    local _ipdev
    mkdir -p "$DL_NET_DIR"
    _ipdev=""
    case "$DL_IP" in
        *:*:*:*:*:*) _ipdev=$(printf '%s' "$DL_IP" | cut -d: -f6) ;;
    esac
    if [ -n "$_ipdev" ] && [ -z "$DL_BOOTIF" ]; then DL_IFACE=$_ipdev; else pick_interface || return; fi
    DL_MAC=$(cat "/sys/class/net/$DL_IFACE/address")
    ip link set lo up
    # A bonded and/or VLAN boot link (rd.diskless.bond, rd.diskless.vlan): DHCP runs on the top.
    if [ -n "$DL_BOND" ]; then make_bond || return; fi
    if [ -n "$DL_VLAN" ]; then make_vlan || return; fi
    ip link set "$DL_IFACE" up || { cause "cannot bring $DL_IFACE up"; return; }
    case "$DL_IP" in
        ""|dhcp|on|any|both) dhcp_with_retry || return ;;
        off|none) cause "ip=$DL_IP: a diskless node needs the network"; return ;;
        *) static_ip || return ;;
    esac
    . "$DL_NET_DIR/lease.env"
    [ "$DL_BOND" = active-backup ] && bond_arp_monitor
    DL_NET_UP=1
    info "network: $DL_IFACE $NET_IP/$NET_PREFIX gateway ${NET_ROUTER:-none} dns ${NET_DNS:-none} host ${NET_HOSTNAME:-unset}"
    return 0
}

dhcp_with_retry() {
    local _start _try
    _start=$(now_ms)
    _try=1
    while :; do
        # -x 61 is omitted on purpose: servers match reservations by chaddr, as dnsmasq and ISC do.
        if udhcpc -i "$DL_IFACE" -f -q -n -t 4 -T 2 -V "Diskless-initramfs" -O rootpath -O hostname -O domain \
            -s "$DL_LIB/udhcpc.script" >> "$DL_LOG" 2>&1 && [ -s "$DL_NET_DIR/lease.env" ]; then
            return 0
        fi
        if [ $(( ($(now_ms) - _start) / 1000 )) -ge "$DL_RETRY" ]; then
            cause "no DHCP answer on $DL_IFACE after $_try attempts in ${DL_RETRY}s"
            return
        fi
        info "no DHCP answer on $DL_IFACE yet (attempt $_try); retrying"
        _try=$((_try + 1))
    done
}

# ip=<client-ip>:<server-ip>:<gw-ip>:<netmask>:<hostname>:<device>:<autoconf>:<dns0>:<dns1>
static_ip() {
    local _old_ifs _ip _gw _mask _host _dns0 _dns1 _prefix
    _old_ifs=$IFS
    IFS=:
    set -- $DL_IP
    IFS=$_old_ifs
    _ip=$1 _gw=$3 _mask=$4 _host=$5 _dns0=$8 _dns1=$9
    [ -n "$_ip" ] && [ -n "$_mask" ] || { cause "ip=$DL_IP: need at least client-ip and netmask"; return; }
    _prefix=$(ipcalc -p "$_ip" "$_mask" 2>/dev/null | cut -d= -f2)
    [ -n "$_prefix" ] || { cause "ip=$DL_IP: bad netmask $_mask"; return; }
    ip addr add "$_ip/$_prefix" dev "$DL_IFACE" || { cause "cannot set $_ip/$_prefix on $DL_IFACE"; return; }
    [ -n "$_gw" ] && ip route add default via "$_gw" dev "$DL_IFACE"
    write_lease_env static "$_ip" "$_prefix" "$_mask" "$_gw" "$_dns0${_dns1:+ $_dns1}" "$_host" "" "" ""
}

# Whole seconds since boot (the clock leases are timed by: wall time may jump when set).
uptime_s() {
    cut -d. -f1 "${DL_UPTIME_FILE:-/proc/uptime}"
}

# write_lease_env SOURCE IP PREFIX MASK ROUTER DNS HOSTNAME DOMAIN ROOTPATH SERVERID LEASE
write_lease_env() {
    local _f
    _f=$DL_NET_DIR/lease.env.tmp
    {
        printf 'NET_SOURCE=%s\n' "$(shquote "$1")"
        printf 'NET_IFACE=%s\n' "$(shquote "$DL_IFACE")"
        printf 'NET_IP=%s\n' "$(shquote "$2")"
        printf 'NET_PREFIX=%s\n' "$(shquote "$3")"
        printf 'NET_MASK=%s\n' "$(shquote "$4")"
        printf 'NET_ROUTER=%s\n' "$(shquote "$5")"
        printf 'NET_DNS=%s\n' "$(shquote "$6")"
        printf 'NET_HOSTNAME=%s\n' "$(shquote "$7")"
        printf 'NET_DOMAIN=%s\n' "$(shquote "$8")"
        printf 'NET_ROOTPATH=%s\n' "$(shquote "$9")"
        printf 'NET_SERVERID=%s\n' "$(shquote "${10}")"
        printf 'NET_LEASE=%s\n' "$(shquote "${11}")"
        # When the lease was bound, in seconds since boot: the handoff renews a lease half used.
        printf 'NET_BOUND_AT=%s\n' "$(shquote "$(uptime_s)")"
    } > "$_f" && mv "$_f" "$DL_NET_DIR/lease.env"
}

DL_BOND_IF=bond0

# The NICs rd.diskless.bond.slaves names (MACs written with "-", or name globs), the boot NIC
# first so the bond takes its MAC (the one the inventory knows). Prints them, one per line.
bond_slaves() {
    local _e _n _mac _out _i
    _out=""
    # One entry a line, read as data: a MAC, or a pattern matched against interface names.
    while IFS= read -r _e; do
        case "$_e" in
            "") ;;
            [0-9a-fA-F][0-9a-fA-F]-[0-9a-fA-F][0-9a-fA-F]-*)
                _mac=$(printf '%s' "$_e" | tr 'A-F-' 'a-f:')
                _n=$(iface_with_mac "$_mac") || { info "bond: no interface has MAC $_mac"; continue; }
                _out="$_out $_n" ;;
            *)
                for _i in "${DL_SYSFS:-/sys}"/class/net/*; do
                    _n=${_i##*/}
                    case "$_n" in lo|bond*|*.*) continue ;; esac
                    # shellcheck disable=SC2254
                    case "$_n" in $_e) _out="$_out $_n" ;; esac
                done ;;
        esac
    done <<SLAVES
$(printf '%s' "$DL_BOND_SLAVES" | tr ',' '\n')
SLAVES
    # Each NIC once, the boot NIC first.
    for _n in $_out; do [ "$_n" = "$DL_IFACE" ] && echo "$_n"; done | head -n 1
    for _n in $_out; do [ "$_n" = "$DL_IFACE" ] || echo "$_n"; done | awk '!seen[$0]++'
}

# bond0 over the NICs named, in mode rd.diskless.bond (active-backup or 802.3ad), link state
# watched every 100 ms; DL_IFACE becomes bond0.
make_bond() {
    local _b _s _slaves _n
    case "$DL_BOND" in active-backup|802.3ad) ;; *) cause "rd.diskless.bond=$DL_BOND: expected active-backup or 802.3ad"; return ;; esac
    _slaves=$(bond_slaves)
    _n=$(printf '%s\n' "$_slaves" | grep -c .)
    [ "$_n" -ge 1 ] || { cause "rd.diskless.bond.slaves=$DL_BOND_SLAVES names no interface here (have: $(ls /sys/class/net | tr '\n' ' '))"; return; }
    modprobe -q bonding max_bonds=0
    [ -e "${DL_SYSFS:-/sys}/class/net/bonding_masters" ] || { cause "no bonding driver in this initrd"; return; }
    [ -e "${DL_SYSFS:-/sys}/class/net/$DL_BOND_IF" ] || echo "+$DL_BOND_IF" > "${DL_SYSFS:-/sys}/class/net/bonding_masters" || { cause "cannot create $DL_BOND_IF"; return; }
    _b=${DL_SYSFS:-/sys}/class/net/$DL_BOND_IF/bonding
    echo "$DL_BOND" > "$_b/mode" || { cause "cannot set bonding mode $DL_BOND"; return; }
    echo 100 > "$_b/miimon"
    [ "$DL_BOND" = 802.3ad ] && echo fast > "$_b/lacp_rate"
    for _s in $_slaves; do
        ip link set "$_s" down
        echo "+$_s" > "$_b/slaves" || info "bond: cannot enslave $_s"
    done
    [ "$DL_BOND" = active-backup ] && printf '%s\n' "$_slaves" | head -n 1 > "$_b/primary"
    DL_BOND_MEMBERS=$(cat "$_b/slaves")
    [ -n "$DL_BOND_MEMBERS" ] || { cause "no NIC could join $DL_BOND_IF"; return; }
    DL_IFACE=$DL_BOND_IF
    info "bond $DL_BOND_IF ($DL_BOND) over $DL_BOND_MEMBERS"
    DL_STAGE_DETAIL="${DL_STAGE_DETAIL:+$DL_STAGE_DETAIL }bond=$DL_BOND slaves=$(printf '%s' "$DL_BOND_MEMBERS" | tr ' ' ',')"
    return 0
}

# Carrier alone misses a dead switch port or a link cut further up: once the lease names an
# on-link router or DHCP server, active-backup probes it by ARP each second instead.
bond_arp_monitor() {
    local _t _b
    _b=${DL_SYSFS:-/sys}/class/net/$DL_BOND_IF/bonding
    for _t in "$NET_ROUTER" "$NET_SERVERID"; do
        [ -n "$_t" ] && valid_ipv4 "$_t" || continue
        [ "$(ipcalc -n "$_t" "$NET_MASK" 2>/dev/null)" = "$(ipcalc -n "$NET_IP" "$NET_MASK" 2>/dev/null)" ] || continue
        echo 0 > "$_b/miimon"
        echo 1000 > "$_b/arp_interval"
        echo "+$_t" > "$_b/arp_ip_target"
        DL_BOND_ARP_TARGET=$_t
        info "bond $DL_BOND_IF: ARP monitoring of $_t"
        return 0
    done
    return 0
}

# PARENT.ID, 802.1Q on top of the boot link; DL_IFACE becomes it.
make_vlan() {
    local _v
    case "$DL_VLAN" in ''|*[!0-9]*) cause "rd.diskless.vlan=$DL_VLAN: expected a VLAN id (1-4094)"; return ;; esac
    [ "$DL_VLAN" -ge 1 ] && [ "$DL_VLAN" -le 4094 ] || { cause "rd.diskless.vlan=$DL_VLAN: expected a VLAN id (1-4094)"; return; }
    modprobe -q 8021q
    _v=$DL_IFACE.$DL_VLAN
    ip link set "$DL_IFACE" up
    ip link add link "$DL_IFACE" name "$_v" type vlan id "$DL_VLAN" || { cause "cannot create VLAN $DL_VLAN on $DL_IFACE (is 8021q in the initrd?)"; return; }
    DL_VLAN_PARENT=$DL_IFACE DL_IFACE=$_v
    info "VLAN $DL_VLAN on $DL_VLAN_PARENT: $DL_IFACE"
    DL_STAGE_DETAIL="${DL_STAGE_DETAIL:+$DL_STAGE_DETAIL }vlan=$DL_VLAN"
    return 0
}

# systemd-networkd must keep the bond and VLAN /init made, and not enslave or re-add them:
# .netdev files describe them as they are, .network files tie the NICs to the bond and the
# VLAN to its parent. The addressed top interface gets the usual keep-the-lease file.
hand_over_stack() {
    local _d _s _mac _parent
    _d=$DL_RUN/systemd/network
    mkdir -p "$_d"
    if [ -n "$DL_BOND_MEMBERS" ]; then
        {
            echo "# Written by the Diskless initramfs: the bond that carries the root filesystem."
            echo "[NetDev]"; echo "Name=$DL_BOND_IF"; echo "Kind=bond"
            echo "[Bond]"; echo "Mode=$DL_BOND"
            if [ -n "$DL_BOND_ARP_TARGET" ]; then echo "ARPIntervalSec=1s"; echo "ARPIPTargets=$DL_BOND_ARP_TARGET"
            else echo "MIIMonitorSec=100ms"; fi
            [ "$DL_BOND" = 802.3ad ] && echo "LACPTransmitRate=fast"
        } > "$_d/10-diskless-$DL_BOND_IF.netdev"
        for _s in $DL_BOND_MEMBERS; do
            _mac=$(cat "${DL_SYSFS:-/sys}/class/net/$_s/bonding_slave/perm_hwaddr" 2>/dev/null || cat "${DL_SYSFS:-/sys}/class/net/$_s/address")
            {
                echo "# Written by the Diskless initramfs: a member of $DL_BOND_IF."
                echo "[Match]"; echo "PermanentMACAddress=$_mac"
                echo "[Network]"; echo "Bond=$DL_BOND_IF"
            } > "$_d/10-diskless-$_s.network"
        done
    fi
    if [ -n "$DL_VLAN_PARENT" ]; then
        {
            echo "# Written by the Diskless initramfs: the VLAN that carries the root filesystem."
            echo "[NetDev]"; echo "Name=$NET_IFACE"; echo "Kind=vlan"
            echo "[VLAN]"; echo "Id=$DL_VLAN"
        } > "$_d/10-diskless-$NET_IFACE.netdev"
        _parent=$DL_VLAN_PARENT
        if [ "$_parent" = "$DL_BOND_IF" ]; then
            # The bond's own .network: it carries the VLAN, no address of its own.
            printf '[Match]\nName=%s\n[Network]\nVLAN=%s\nLinkLocalAddressing=no\n' "$_parent" "$NET_IFACE" > "$_d/10-diskless-$_parent.network"
        else
            printf '[Match]\nName=%s\n[Network]\nVLAN=%s\nLinkLocalAddressing=no\nKeepConfiguration=yes\n' "$_parent" "$NET_IFACE" > "$_d/10-diskless-$_parent.network"
        fi
    fi
    return 0
}
