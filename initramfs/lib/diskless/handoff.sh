# Prepare the real system: its kernel modules, its name, the network it must not tear down,
# and a unit that reports "booted" to the server; then switch_root.

DL_NEWROOT=${DL_NEWROOT:-/newroot}
# Where this initramfs's /run is (moved into the new root at switch_root).
DL_RUN=${DL_RUN:-/run}

handoff() {
    # _writable is read by provide_modules and hand_over_network, which handoff calls (a local
    # is seen by the functions it calls).
    local _writable
    DL_NET_MANAGER=$(image_network_manager)
    renew_lease_if_due
    check_lease_values
    [ -x "$DL_NEWROOT$DL_INIT" ] || [ -L "$DL_NEWROOT$DL_INIT" ] || { cause "the root has no $DL_INIT (wrong image, or init= points elsewhere)"; return; }
    _writable=1
    touch "$DL_NEWROOT/.diskless-write-test" 2>/dev/null && rm -f "$DL_NEWROOT/.diskless-write-test" || _writable=""
    [ -n "$_writable" ] || info "the root is read-only (rd.diskless.overlay=none): no per-boot files written"
    provide_modules
    [ -n "$_writable" ] && set_hostname
    hand_over_network
    [ -n "$_writable" ] && install_booted_unit
    [ -n "$_writable" ] && install_ssh_host_keys_unit
    return 0
}

# The lease's values go into the real system's files (/etc/hosts, resolv.conf, networkd and
# initramfs-tools' net-IFACE.conf, which Debian's scripts source and copy on). Names must be
# DNS names and addresses IPv4 addresses; anything else (a line break adding a hosts entry or
# a resolver option, a quote, "$(…)") is left out with a log line and the boot goes on without
# it. lease.env keeps what DHCP said, quoted. The root path (option 17) goes nowhere else:
# the root comes from root= on the command line.
check_lease_values() {
    local _servers _d
    if [ -n "$NET_HOSTNAME" ] && ! valid_dns_name "$NET_HOSTNAME"; then
        info "ignoring the host name from DHCP: not a valid host name"; NET_HOSTNAME=""
    fi
    if [ -n "$NET_DOMAIN" ] && ! valid_dns_name "$NET_DOMAIN"; then
        info "ignoring the domain name from DHCP: not a valid domain name"; NET_DOMAIN=""
    fi
    if [ -n "$NET_ROUTER" ] && ! valid_ipv4 "$NET_ROUTER"; then
        info "ignoring the router from DHCP: not an IPv4 address"; NET_ROUTER=""
    fi
    if [ -n "$NET_SERVERID" ] && ! valid_ipv4 "$NET_SERVERID"; then
        info "ignoring the server id from DHCP: not an IPv4 address"; NET_SERVERID=""
    fi
    _servers=""
    set -f
    for _d in $NET_DNS; do
        if valid_ipv4 "$_d"; then _servers="${_servers:+$_servers }$_d"; else info "ignoring a DNS server from DHCP: not an IPv4 address"; fi
    done
    set +f
    NET_DNS=$_servers
    return 0
}

# An image without a kernel package has no /lib/modules of its own; give it this initrd's.
provide_modules() {
    local _v
    _v=$(uname -r)
    if [ -d "$DL_NEWROOT/lib/modules/$_v" ] || [ -d "$DL_NEWROOT/usr/lib/modules/$_v" ]; then
        return 0
    fi
    if [ -z "$_writable" ]; then
        info "warning: the image has no modules for kernel $_v and the root is read-only"
        return 0
    fi
    mkdir -p "$DL_NEWROOT/lib/modules"
    cp -a "/lib/modules/$_v" "$DL_NEWROOT/lib/modules/" && info "the image has no modules for $_v: copied the initrd's"
}

set_hostname() {
    local _short _fqdn
    [ -n "$NET_HOSTNAME" ] || return 0
    # check_lease_values dropped a bad name already; this keeps set_hostname safe on its own.
    valid_dns_name "$NET_HOSTNAME" || { info "ignoring the host name from DHCP: not a valid host name"; return 0; }
    printf '%s\n' "$NET_HOSTNAME" > "$DL_NEWROOT/etc/hostname"
    hostname "$NET_HOSTNAME"
    # Debian's convention: the node's own name resolves without DNS (sudo, mail, …).
    _short=${NET_HOSTNAME%%.*}
    _fqdn=$NET_HOSTNAME
    [ "$_fqdn" = "$_short" ] && [ -n "$NET_DOMAIN" ] && valid_dns_name "$_short.$NET_DOMAIN" && _fqdn="$_short.$NET_DOMAIN"
    # The image's own 127.0.1.1 line names the machine it was built on: replace it.
    [ -f "$DL_NEWROOT/etc/hosts" ] && sed -i '/^127\.0\.1\.1[[:space:]]/d' "$DL_NEWROOT/etc/hosts"
    if [ "$_fqdn" = "$_short" ]; then
        printf '127.0.1.1\t%s\n' "$_short" >> "$DL_NEWROOT/etc/hosts"
    else
        printf '127.0.1.1\t%s %s\n' "$_fqdn" "$_short" >> "$DL_NEWROOT/etc/hosts"
    fi
}

# The real system's own client (networkd, NetworkManager) starts afresh once the system is up;
# until then the lease keeper bridges (lease-keeper.sh), from switch_root on. Before that, a
# lease a quarter used by now (fetching a live root takes a while) is renewed here, so the
# initramfs never runs on a lapsed lease and NetworkManager is handed the address with a fresh
# lease's remaining time (write_nm_connection). An image with no manager gets the keeper for
# good, whose start asks the server at once: nothing to do for it. The address stays on the
# interface throughout (udhcpc.script, DL_RENEWING); no answer leaves the lease as it was,
# with a log line.
renew_lease_if_due() {
    local _age
    [ "$NET_SOURCE" = dhcp ] || return 0
    case "$DL_NET_MANAGER" in networkd|NetworkManager) ;; *) return 0 ;; esac
    case "$NET_LEASE$NET_BOUND_AT" in ''|*[!0-9]*) return 0 ;; esac
    _age=$(( $(uptime_s) - NET_BOUND_AT ))
    # A quarter of the lease: a boot with the default lease time never asks again.
    [ $(( _age * 4 )) -ge "$NET_LEASE" ] || return 0
    info "the lease on $NET_IFACE is ${_age} s old of ${NET_LEASE} s: renewing it before the real system starts"
    if DL_RENEWING=1 udhcpc -i "$NET_IFACE" -f -q -n -t 3 -T 2 -r "$NET_IP" -V "Diskless-initramfs" -O rootpath -O hostname -O domain \
        -s "$DL_LIB/udhcpc.script" >> "$DL_LOG" 2>&1; then
        . "$DL_NET_DIR/lease.env"
        info "lease renewed: $NET_IP for ${NET_LEASE} s"
        DL_STAGE_DETAIL="${DL_STAGE_DETAIL:+$DL_STAGE_DETAIL }lease_renewed=1"
    else
        info "warning: no DHCP answer to the renewal on $NET_IFACE; the real system's client asks again"
    fi
    return 0
}

# The lease's remaining seconds (0 when it is over or its times are unknown).
lease_remaining() {
    local _left
    case "$NET_LEASE$NET_BOUND_AT" in ''|*[!0-9]*) echo 0; return 0 ;; esac
    _left=$(( NET_LEASE - ($(uptime_s) - NET_BOUND_AT) ))
    [ "$_left" -gt 0 ] || _left=0
    echo "$_left"
}

# The real system must keep the interface that carries its root, and keep its lease alive as
# long as it runs: a network tool that released the lease or took the interface down would cut
# the node off from its root, and a lease nobody renews expires after dhcp.lease_time, when the
# server may give the address to another machine. Whatever the image runs renews it: networkd
# and NetworkManager are handed the interface with DHCP and told to keep the address; an image
# that runs neither (or ifupdown, whose ifdown would release the lease and deconfigure the
# interface at shutdown) gets the lease keeper, busybox udhcpc left running by this initramfs.
hand_over_network() {
    local _d _manager _nm
    # initramfs-tools' format, read by Debian's scripts (values quoted: it gets sourced).
    {
        printf 'DEVICE=%s\n' "$(shquote "$NET_IFACE")"
        printf 'IPV4ADDR=%s\n' "$(shquote "$NET_IP")"
        printf 'IPV4NETMASK=%s\n' "$(shquote "$NET_MASK")"
        printf 'IPV4GATEWAY=%s\n' "$(shquote "$NET_ROUTER")"
        printf 'IPV4DNS0=%s\n' "$(shquote "${NET_DNS%% *}")"
        printf 'HOSTNAME=%s\n' "$(shquote "$NET_HOSTNAME")"
        printf 'DNSDOMAIN=%s\n' "$(shquote "$NET_DOMAIN")"
        printf 'ROOTSERVER=%s\n' "$(shquote "$NET_SERVERID")"
        printf 'PROTO=%s\n' "$(shquote "$NET_SOURCE")"
    } > "$DL_RUN/net-$NET_IFACE.conf"
    _manager=$DL_NET_MANAGER
    DL_LEASE_KEEPER=""
    write_networkd_config "$_manager"
    write_udev_link
    [ -z "$DL_BOND_MEMBERS$DL_VLAN_PARENT" ] || hand_over_stack
    _nm=""
    [ "$_manager" = NetworkManager ] && write_nm_connection && _nm=1
    if [ "$NET_SOURCE" != dhcp ]; then
        DL_LEASE_RENEWAL=none
    elif [ "$_manager" = networkd ] || [ -n "$_nm" ]; then
        DL_LEASE_RENEWAL=$_manager
        # The keeper bridges the system's start, until the manager runs (lease-keeper.sh).
        DL_LEASE_KEEPER=$_manager
        prepare_lease_keeper
    else
        DL_LEASE_RENEWAL=keeper DL_LEASE_KEEPER=1
        prepare_lease_keeper
    fi
    info "network: the real system runs ${_manager}; lease renewal: $DL_LEASE_RENEWAL"
    DL_STAGE_DETAIL="${DL_STAGE_DETAIL:+$DL_STAGE_DETAIL }network_manager=$_manager lease_renewal=$DL_LEASE_RENEWAL"
    [ -n "$_writable" ] || return 0
    # ifupdown: "manual" means configured elsewhere, so ifdown at shutdown leaves it alone.
    # Not for NetworkManager, whose ifupdown plugin leaves interfaces listed there unmanaged.
    if [ -d "$DL_NEWROOT/etc/network" ] && [ "$_manager" != NetworkManager ]; then
        mkdir -p "$DL_NEWROOT/etc/network/interfaces.d"
        printf '# Written by the Diskless initramfs: %s carries the root filesystem.\nallow-hotplug %s\niface %s inet manual\n' \
            "$NET_IFACE" "$NET_IFACE" "$NET_IFACE" > "$DL_NEWROOT/etc/network/interfaces.d/diskless-$NET_IFACE"
    fi
    if [ -n "$NET_DNS" ] && [ ! -L "$DL_NEWROOT/etc/resolv.conf" ]; then
        {
            [ -n "$NET_DOMAIN" ] && printf 'search %s\n' "$NET_DOMAIN"
            set -f
            for _d in $NET_DNS; do printf 'nameserver %s\n' "$_d"; done
            set +f
        } > "$DL_NEWROOT/etc/resolv.conf"
    fi
    return 0
}

# unit_enabled NAME: the image starts systemd unit NAME at boot: `systemctl enable` linked it
# into a .wants directory, and it is not masked (a link to /dev/null, or an empty file).
unit_enabled() {
    local _d _w
    # systemd.mask=UNIT on the kernel command line (".service" may be left out): never started.
    set -f
    for _w in $DL_SYSTEMD_MASK; do
        case "$_w" in "$1"|"$1.service") set +f; return 1 ;; esac
        [ "$_w.service" = "$1" ] && { set +f; return 1; }
    done
    set +f
    for _d in etc/systemd/system run/systemd/system; do
        _w=$DL_NEWROOT/$_d/$1
        [ -L "$_w" ] && [ "$(readlink "$_w")" = /dev/null ] && return 1
        [ -f "$_w" ] && [ ! -L "$_w" ] && [ ! -s "$_w" ] && return 1
    done
    for _w in "$DL_NEWROOT"/etc/systemd/system/*.wants/"$1" "$DL_NEWROOT"/lib/systemd/system/*.wants/"$1" "$DL_NEWROOT"/usr/lib/systemd/system/*.wants/"$1"; do
        # -L: the links are absolute, so they resolve only inside the new root.
        { [ -L "$_w" ] || [ -e "$_w" ]; } && return 0
    done
    return 1
}

# What configures the network in the real system: NetworkManager, networkd, ifupdown or none.
image_network_manager() {
    if unit_enabled NetworkManager.service; then echo NetworkManager
    elif unit_enabled systemd-networkd.service || unit_enabled systemd-networkd.socket; then echo networkd
    elif [ -f "$DL_NEWROOT/etc/network/interfaces" ] && { [ -e "$DL_NEWROOT/sbin/ifup" ] || [ -e "$DL_NEWROOT/usr/sbin/ifup" ]; }; then echo ifupdown
    else echo none
    fi
}

# systemd-networkd: keep the address the initramfs configured (Address=, KeepConfiguration=yes:
# never dropped, not at start, not when the lease expires, not when networkd stops at shutdown),
# and, when networkd is the image's network manager, run DHCP on it so the lease is renewed at
# T1 and rebound at T2. The client identifier is the MAC, as udhcpc sent it, so a DHCP server
# that keys leases by it (a site's own, in proxy mode) sees the same client and gives it the
# same address; no RELEASE, ever.
write_networkd_config() {
    mkdir -p "$DL_RUN/systemd/network"
    {
        echo "# Written by the Diskless initramfs: this interface carries the root filesystem."
        echo "[Match]"
        # A bond or VLAN shares its MAC with its NICs: match it by name.
        if [ -n "$DL_BOND_MEMBERS$DL_VLAN_PARENT" ]; then echo "Name=$NET_IFACE"; else echo "MACAddress=$DL_MAC"; fi
        echo "[Network]"
        echo "Address=$NET_IP/$NET_PREFIX"
        [ -n "$NET_ROUTER" ] && echo "Gateway=$NET_ROUTER"
        [ "$1" = networkd ] && [ "$NET_SOURCE" = dhcp ] && echo "DHCP=ipv4"
        echo "KeepConfiguration=yes"
        echo "[DHCPv4]"
        echo "SendRelease=no"
        if [ "$1" = networkd ] && [ "$NET_SOURCE" = dhcp ]; then
            echo "ClientIdentifier=mac"
            # The initramfs named the machine from the same lease already.
            echo "UseHostname=no"
        fi
    } > "$DL_RUN/systemd/network/10-diskless-$NET_IFACE.network"
}

# udev in the real system renames network interfaces by its naming policy (eth0 becomes
# enp0s1), but the kernel refuses to rename an interface that is up, as the boot interface is.
# systemd 252's udev then logs "is already up, cannot rename" and leaves ID_RENAMING set in
# the device's database, and networkd waits for a rename that never comes: the link stays
# pending, its DHCP client never starts and the lease is never renewed. A .link file that
# names the boot interface as it is already named asks for no rename. udev applies only the
# first .link file that matches, so this one (00-) also keeps the default's alternative names
# (`ip link` shows enp0s1 as an altname) and never changes the MAC (MACAddressPolicy=none).
# OriginalName= keeps it off a VLAN or bond that shares the boot NIC's MAC.
# A bond's members and a VLAN's parent are up too (they carry it) and get one each, matched
# by the NIC's permanent MAC: a bond gives all its members its own.
write_udev_link() {
    local _s
    udev_link "$NET_IFACE" MACAddress "$DL_MAC"
    for _s in $DL_BOND_MEMBERS; do
        udev_link "$_s" PermanentMACAddress "$(perm_mac "$_s")"
    done
    [ -n "$DL_VLAN_PARENT" ] && [ "$DL_VLAN_PARENT" != "$DL_BOND_IF" ] && udev_link "$DL_VLAN_PARENT" PermanentMACAddress "$(perm_mac "$DL_VLAN_PARENT")"
    return 0
}

# The NIC's own MAC (a bond member's current one is the bond's).
perm_mac() {
    cat "${DL_SYSFS:-/sys}/class/net/$1/bonding_slave/perm_hwaddr" 2>/dev/null || cat "${DL_SYSFS:-/sys}/class/net/$1/address"
}

# udev_link NAME MATCH-KEY MAC: a .link file keeping interface NAME's name.
udev_link() {
    case $1 in
        ''|*[!A-Za-z0-9_.-]*) info "an interface of the boot link has a name that is not plain: udev may try to rename it"; return 0 ;;
    esac
    case $3 in
        *[!0-9a-fA-F:]*|'') info "interface $1 has no MAC to match: udev may try to rename it"; return 0 ;;
    esac
    mkdir -p "$DL_RUN/systemd/network"
    {
        echo "# Written by the Diskless initramfs: this interface carries the root filesystem and"
        echo "# is up, so it keeps the name it booted with."
        echo "[Match]"
        echo "$2=$3"
        echo "OriginalName=$1"
        echo "[Link]"
        echo "Name=$1"
        echo "AlternativeNamesPolicy=database onboard slot path"
        echo "MACAddressPolicy=none"
    } > "$DL_RUN/systemd/network/00-diskless-$1.link"
}

# A value for a NetworkManager keyfile (GKeyFile rules): a backslash is written doubled, a
# leading blank escaped, line breaks and other control characters cannot be written at all.
nm_value() {
    case "$1" in *[[:cntrl:]]*) return 1 ;; esac
    printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/^ /\\s/'
}

# NetworkManager: connections for the boot link, in /run so they last this boot only: the
# addressed interface (a NIC, the bond or the VLAN), and under it the bond's members and the
# VLAN's parent as /init made them, so NetworkManager keeps the stack rather than taking it
# apart. NetworkManager assumes a configured interface only when what it finds matches a
# connection: a DHCP connection matches an address with a lifetime (a dynamic one), so the
# address is given the lease's remaining time, and NetworkManager's device state names the
# connection, as NetworkManager's own initrd leaves them. It then keeps the address, renews
# the lease itself at T1, never gives up asking (dhcp-timeout infinity), sends no RELEASE, and
# leaves the interfaces configured when it stops (keep-configuration, said again in /run in
# case the image's own configuration says otherwise).
write_nm_connection() {
    local _n _uuid _ifindex _left _match _type
    for _n in "$NET_IFACE" "$DL_MAC" $DL_BOND_MEMBERS $DL_VLAN_PARENT; do
        nm_value "$_n" > /dev/null || { info "an interface of the boot link has a name that cannot go into a NetworkManager keyfile"; return 1; }
    done
    mkdir -p "$DL_RUN/NetworkManager/system-connections" "$DL_RUN/NetworkManager/conf.d" "$DL_RUN/NetworkManager/devices"
    _uuid=$(cat /proc/sys/kernel/random/uuid 2>/dev/null)
    _type=ethernet
    [ -n "$DL_BOND_MEMBERS" ] && [ "$NET_IFACE" = "$DL_BOND_IF" ] && _type=bond
    [ -n "$DL_VLAN_PARENT" ] && _type=vlan
    {
        nm_connection "$NET_IFACE" "$_type" "$_uuid"
        case $_type in
            ethernet) printf '[ethernet]\nmac-address=%s\n' "$(nm_value "$DL_MAC")" ;;
            bond) nm_bond_section ;;
            vlan) printf '[vlan]\nparent=%s\nid=%s\n' "$(nm_value "$DL_VLAN_PARENT")" "$DL_VLAN" ;;
        esac
        echo "[ipv4]"
        if [ "$NET_SOURCE" = dhcp ]; then
            echo "method=auto"
            echo "dhcp-client-id=mac"
            echo "dhcp-timeout=2147483647"
            echo "dhcp-send-release=false"
        else
            echo "method=manual"
            echo "address1=$NET_IP/$NET_PREFIX${NET_ROUTER:+,$NET_ROUTER}"
        fi
        echo "may-fail=false"
        echo "[ipv6]"
        echo "method=ignore"
    } | nm_keyfile "$NET_IFACE"
    _match="interface-name:$(nm_value "$NET_IFACE")"
    # The VLAN's parent: a NIC or the bond, with no address of its own.
    if [ -n "$DL_VLAN_PARENT" ]; then
        {
            if [ "$DL_VLAN_PARENT" = "$DL_BOND_IF" ] && [ -n "$DL_BOND_MEMBERS" ]; then
                nm_connection "$DL_VLAN_PARENT" bond ""
                nm_bond_section
            else
                nm_connection "$DL_VLAN_PARENT" ethernet ""
                printf '[ethernet]\nmac-address=%s\n' "$(nm_value "$(perm_mac "$DL_VLAN_PARENT")")"
            fi
            printf '[ipv4]\nmethod=disabled\n[ipv6]\nmethod=ignore\n'
        } | nm_keyfile "$DL_VLAN_PARENT"
        _match="$_match,interface-name:$(nm_value "$DL_VLAN_PARENT")"
    fi
    for _n in $DL_BOND_MEMBERS; do
        {
            nm_connection "$_n" ethernet ""
            printf 'master=%s\nslave-type=bond\n' "$(nm_value "$DL_BOND_IF")"
            printf '[ethernet]\nmac-address=%s\n' "$(nm_value "$(perm_mac "$_n")")"
        } | nm_keyfile "$_n"
        _match="$_match,interface-name:$(nm_value "$_n")"
    done
    {
        echo "# Written by the Diskless initramfs: these interfaces carry the root filesystem."
        echo "[device-diskless]"
        echo "match-device=$_match"
        echo "keep-configuration=yes"
    } > "$DL_RUN/NetworkManager/conf.d/90-diskless.conf"
    _ifindex=$(cat "${DL_SYSFS:-/sys}/class/net/$NET_IFACE/ifindex" 2>/dev/null)
    case "$_ifindex" in ''|*[!0-9]*) ;; *)
        if [ -n "$_uuid" ]; then
            printf '# Written by the Diskless initramfs.\n[device]\nmanaged=true\nconnection-uuid=%s\nnm-owned=false\n' "$_uuid" \
                > "$DL_RUN/NetworkManager/devices/$_ifindex"
        fi ;;
    esac
    if [ "$NET_SOURCE" = dhcp ]; then
        _left=$(lease_remaining)
        if [ "$_left" -gt 0 ]; then
            ip addr change "$NET_IP/$NET_PREFIX" dev "$NET_IFACE" valid_lft "$_left" preferred_lft "$_left" \
                || info "warning: cannot give $NET_IP on $NET_IFACE its lease time; NetworkManager may not take it over"
        else
            info "warning: the lease on $NET_IFACE is over; NetworkManager asks for a new one"
        fi
    fi
    return 0
}

# nm_connection IFACE TYPE [UUID]: a keyfile's [connection] section for the interface.
nm_connection() {
    local _i
    _i=$(nm_value "$1")
    echo "# Written by the Diskless initramfs: this interface carries the root filesystem."
    echo "[connection]"
    echo "id=diskless-$_i"
    echo "uuid=${3:-$(cat /proc/sys/kernel/random/uuid 2>/dev/null)}"
    echo "type=$2"
    echo "interface-name=$_i"
    echo "autoconnect=true"
    echo "autoconnect-priority=999"
}

# The bond as /init made it (make_bond, bond_arp_monitor).
nm_bond_section() {
    local _first
    echo "[bond]"
    echo "mode=$DL_BOND"
    if [ -n "$DL_BOND_ARP_TARGET" ]; then
        echo "arp_interval=1000"
        echo "arp_ip_target=$DL_BOND_ARP_TARGET"
    else
        echo "miimon=100"
    fi
    if [ "$DL_BOND" = 802.3ad ]; then
        echo "lacp_rate=fast"
    else
        for _first in $DL_BOND_MEMBERS; do echo "primary=$(nm_value "$_first")"; break; done
    fi
}

# nm_keyfile IFACE: stdin into IFACE's keyfile, readable by root only (NetworkManager ignores
# keyfiles others can read).
nm_keyfile() {
    ( umask 077; cat > "$DL_RUN/NetworkManager/system-connections/diskless-$1.nmconnection" )
}

# The lease keeper for images without a network manager of their own: the initrd's busybox and
# lease-keeper.sh, carried into the real system's /run. do_switch_root starts it.
prepare_lease_keeper() {
    carry_busybox
    cp "$DL_LIB/lease-keeper.sh" "$DL_RUN/diskless/lease-keeper.sh"
    chmod 0755 "$DL_RUN/diskless/lease-keeper.sh"
}

# The lease keeper runs chrooted into the new root, so the paths it uses (/run/diskless/…) are
# the real system's once switch_root has moved that root to /; started in the initramfs's own
# root it would look for them in the initramfs, which switch_root empties. It is a child of
# PID 1 in no unit: systemd leaves it alone until the last moment of shutdown, and udhcpc
# killed then does not deconfigure the interface.
start_lease_keeper() {
    [ -n "$DL_LEASE_KEEPER" ] || return 0
    if [ "$DL_LEASE_KEEPER" = 1 ]; then
        setsid chroot "$DL_NEWROOT" /run/diskless/lease-keeper.sh start "$NET_IFACE" "$NET_IP" &
        info "lease keeper started: udhcpc renews $NET_IP on $NET_IFACE (state in /run/diskless/net/lease-keeper.state)"
    else
        setsid chroot "$DL_NEWROOT" /run/diskless/lease-keeper.sh start "$NET_IFACE" "$NET_IP" "$DL_LEASE_KEEPER" &
        info "lease keeper started: udhcpc renews $NET_IP on $NET_IFACE until $DL_LEASE_KEEPER runs"
    fi
}

# The initrd's static busybox, in the real system's /run, for what outlives the initramfs.
carry_busybox() {
    [ -x "$DL_RUN/diskless/bin/busybox" ] && return 0
    mkdir -p "$DL_RUN/diskless/bin"
    cp "${DL_BUSYBOX:-/bin/busybox}" "$DL_RUN/diskless/bin/busybox"
}

# /run/diskless/report-booted tells the server the system is up (the first of the boot servers
# that takes it): a systemd root runs it from a oneshot unit once the login prompt is there; a
# root without systemd runs it from its own init when it is up (the script is there for every
# root). It runs busybox from /run (carried over from this initramfs), so the image needs no
# wget. The report's proof is computed here, where the key is; the script holding it is root's
# only (the key itself does not outlive the initramfs).
install_booted_unit() {
    local _proof
    [ -n "$DL_SERVER" ] || return 0
    carry_busybox
    _proof=""
    [ -n "$DL_REPORT_KEY" ] && _proof="report_id=$(urlencode "$DL_REPORT_ID")&proof=$(report_proof booted ok)&"
    (
        umask 077
        {
            echo '#!/run/diskless/bin/busybox sh'
            # Every boot server, the one that answered last first (rd.diskless.peer: checked addresses).
            printf 'servers=%s\n' "$(shquote "$(server_order | tr '\n' ' ')")"
            printf 'body=%s\n' "$(shquote "mac=$(urlencode "$DL_MAC")&stage=booted&status=ok&${_proof}uptime_s=")"
            echo 'up=$(/run/diskless/bin/busybox cut -d" " -f1 /proc/uptime)'
            echo 'for server in $servers; do'
            echo '    /run/diskless/bin/busybox timeout 10 /run/diskless/bin/busybox wget -q -O /dev/null --post-data "${body}${up}" "$server/api/v1/report" && exit 0'
            echo 'done'
            echo 'exit 1'
        } > "$DL_RUN/diskless/report-booted"
    )
    chmod 0700 "$DL_RUN/diskless/report-booted"
    if [ ! -d "$DL_NEWROOT/etc/systemd/system" ]; then
        info "the root has no systemd: its init reports \"booted\" by running /run/diskless/report-booted"
        return 0
    fi
    mkdir -p "$DL_NEWROOT/etc/systemd/system/multi-user.target.wants"
    cat > "$DL_NEWROOT/etc/systemd/system/diskless-booted.service" <<'UNIT'
[Unit]
Description=Tell the Diskless server this node has booted
After=multi-user.target getty.target
ConditionPathExists=/run/diskless/report-booted

[Service]
Type=oneshot
ExecStart=/run/diskless/report-booted

[Install]
WantedBy=multi-user.target
UNIT
    ln -sf ../diskless-booted.service "$DL_NEWROOT/etc/systemd/system/multi-user.target.wants/diskless-booted.service"
}

do_switch_root() {
    local _m
    # Log and report first: /proc and /run are gone from here once moved.
    info "switching to the real system ($DL_INIT) after $(( $(now_ms) - DL_T0 )) ms in the initramfs"
    report switch_root ok "init=$DL_INIT"
    for _m in /dev /proc /sys /run; do
        mkdir -p "$DL_NEWROOT$_m"
        mount --move "$_m" "$DL_NEWROOT$_m" || { cause "cannot move $_m into the new root"; return; }
    done
    start_lease_keeper
    exec switch_root "$DL_NEWROOT" "$DL_INIT"
}

# A node that got no host keys from the server (no token: pxelinux, a machine the inventory
# does not list, a kernel handed over directly) would start sshd without any, since images
# carry none, and ssh.service would fail. Such a node makes its own before sshd starts; they
# live in the RAM overlay, so they are new at every boot, and the handoff report says
# ssh_host_keys=ephemeral. Nodes with stored identity keep the server's keys, which the identity
# stage has put in place by now (ssh_host_keys=kept).
install_ssh_host_keys_unit() {
    local _k
    [ -x "$DL_NEWROOT/usr/bin/ssh-keygen" ] && [ -d "$DL_NEWROOT/etc/systemd/system" ] || return 0
    for _k in "$DL_NEWROOT"/etc/ssh/ssh_host_*_key; do
        [ -e "$_k" ] && { DL_STAGE_DETAIL="${DL_STAGE_DETAIL:+$DL_STAGE_DETAIL }ssh_host_keys=kept"; return 0; }
    done
    cat > "$DL_NEWROOT/etc/systemd/system/diskless-ssh-host-keys.service" <<'UNIT'
[Unit]
Description=Make SSH host keys for this boot (the Diskless server holds none for this node)
DefaultDependencies=no
After=local-fs.target
Before=ssh.service sshd.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
UNIT
    mkdir -p "$DL_NEWROOT/etc/systemd/system/multi-user.target.wants"
    ln -sf ../diskless-ssh-host-keys.service "$DL_NEWROOT/etc/systemd/system/multi-user.target.wants/diskless-ssh-host-keys.service"
    info "no SSH host keys from the server: the system makes its own for this boot"
    # The timeline says so: this node's host keys change at every boot.
    DL_STAGE_DETAIL="${DL_STAGE_DETAIL:+$DL_STAGE_DETAIL }ssh_host_keys=ephemeral"
}
