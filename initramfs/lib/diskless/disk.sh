# The node's local disk (a profile's disk: section, rd.diskless.disk.*): one ext4 filesystem
# labelled "diskless" on the whole disk, holding the overlay's upper layer, a swap file, a
# scratch directory and the directories kept across reboots. A disk is formatted only when
# blkid finds nothing on it (no filesystem, no partition table, no RAID or LUKS signature) or
# when it is ours and will not mount; a disk carrying anything else is left alone. Without a
# usable disk the node runs from RAM and says so.

DL_DISK_MNT=$DL_MNT/disk
DL_DISK_LABEL=diskless
DL_DISK_STATE=none

disk_wanted() {
    [ -n "$DL_DISK_PATH$DL_DISK_MODEL$DL_DISK_ID$DL_DISK_SIZE" ]
}

# A sysfs attribute with blanks squeezed and trimmed (models and serials are space-padded).
disk_attr() {
    tr -s ' ' < "$1" 2>/dev/null | sed 's/^ //; s/ $//'
}

# The /dev/disk/by-id names udev would give disk $1 (virtio, NVMe, ATA/SCSI).
disk_ids() {
    local _b _s _m _v
    _b=${DL_SYSFS:-/sys}/block/$1
    case "$1" in
        vd*) _s=$(disk_attr "$_b/serial"); [ -n "$_s" ] && echo "virtio-$_s" ;;
        nvme*) _m=$(disk_attr "$_b/device/model"); _s=$(disk_attr "$_b/device/serial"); [ -n "$_s" ] && echo "nvme-${_m}_$_s" | tr ' ' _ ;;
        sd*)
            _m=$(disk_attr "$_b/device/model"); _v=$(disk_attr "$_b/device/vendor")
            # VPD page 0x80: 4 header bytes, then the unit serial number.
            _s=$(tail -c +5 "$_b/device/vpd_pg80" 2>/dev/null | tr -d '\000' | tr -s ' ' | sed 's/^ //; s/ $//')
            [ -n "$_s" ] || return 0
            if [ "$_v" = ATA ]; then echo "ata-${_m}_$_s" | tr ' ' _; else echo "scsi-${_v}_${_m}_$_s" | tr ' ' _; fi
            ;;
    esac
}

# Does whole disk $1 match every rd.diskless.disk.* given? Globs are patterns, never code.
disk_matches() {
    local _n _b _bytes _min _max _id _hit
    _n=$1 _b=${DL_SYSFS:-/sys}/block/$1
    if [ -n "$DL_DISK_PATH" ] && [ "$DL_DISK_PATH" != "/dev/$_n" ]; then return 1; fi
    if [ -n "$DL_DISK_MODEL" ]; then
        # shellcheck disable=SC2254
        case "$(disk_attr "$_b/device/model")" in $DL_DISK_MODEL) ;; *) return 1 ;; esac
    fi
    if [ -n "$DL_DISK_SIZE" ]; then
        _bytes=$(( $(cat "$_b/size" 2>/dev/null || echo 0) * 512 ))
        _min=${DL_DISK_SIZE%-*} _max=${DL_DISK_SIZE#*-}
        [ -z "$_min" ] || [ "$_bytes" -ge "$_min" ] || return 1
        [ -z "$_max" ] || [ "$_bytes" -le "$_max" ] || return 1
    fi
    if [ -n "$DL_DISK_ID" ]; then
        _hit=""
        for _id in $(disk_ids "$_n"); do
            # shellcheck disable=SC2254
            case "$_id" in $DL_DISK_ID) _hit=1 ;; esac
        done
        [ -n "$_hit" ] || return 1
    fi
    return 0
}

# Whole disks the kernel knows, in name order: not partitions, loop, RAM, NBD or optical.
disk_candidates() {
    local _d
    for _d in "${DL_SYSFS:-/sys}"/block/*; do
        case "${_d##*/}" in loop*|ram*|nbd*|zram*|sr*|dm-*|md*|fd*) continue ;; esac
        [ -e "$_d/device" ] && echo "${_d##*/}"
    done
}

# blkid's view of device $1 as TYPE, LABEL and PTTYPE (values are data, read line by line).
disk_probe() {
    local _k _v
    DISK_TYPE="" DISK_LABEL="" DISK_PTTYPE=""
    blkid -c /dev/null -o export "$1" > /run/diskless/blkid.out 2>/dev/null
    while IFS='=' read -r _k _v; do
        case "$_k" in TYPE) DISK_TYPE=$_v ;; LABEL) DISK_LABEL=$_v ;; PTTYPE) DISK_PTTYPE=$_v ;; esac
    done < /run/diskless/blkid.out
}

# mkfs.ext4 (e2fsprogs, from the initrd): busybox sh would run its own mke2fs applet, which
# makes ext2 only, before any mke2fs on PATH.
disk_format() {
    info "formatting $1 (ext4, label $DL_DISK_LABEL)"
    mkfs.ext4 -q -F -L "$DL_DISK_LABEL" "$1" >>"$DL_LOG" 2>&1
}

# Finds the disk and mounts it at $DL_DISK_MNT. Sets DL_DISK_STATE (ready; none; refused: only
# foreign data; failed: a disk would not format or mount) and DL_DISK_DEV; never fails the
# boot: without a disk the node runs from RAM.
attach_disk() {
    local _n _dev _deadline _skipped _failed
    disk_wanted || return 0
    # ext4 checksums its metadata with crc32c: the CPU's driver where the CPU has the
    # instruction, else the generic one (the kernel would ask for either by alias at mount).
    modprobe -q crc32c_intel 2>/dev/null || modprobe -q crc32c_generic
    modprobe -q ext4 || info "cannot load ext4: $(modprobe ext4 2>&1 | tail -n 1)"
    _skipped="" _failed=""
    # Block drivers were loaded with the NIC's; a disk may still be probing.
    _deadline=$(( $(now_ms) + ${DL_DISK_WAIT:-5} * 1000 ))
    while :; do
        for _n in $(disk_candidates); do
            # A disk left alone or that failed is not tried again while others are awaited.
            case ",$_skipped,$_failed," in *",$_n,"*) continue ;; esac
            disk_matches "$_n" || continue
            _dev=/dev/$_n
            disk_probe "$_dev"
            if [ -z "$DISK_TYPE" ] && [ -z "$DISK_PTTYPE" ]; then
                disk_format "$_dev" || { info "cannot format $_dev: $(tail -n 1 "$DL_LOG")"; _failed="${_failed:+$_failed,}$_n"; continue; }
            elif [ "$DISK_TYPE" != ext4 ] || [ "$DISK_LABEL" != "$DL_DISK_LABEL" ]; then
                info "disk $_dev matches but carries ${DISK_TYPE:-a $DISK_PTTYPE partition table}${DISK_LABEL:+ labelled $DISK_LABEL}, not ours: left alone"
                _skipped="${_skipped:+$_skipped,}$_n"
                continue
            fi
            mkdir -p "$DL_DISK_MNT"
            if ! mount -t ext4 -o noatime "$_dev" "$DL_DISK_MNT" 2>>"$DL_LOG"; then
                # Ours, and it does not mount: start it again rather than run without it.
                info "our filesystem on $_dev does not mount; formatting it again"
                disk_format "$_dev" && mount -t ext4 -o noatime "$_dev" "$DL_DISK_MNT" 2>>"$DL_LOG" || { info "cannot use $_dev: $(tail -n 1 "$DL_LOG")"; _failed="${_failed:+$_failed,}$_n"; continue; }
            fi
            DL_DISK_STATE=ready DL_DISK_DEV=$_dev
            info "local disk $_dev mounted at $DL_DISK_MNT"
            return 0
        done
        [ "$(now_ms)" -ge "$_deadline" ] && break
        load_new_drivers
        sleep 0.2
    done
    if [ -n "$_failed" ]; then
        DL_DISK_STATE=failed DL_DISK_WHY="cannot format or mount $_failed${_skipped:+; foreign data on $_skipped}"
    elif [ -n "$_skipped" ]; then
        DL_DISK_STATE=refused DL_DISK_WHY="only disks with foreign data match ($_skipped)"
    else
        DL_DISK_STATE=none DL_DISK_WHY="no disk matches"
    fi
    info "no local disk ($DL_DISK_WHY): running from RAM only"
    return 0
}

# Moves $1 (on the disk) aside and removes it in the background: a big scratch or upper
# directory must not hold up the boot. Leftovers of an interrupted removal go the same way.
disk_discard() {
    local _t
    [ -e "$1" ] || return 0
    _t=$DL_DISK_MNT/.trash-$(now_ms)-$$
    mv "$1" "$_t"
    ( setsid rm -rf "$DL_DISK_MNT"/.trash-* </dev/null >/dev/null 2>&1 & )
}

# A fresh upper layer and work directory on the disk for this boot; prints the upper's path.
disk_upper() {
    disk_discard "$DL_DISK_MNT/upper"
    disk_discard "$DL_DISK_MNT/work"
    mkdir -p "$DL_DISK_MNT/upper" "$DL_DISK_MNT/work"
}

disk_swap() {
    local _f _want _have
    [ -n "$DL_DISK_SWAP" ] && [ "$DL_DISK_SWAP" -gt 0 ] || return 0
    _f=$DL_DISK_MNT/swap
    _want=$((DL_DISK_SWAP * 1048576))
    _have=$(stat -c %s "$_f" 2>/dev/null || echo 0)
    if [ "$_have" != "$_want" ]; then
        rm -f "$_f"
        fallocate -l "$_want" "$_f" 2>/dev/null || dd if=/dev/zero of="$_f" bs=1048576 count="$DL_DISK_SWAP" 2>/dev/null || { info "cannot make a ${DL_DISK_SWAP} MiB swap file"; rm -f "$_f"; return 0; }
        chmod 0600 "$_f"
        mkswap "$_f" >/dev/null 2>&1 || { info "mkswap failed on $_f"; return 0; }
    fi
    swapon "$_f" 2>>"$DL_LOG" && DL_DISK_SWAP_ON=1 && info "swap: ${DL_DISK_SWAP} MiB on $DL_DISK_DEV"
    return 0
}

# Is $1 (absolute) inside the new root, without a symlink on the way that could lead out?
disk_safe_target() {
    local _p _rest _seg
    case "$1" in /*) ;; *) return 1 ;; esac
    case "$1/" in */./*|*/../*|//*) return 1 ;; esac
    _p=$DL_NEWROOT _rest=${1#/}
    while [ -n "$_rest" ]; do
        _seg=${_rest%%/*}
        _rest=${_rest#"$_seg"}; _rest=${_rest#/}
        _p=$_p/$_seg
        [ -L "$_p" ] && return 1
    done
    return 0
}

# Scratch (empty at every boot) and the directories kept across reboots, bind-mounted from the
# disk into the new root. A kept directory starts as the image's copy.
disk_binds() {
    local _p _src _n
    if [ -n "$DL_DISK_SCRATCH" ]; then
        if disk_safe_target "$DL_DISK_SCRATCH"; then
            disk_discard "$DL_DISK_MNT/scratch"
            mkdir -p "$DL_DISK_MNT/scratch" "$DL_NEWROOT$DL_DISK_SCRATCH"
            chmod 1777 "$DL_DISK_MNT/scratch"
            mount --bind "$DL_DISK_MNT/scratch" "$DL_NEWROOT$DL_DISK_SCRATCH" && info "scratch: $DL_DISK_SCRATCH on $DL_DISK_DEV (emptied at every boot)"
        else
            info "scratch $DL_DISK_SCRATCH: not a plain path inside the root, skipped"
        fi
    fi
    _n=0
    set -f
    for _p in $(printf '%s' "$DL_DISK_PERSIST" | tr ',' ' '); do
        disk_safe_target "$_p" || { info "persist $_p: not a plain path inside the root, skipped"; continue; }
        _src=$DL_DISK_MNT/persist$_p
        if [ ! -d "$_src" ]; then
            mkdir -p "$_src.new" "$DL_NEWROOT$_p"
            cp -a "$DL_NEWROOT$_p/." "$_src.new/" 2>>"$DL_LOG"
            mv "$_src.new" "$_src"
        fi
        mkdir -p "$DL_NEWROOT$_p"
        mount --bind "$_src" "$DL_NEWROOT$_p" && _n=$((_n + 1))
    done
    set +f
    [ "$_n" -gt 0 ] && info "kept across reboots on $DL_DISK_DEV: $DL_DISK_PERSIST"
    DL_DISK_PERSISTED=$_n
    return 0
}

# What the overlay stage reports about the disk.
disk_detail() {
    local _swap
    disk_wanted || return 0
    if [ "$DL_DISK_STATE" = ready ]; then
        _swap=0
        [ -n "$DL_DISK_SWAP_ON" ] && _swap=$DL_DISK_SWAP
        printf 'disk=%s upper=%s swap_mib=%s persist=%s' "${DL_DISK_DEV#/dev/}" "${DL_DISK_UPPER_USED:-ram}" "$_swap" "${DL_DISK_PERSISTED:-0}"
    else
        printf 'disk=%s ram_only=1' "$DL_DISK_STATE"
    fi
}
