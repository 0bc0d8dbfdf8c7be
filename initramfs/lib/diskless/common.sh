# Logging, stages, failure handling and reports to the server.
#
# Every function declares its working variables `local`. busybox sh scopes variables
# dynamically: without `local`, a name set in a function is its caller's too, so a stage that
# set the same name as run_stage (its start time, say) would change what run_stage measures.

DL_LIB=${DL_LIB:-/lib/diskless}
DL_LOG=${DL_LOG:-/run/initramfs/diskless.log}
DL_CONSOLE=${DL_CONSOLE:-/dev/console}

info() {
    printf 'diskless: %s\n' "$*" >> "$DL_CONSOLE"
    printf '%s %s\n' "$(cut -d' ' -f1 /proc/uptime)" "$*" >> "$DL_LOG"
}

debug() {
    [ -n "$DL_DEBUG" ] && info "$@"
    return 0
}

# Shell-quote one value so that a file of NAME='VALUE' lines is safe to source:
# single quotes inside become '\'' and nothing else is special inside single quotes.
shquote() {
    printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

# A DNS name (RFC 1123): dot-separated labels of letters, digits and inner hyphens, 1-63
# characters each, 253 in all, no empty label and no final dot. Used on names from DHCP.
valid_dns_name() {
    local _rest _label
    [ -n "$1" ] && [ ${#1} -le 253 ] || return 1
    case "$1" in *[!A-Za-z0-9.-]*|.*|*.|*..*) return 1 ;; esac
    _rest=$1.
    while [ -n "$_rest" ]; do
        _label=${_rest%%.*}
        _rest=${_rest#*.}
        [ ${#_label} -le 63 ] || return 1
        case "$_label" in -*|*-) return 1 ;; esac
    done
    return 0
}

# A dotted-quad IPv4 address: four decimal parts, each 0-255.
valid_ipv4() {
    local _rest _parts _part
    case "$1" in ""|*[!0-9.]*|.*|*.|*..*) return 1 ;; esac
    _rest=$1. _parts=0
    while [ -n "$_rest" ]; do
        _part=${_rest%%.*}
        _rest=${_rest#*.}
        _parts=$((_parts + 1))
        [ ${#_part} -le 3 ] && [ "$_part" -le 255 ] || return 1
    done
    [ "$_parts" -eq 4 ]
}

# Milliseconds since boot, for stage durations.
now_ms() {
    awk '{ printf "%d", $1 * 1000 }' /proc/uptime
}
DL_T0=$(now_ms)

# URL-encode a value for a form body (busybox wget --post-data).
urlencode() {
    printf '%s' "$1" | od -An -tx1 -v | tr -d '\n' | sed 's/ \([0-9a-f][0-9a-f]\)/%\1/g'
}

DL_UNSENT=${DL_UNSENT:-/run/initramfs/unsent-reports}

# The boot servers in the order to ask them, one base URL a line: the one that answered last
# (diskless.server until another has), then diskless.server and the rd.diskless.peer servers
# in command-line order. Every server has every boot's token, events and files: any will do.
DL_SERVER_NOW=${DL_SERVER_NOW:-}
server_order() {
    local _s
    [ -n "$DL_SERVER_NOW" ] && printf '%s\n' "$DL_SERVER_NOW"
    set -f  # split on blanks only: a "*" in diskless.server is no file-name pattern
    for _s in $DL_SERVER $DL_PEERS; do
        # Callers split this list unquoted: a word that could match file names is no server.
        case "$_s" in *'*'*|*'?'*|*'['*) continue ;; esac
        [ "$_s" = "$DL_SERVER_NOW" ] || printf '%s\n' "$_s"
    done
    set +f
    return 0
}

# The address of a server's base URL (http://ADDRESS[:PORT]).
server_host() {
    local _h
    _h=${1#*://}
    printf '%s' "${_h%%[:/]*}"
}

# ask_servers PATH COMMAND…: runs COMMAND with DL_URL set to each server's base URL + PATH in
# server_order until one succeeds, which is then asked first from now on. Fails when none did.
ask_servers() {
    local _path _s
    _path=$1
    shift
    for _s in $(server_order); do
        DL_URL=$_s$_path
        if "$@"; then
            [ "$_s" = "${DL_SERVER_NOW:-$DL_SERVER}" ] || info "server $_s answers; ${DL_SERVER_NOW:-$DL_SERVER} did not"
            DL_SERVER_NOW=$_s
            return 0
        fi
    done
    return 1
}

post_report() {
    # No -T: Debian's static busybox 1.35 wget crashes whenever -T is given; timeout bounds it.
    timeout 5 wget -q -O /dev/null --post-data "$1" "$DL_URL" 2>/dev/null
}

send_report() {
    ask_servers /api/v1/report post_report "$1"
}

# Tell the server where this boot is. Best effort: a boot never waits long on a report, and
# reports the server missed (it was down, or the network was not up yet: cmdline, modules)
# are kept and sent, in order, with the next one. The queue holds no MAC: before the network
# stage picks the interface it is not known, so it is added when the report is sent.
report() {
    local _stage _status _detail _left _queued _proof
    _stage=$1 _status=$2 _detail=$3
    [ -n "$DL_SERVER" ] || return 0
    _proof=""
    [ -n "$DL_REPORT_KEY" ] && _proof="&report_id=$(urlencode "$DL_REPORT_ID")&proof=$(report_proof "$_stage" "$_status")"
    printf '%s\n' "stage=$(urlencode "$_stage")&status=$(urlencode "$_status")&detail=$(urlencode "$_detail")&uptime_ms=$(now_ms)$_proof" >> "$DL_UNSENT"
    [ -n "$DL_NET_UP" ] || return 0
    _left=""
    while read -r _queued; do
        if [ -z "$_left" ] && send_report "mac=$(urlencode "$DL_MAC")&$_queued"; then continue; fi
        _left="$_left$_queued
"
    done < "$DL_UNSENT"
    printf '%s' "$_left" > "$DL_UNSENT"
    [ -z "$_left" ] || debug "report to $DL_SERVER failed; kept for later"
    return 0
}

# The proof a report of STAGE and STATUS carries once this boot redeemed its token: HMAC-SHA256
# under the report key the server handed over with this node's files (identity.sh), over what
# src/identity/report-proof.ts checks. Nothing when openssl fails: the report goes unproven.
report_proof() {
    local _out
    _out=$(printf 'diskless-report\n%s\n%s\n%s' "$DL_REPORT_ID" "$1" "$2" \
        | OPENSSL_CONF=/dev/null openssl dgst -sha256 -mac HMAC -macopt "hexkey:$DL_REPORT_KEY" 2>/dev/null) || return 0
    printf '%s' "${_out##* }"
}

shell_on_console() {
    info "starting a shell on the console; exit it to continue"
    setsid cttyhack sh -i
}

DL_SOSREPORT=${DL_SOSREPORT:-/run/initramfs/rdsosreport.txt}

# dracut's rdsosreport, smaller: what an admin needs to see why this node did not boot. An
# unspent one-time token on the command line (and in the kernel's messages) is left out: the
# report may be shown, or sent, where the token must not go.
save_report() {
    {
        echo "== diskless failure report =="
        echo "stage: $1"
        echo "cause: $2"
        echo "== /proc/cmdline"; cat "${DL_CMDLINE_FILE:-/proc/cmdline}"
        echo "== log"; cat "$DL_LOG"
        echo "== ip addr"; ip addr 2>&1
        echo "== ip route"; ip route 2>&1
        echo "== /sys/class/net"; ls -l /sys/class/net 2>&1
        echo "== lsmod"; cat /proc/modules 2>&1
        echo "== mounts"; cat /proc/mounts
        echo "== dmesg (last 100)"; dmesg 2>&1 | tail -n 100
    } 2>&1 | sed 's/rd\.diskless\.token=[^ ]*/rd.diskless.token=(removed)/g' > "$DL_SOSREPORT"
    info "a report is saved in $DL_SOSREPORT"
}

post_failure_report() {
    timeout 20 wget -q -O /dev/null --post-file "$1" "$DL_URL" 2>/dev/null
}

send_failure_report() {
    ask_servers /api/v1/failure-report post_failure_report "$1"
}

# POST the saved report (its first 48 KiB) to the server, which keeps each machine's last one.
upload_failure_report() {
    local _form
    if [ -z "$DL_SERVER" ] || [ -z "$DL_NET_UP" ] || [ -z "$DL_MAC" ]; then
        info "the failure report stays here: the network is not up"
        return 1
    fi
    _form=$DL_SOSREPORT.form
    {
        printf 'mac=%s&stage=%s&cause=%s&report=' "$(urlencode "$DL_MAC")" "$(urlencode "$1")" "$(urlencode "$2")"
        head -c 49152 "$DL_SOSREPORT" | od -An -tx1 -v | tr -d '\n' | sed 's/ \([0-9a-f][0-9a-f]\)/%\1/g'
    } > "$_form"
    if send_failure_report "$_form"; then
        info "the failure report is sent to $DL_SERVER_NOW"
    else
        info "the failure report could not be sent to $DL_SERVER${DL_PEERS:+ or $DL_PEERS}"
    fi
    rm -f "$_form"
}

# rd.shell=0: nobody is at the console. Send the report, wait rd.diskless.failure_delay seconds
# (time to read the console, or for what failed to come back), then rd.emergency's action.
unattended_failure() {
    local _action _delay
    _action=$DL_EMERGENCY _delay=$DL_FAILURE_DELAY
    # The cmdline stage may be what failed: never act on a value it refused.
    case "$_action" in reboot|poweroff|halt) ;; *) _action=reboot ;; esac
    case "$_delay" in ''|*[!0-9]*) _delay=30 ;; esac
    upload_failure_report "$1" "$2"
    info "rd.shell=0: no shell; $_action in $_delay s"
    sleep "$_delay"
    sync
    "$_action" -f
}

fail() {
    local _stage _cause
    _stage=$DL_STAGE _cause=$*
    info "FAILED in stage '$_stage': $_cause"
    save_report "$_stage" "$_cause"
    report "$_stage" failed "$_cause"
    [ "$DL_SHELL" = 0 ] && unattended_failure "$_stage" "$_cause"
    while :; do
        shell_on_console
        info "the boot cannot go on after a failure in stage '$_stage'; reboot when ready"
    done
}

# run_stage NAME FUNCTION: honours rd.break=NAME, times the stage, reports it (with the
# key=value pairs the stage left in DL_STAGE_DETAIL), and turns a non-zero return into a
# failure that names the stage.
run_stage() {
    local _t _d
    DL_STAGE=$1
    if [ "$DL_BREAK" = "$1" ]; then
        info "rd.break=$1: stopping before stage '$1'"
        shell_on_console
    fi
    _t=$(now_ms)
    debug "stage $1: start"
    DL_CAUSE="" DL_STAGE_DETAIL=""
    if ! "$2"; then
        fail "${DL_CAUSE:-$2 returned an error}"
    fi
    _d=$(( $(now_ms) - _t ))
    info "stage $1 done in ${_d} ms"
    report "$1" ok "duration_ms=$_d${DL_STAGE_DETAIL:+ $DL_STAGE_DETAIL}"
}

# Failure causes are set by the failing function for run_stage to print.
cause() {
    DL_CAUSE=$*
    return 1
}
