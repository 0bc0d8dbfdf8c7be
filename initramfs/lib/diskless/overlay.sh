# The node's root: a tmpfs upper layer over the read-only image, so every
# write stays in this node's RAM and is gone after a reboot; or the image alone (ro).

make_overlay() {
    local _up _work
    mkdir -p /newroot
    attach_disk
    if [ -n "$DL_LOWER_WRITABLE" ] || [ "$DL_OVERLAY" = none ]; then
        mount --move "$DL_LOWER" /newroot || { cause "cannot move the root to /newroot"; return; }
        info "root: ${DL_LOWER_WRITABLE:+copy in RAM (writable)}${DL_LOWER_WRITABLE:-image only, read-only}"
    else
        modprobe -q overlay
        if [ "$DL_DISK_STATE" = ready ] && [ "$DL_DISK_UPPER" = 1 ]; then
            # On the local disk: writes cost no RAM; still emptied at every boot.
            disk_upper
            _up=$DL_DISK_MNT/upper _work=$DL_DISK_MNT/work DL_DISK_UPPER_USED=disk
        else
            mkdir -p $DL_MNT/rw
            mount -t tmpfs -o mode=0755,size="$DL_OVERLAY_SIZE" tmpfs $DL_MNT/rw || { cause "cannot mount the tmpfs for the overlay"; return; }
            mkdir -p $DL_MNT/rw/upper $DL_MNT/rw/work
            _up=$DL_MNT/rw/upper _work=$DL_MNT/rw/work
        fi
        mount -t overlay -o "lowerdir=$DL_LOWER,upperdir=$_up,workdir=$_work" overlay /newroot \
            || { cause "cannot mount the overlay (is the overlay module in the initrd?)"; return; }
        if [ -n "$DL_DISK_UPPER_USED" ]; then info "root: overlay on the local disk $DL_DISK_DEV over the read-only image"
        else info "root: RAM overlay (tmpfs, size $DL_OVERLAY_SIZE) over the read-only image"; fi
    fi
    if [ "$DL_DISK_STATE" = ready ]; then
        disk_swap
        disk_binds
    fi
    DL_STAGE_DETAIL=$(disk_detail)
    return 0
}
