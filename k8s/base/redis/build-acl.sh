#!/bin/sh
# Writes the Redis ACL file given as $1: the default user off, an admin user (password in
# REDIS_ADMIN_PASSWORD), and one user per service, limited to keys and channels that start
# with "<service>:". A service's user and password come from its REDIS_URL
# (redis://USER:PASSWORD@redis:6379/0), passed here as SERVICE_REDIS_URL_<SERVICE>.
set -eu
out=${1:?usage: build-acl.sh ACL_FILE}
umask 077
trap 'rm -f "$out.new"' EXIT
{
    echo "user default off"
    echo "user admin on >${REDIS_ADMIN_PASSWORD:?REDIS_ADMIN_PASSWORD is not set} ~* &* +@all"
    env | grep '^SERVICE_REDIS_URL_' | sort | while IFS='=' read -r variable url; do
        case "$url" in
            redis://?*:?*@?*) ;;
            *) echo "$variable is not redis://USER:PASSWORD@HOST:PORT/DB" >&2; exit 1 ;;
        esac
        service=$(echo "${variable#SERVICE_REDIS_URL_}" | tr 'A-Z_' 'a-z-')
        credentials=${url#redis://}
        credentials=${credentials%%@*}
        echo "user ${credentials%%:*} on >${credentials#*:} resetkeys ~${service}:* resetchannels &${service}:* +@all -@admin -@dangerous"
    done
} > "$out.new"
mv "$out.new" "$out"
echo "wrote $(grep -c '^user ' "$out") users to $out"
