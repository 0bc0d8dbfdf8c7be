# The node's root: a tmpfs upper layer over the read-only image, so every
# write stays in this node's RAM and is gone after a reboot; or the image alone (ro).

make_overlay() {
    mkdir -p /newroot
    if [ -n "$DL_LOWER_WRITABLE" ] || [ "$DL_OVERLAY" = none ]; then
        mount --move "$DL_LOWER" /newroot || { cause "cannot move the root to /newroot"; return; }
        info "root: ${DL_LOWER_WRITABLE:+copy in RAM (writable)}${DL_LOWER_WRITABLE:-image only, read-only}"
        return 0
    fi
    modprobe -q overlay
    mkdir -p $DL_MNT/rw
    mount -t tmpfs -o mode=0755,size="$DL_OVERLAY_SIZE" tmpfs $DL_MNT/rw || { cause "cannot mount the tmpfs for the overlay"; return; }
    mkdir -p $DL_MNT/rw/upper $DL_MNT/rw/work
    mount -t overlay -o "lowerdir=$DL_LOWER,upperdir=$DL_MNT/rw/upper,workdir=$DL_MNT/rw/work" overlay /newroot \
        || { cause "cannot mount the overlay (is the overlay module in the initrd?)"; return; }
    info "root: RAM overlay (tmpfs, size $DL_OVERLAY_SIZE) over the read-only image"
    return 0
}
