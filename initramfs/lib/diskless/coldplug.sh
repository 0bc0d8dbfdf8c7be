# Load drivers for every device on every bus, again and again until no new device appears:
# a virtio NIC exists only once virtio_pci has been loaded and has probed the PCI device.

coldplug() {
    _seen=""
    _round=0
    while [ $_round -lt 10 ]; do
        _aliases=$(cat /sys/bus/*/devices/*/modalias 2>/dev/null | sort -u)
        [ "$_aliases" = "$_seen" ] && break
        _seen=$_aliases
        for _a in $_aliases; do
            modprobe -q "$_a" 2>/dev/null
        done
        _round=$((_round + 1))
        # Let probes that run asynchronously add their child devices before the next look.
        sleep 0.2
    done
    for _m in af_packet; do modprobe -q "$_m" 2>/dev/null; done
    _nics=$(ls /sys/class/net | grep -v '^lo$' | tr '\n' ' ')
    info "drivers loaded in $_round rounds: $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"
    [ -n "$_nics" ] || { cause "no network interface appeared (modules loaded: $(cut -d' ' -f1 /proc/modules | tr '\n' ' '))"; return; }
    info "network interfaces: $_nics"
    return 0
}
