# c-tests/interop/helpers.sh: what the interop scripts (run.sh and its
# scenarios, pausing.sh) share besides c-tests/lib.sh; sourced.
# shellcheck shell=bash

# A TCP port on 127.0.0.1 nobody listens on.
free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 40000))
        if [ -z "$(ss -Htln "sport = :$p" 2>/dev/null)" ]; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# count_of FILE KEY: a counter from the pausing module's count file (0 if none).
count_of() {
    local v
    v=$(sed -n "s/^$2 \\([0-9]*\\)$/\\1/p" "$1" 2>/dev/null | head -n1)
    echo "${v:-0}"
}

# wrk_summary FILE: "requests errors non2xx req/s"
wrk_summary() {
    local f=$1 req err non rps
    req=$(sed -n 's/^ *\([0-9][0-9]*\) requests in .*/\1/p' "$f" | head -n1)
    err=$(sed -n 's/^ *Socket errors: connect \([0-9]*\), read \([0-9]*\), write \([0-9]*\), timeout \([0-9]*\).*/\1 \2 \3 \4/p' "$f" \
          | awk '{print $1 + $2 + $3 + $4}')
    non=$(sed -n 's/^ *Non-2xx or 3xx responses: \([0-9]*\).*/\1/p' "$f")
    rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$f")
    echo "${req:-0} ${err:-0} ${non:-0} ${rps:-0}"
}

# engine_conf FILE ENGINE: an OPENSSL_CONF that loads the pausing engine
# (ENGINE, a path) into programs that take no -engine option.
engine_conf() {
    cat > "$1" <<CONF
openssl_conf = openssl_init

[openssl_init]
engines = engine_section

[engine_section]
rustasync_pause = rustasync_pause_section

[rustasync_pause_section]
engine_id = rustasync-pause
dynamic_path = $2
default_algorithms = ALL
init = 1
CONF
}
