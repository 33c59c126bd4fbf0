# Shared by .ci/run and .ci/fuzz (sourced).

# Runs a build command; when it fails because a linker was killed by a signal, says so, shows
# the free disk space and runs it once more. A CI run once failed that way: rust-lld died of
# SIGBUS while linking two fuzz targets at once, which is what a file mapped into memory does
# when the disk under it is full or fails — the machine's fault, not the code's (this machine's
# disk is shared, and has been seen with a few hundred megabytes free). Any other failure fails
# at once, and so does a second one.
build_retrying_killed_linker() {
    local log rc=0
    log=$(mktemp "${TMPDIR:-/tmp}/scimd_build_XXXXXX")
    "$@" 2>"$log" || rc=$?
    cat "$log" >&2
    if ((rc != 0)) && grep -qE "terminated with signal|\(signal: [0-9]+, SIG|Bus error" "$log"; then
        echo "ci: a linker was killed by a signal (above); free disk: $(df -h --output=avail . | tail -n1 | tr -d ' '); building once more" >&2
        rc=0
        "$@" || rc=$?
    fi
    rm -f "$log"
    return "$rc"
}
