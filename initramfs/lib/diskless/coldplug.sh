# Load drivers for every device on every bus, round after round, while devices keep appearing.
# Devices appear in waves: a virtio NIC exists only once virtio_pci has probed the PCI device,
# and a USB NIC only once xhci_pci (or ehci) has loaded and the hub has enumerated it, which
# takes 1-3 s on real hardware and longer on a loaded machine. So coldplug does not stop at
# the first quiet moment:
# - with a named boot interface (BOOTIF's MAC, or the device of ip=…:DEVICE:…) it goes on
#   until that interface exists, for at most rd.diskless.netwait seconds;
# - without one, until there is a network interface and the set of devices has not changed for
#   rd.diskless.settle seconds (long enough for a hub to enumerate what is plugged into it),
#   within the same bound.

DL_SYSFS=${DL_SYSFS:-/sys}
DL_SEEN_ALIASES=${DL_SEEN_ALIASES:-/run/diskless/modaliases}

# Every device the kernel knows (its modalias) and every network interface, one per line.
device_set() {
    cat "$DL_SYSFS"/bus/*/devices/*/modalias 2>/dev/null | sort -u
    ls "$DL_SYSFS/class/net" 2>/dev/null
}

# modprobe the aliases of devices not seen before; returns 0 if there were any.
load_new_drivers() {
    local _new _a
    [ -f "$DL_SEEN_ALIASES" ] || : > "$DL_SEEN_ALIASES"
    _new=$(cat "$DL_SYSFS"/bus/*/devices/*/modalias 2>/dev/null | sort -u \
        | awk 'FILENAME == ARGV[1] { seen[$0] = 1; next } !seen[$0]' "$DL_SEEN_ALIASES" -)
    [ -n "$_new" ] || return 1
    printf '%s\n' "$_new" >> "$DL_SEEN_ALIASES"
    for _a in $_new; do
        modprobe -q "$_a" 2>/dev/null
    done
    return 0
}

# The boot interface /init was told about, as "mac XX:…" or "dev NAME"; empty when none was.
wanted_interface() {
    local _d
    if [ -n "$DL_BOOTIF" ]; then echo "mac $(bootif_mac)"; return; fi
    case "$DL_IP" in
        *:*:*:*:*:*) _d=$(printf '%s' "$DL_IP" | cut -d: -f6); [ -n "$_d" ] && echo "dev $_d" ;;
    esac
}

has_network_interface() {
    ls "$DL_SYSFS/class/net" 2>/dev/null | grep -qv '^lo$'
}

# Succeeds once the wanted interface ("mac …" or "dev …") exists.
interface_present() {
    case "$1" in
        "mac "*) iface_with_mac "${1#mac }" >/dev/null ;;
        "dev "*) [ -e "$DL_SYSFS/class/net/${1#dev }" ] ;;
        *) return 1 ;;
    esac
}

# Load drivers for new devices, round after round, until the wanted interface exists (or, with
# none named, until there is an interface and the devices have been quiet for the settle
# period). Sets DL_COLDPLUG_WAITED_MS, DL_COLDPLUG_ROUNDS and DL_COLDPLUG_OUTCOME (found,
# settled or timeout).
wait_for_devices() {
    local _want _start _deadline _settle_ms _last _quiet_since _set _now
    _want=$1
    _start=$(now_ms)
    _deadline=$((_start + DL_NETWAIT * 1000))
    _settle_ms=$((DL_SETTLE * 1000))
    _last=""
    _quiet_since=$_start
    DL_COLDPLUG_ROUNDS=0
    while :; do
        load_new_drivers
        DL_COLDPLUG_ROUNDS=$((DL_COLDPLUG_ROUNDS + 1))
        _set=$(device_set)
        _now=$(now_ms)
        if [ "$_set" != "$_last" ]; then _last=$_set; _quiet_since=$_now; fi
        if [ -n "$_want" ]; then
            interface_present "$_want" && { DL_COLDPLUG_OUTCOME=found; break; }
        elif [ $((_now - _quiet_since)) -ge "$_settle_ms" ] && has_network_interface; then
            DL_COLDPLUG_OUTCOME=settled; break
        fi
        [ "$_now" -ge "$_deadline" ] && { DL_COLDPLUG_OUTCOME=timeout; break; }
        # Let probes that run asynchronously (PCI, USB enumeration) add their devices.
        sleep 0.2
    done
    DL_COLDPLUG_WAITED_MS=$(( $(now_ms) - _start ))
}

coldplug() {
    local _want _m _nics _for
    _want=$(wanted_interface)
    wait_for_devices "$_want"
    for _m in af_packet; do modprobe -q "$_m" 2>/dev/null; done
    _nics=$(ls "$DL_SYSFS/class/net" | grep -v '^lo$' | tr '\n' ' ')
    _nics=${_nics% }
    case "$_want" in
        "mac "*) _for="boot_mac=${_want#mac }" ;;
        "dev "*) _for="boot_device=${_want#dev }" ;;
        *) _for="settle_s=$DL_SETTLE" ;;
    esac
    DL_STAGE_DETAIL="waited_ms=$DL_COLDPLUG_WAITED_MS $_for outcome=$DL_COLDPLUG_OUTCOME rounds=$DL_COLDPLUG_ROUNDS"
    info "drivers loaded in $DL_COLDPLUG_ROUNDS rounds over $DL_COLDPLUG_WAITED_MS ms: $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"
    if [ -n "$_want" ] && [ "$DL_COLDPLUG_OUTCOME" != found ]; then
        cause "the boot interface ($_want) did not appear within rd.diskless.netwait=$DL_NETWAIT s (interfaces: ${_nics:-none}; MACs: $(cat "$DL_SYSFS"/class/net/*/address 2>/dev/null | grep -v '^00:00:00:00:00:00$' | tr '\n' ' ' | sed 's/ $//'))"
        return
    fi
    [ -n "$_nics" ] || { cause "no network interface appeared within rd.diskless.netwait=$DL_NETWAIT s (modules loaded: $(cut -d' ' -f1 /proc/modules | tr '\n' ' '))"; return; }
    case "$_want" in
        "") info "network interfaces after the devices settled for ${DL_SETTLE} s: $_nics" ;;
        *) info "boot interface ($_want) present after $DL_COLDPLUG_WAITED_MS ms; interfaces: $_nics" ;;
    esac
    return 0
}
