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
    ip link set "$DL_IFACE" up || { cause "cannot bring $DL_IFACE up"; return; }
    case "$DL_IP" in
        ""|dhcp|on|any|both) dhcp_with_retry || return ;;
        off|none) cause "ip=$DL_IP: a diskless node needs the network"; return ;;
        *) static_ip || return ;;
    esac
    . "$DL_NET_DIR/lease.env"
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

# write_lease_env SOURCE IP PREFIX MASK ROUTER DNS HOSTNAME DOMAIN ROOTPATH SERVERID
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
    } > "$_f" && mv "$_f" "$DL_NET_DIR/lease.env"
}
