#!/bin/sh
# bench-firstboot.sh: the first-boot server under 200 concurrent fetches of
# a 20 MiB file on loopback: its resident memory above idle (target: under
# 64 MiB) and its aggregate throughput against Debian's nginx serving the
# same file to the same load client (target: at least 0.8x nginx's).
# Installs nginx with apt-get when it is missing (needs root then).
# Usage: scripts/bench-firstboot.sh [clients] [rounds]   (from the repository root)
set -eu
cd "$(dirname "$0")/.."
clients=${1:-200}
rounds=${2:-3}
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
	echo "bench-firstboot.sh: installing nginx (apt-get install -y nginx-light || nginx)" >&2
	apt-get install -y nginx-light >/dev/null 2>&1 || apt-get install -y nginx >/dev/null
fi
nginx=$(command -v nginx || echo /usr/sbin/nginx)
tmp=$(mktemp -d)
spid=
npid=
cleanup() {
	[ -n "$spid" ] && kill "$spid" 2>/dev/null || true
	[ -n "$npid" ] && kill "$npid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
go build -o "$tmp/bench" ./pkg/firstboot/internal/benchfirstboot
head -c $((20 << 20)) /dev/urandom > "$tmp/file"

# The first-boot server, in its own process so its memory can be read.
mkfifo "$tmp/stdin"
"$tmp/bench" serve "$tmp/file" 127.0.0.1:0 < "$tmp/stdin" > "$tmp/serve.out" &
spid=$!
exec 3> "$tmp/stdin"
i=0
while ! grep -q listening "$tmp/serve.out" 2>/dev/null; do
	i=$((i + 1)); [ "$i" -lt 100 ] || { echo "server did not start" >&2; exit 1; }
	sleep 0.1
done
saddr=$(awk '{print $2}' "$tmp/serve.out")
kib() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$spid/status"; }
idle=$(kib VmRSS)

# nginx: the same file, sendfile on, as many workers as CPUs.
nport=$(( 20000 + $$ % 20000 ))
mkdir -p "$tmp/www" "$tmp/nginx"
ln "$tmp/file" "$tmp/www/file"
chmod 0755 "$tmp" "$tmp/www"; chmod 0644 "$tmp/file" # nginx workers run as www-data when started as root
cat > "$tmp/nginx.conf" <<CONF
worker_processes auto;
pid $tmp/nginx/pid;
error_log $tmp/nginx/error.log;
events { worker_connections 1024; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	client_body_temp_path $tmp/nginx; proxy_temp_path $tmp/nginx; fastcgi_temp_path $tmp/nginx;
	uwsgi_temp_path $tmp/nginx; scgi_temp_path $tmp/nginx;
	server { listen 127.0.0.1:$nport; root $tmp/www; }
}
CONF
"$nginx" -p "$tmp/nginx" -c "$tmp/nginx.conf" -g "daemon off;" 2>"$tmp/nginx.err" &
npid=$!
i=0
while ! curl -fso /dev/null "http://127.0.0.1:$nport/file"; do
	i=$((i + 1)); [ "$i" -lt 100 ] || { echo "nginx did not start:" >&2; cat "$tmp/nginx.err" "$tmp/nginx/error.log" >&2 2>/dev/null; exit 1; }
	sleep 0.1
done

echo "== $clients concurrent GETs of a 20 MiB file on loopback, $rounds rounds each, alternating"
r=0
while [ "$r" -lt "$rounds" ]; do
	"$tmp/bench" load "http://$saddr/file" "$clients" | sed 's/^/first-boot: /' | tee -a "$tmp/fb"
	"$tmp/bench" load "http://127.0.0.1:$nport/file" "$clients" | sed 's/^/nginx:      /' | tee -a "$tmp/ng"
	r=$((r + 1))
done
peak=$(kib VmHWM)
med() { awk '{print $(NF-1)}' "$1" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
fb=$(med "$tmp/fb")
ng=$(med "$tmp/ng")
echo "first-boot server resident: idle $((idle / 1024)) MiB, peak $((peak / 1024)) MiB, peak above idle $(((peak - idle) / 1024)) MiB (target < 64)"
echo "throughput median: first-boot $fb MiB/s, nginx $ng MiB/s, ratio $(awk -v a="$fb" -v b="$ng" 'BEGIN {printf "%.2f", a / b}')x (target >= 0.8)"
echo "(load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs shared with the machine's other work)"
exec 3>&-
