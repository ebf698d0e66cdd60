#!/bin/sh
# Managed by Salt (galera.clustercheck). One HAProxy health check on stdin/
# stdout (systemd socket activation): 200 when this Galera node is Synced.
state=$(timeout 5 mariadb --protocol=socket -N -B \
        -e "SHOW GLOBAL STATUS LIKE 'wsrep_local_state'" 2>/dev/null | cut -f2)
if [ "$state" = "4" ]; then
    code="200 OK"; body="Galera node is Synced."
else
    code="503 Service Unavailable"; body="Galera node is not Synced (state: ${state:-down})."
fi
printf 'HTTP/1.1 %s\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s\r\n' \
    "$code" "$(( ${#body} + 2 ))" "$body"
