#!/usr/bin/env python3
"""A bounded load through nginx for bench/switch.sh: three clients at a steady rate (a new
connection per request, keep-alive connections of five requests, slow requests that
outlive a switch) until STOPFILE exists; then prints `sent failed p99_ms` and the first
failures."""
import http.client, sys, threading, time, os

addr, stop = sys.argv[1], sys.argv[2]
host, port = addr.rsplit(":", 1)
lock = threading.Lock()
sent, failed, lat = 0, [], []

def client(path, n):
    global sent
    while not os.path.exists(stop):
        c = http.client.HTTPConnection(host, int(port), timeout=10)
        for _ in range(n):
            t = time.monotonic()
            try:
                c.request("GET", path)
                r = c.getresponse(); r.read()
                ok, why = 200 <= r.status < 300, f"{path} {r.status}"
            except Exception as e:
                ok, why = False, f"{path} {type(e).__name__}"
                c.close(); c = http.client.HTTPConnection(host, int(port), timeout=10)
            with lock:
                sent += 1
                (lat.append(time.monotonic() - t) if ok else failed.append(why))
        c.close()
        time.sleep(0.02)

ts = [threading.Thread(target=client, args=a) for a in (("/", 1), ("/", 5), ("/slow", 1))]
for t in ts: t.start()
for t in ts: t.join()
lat.sort()
p99 = lat[len(lat) * 99 // 100] * 1000 if lat else 0
print(sent, len(failed), f"{p99:.1f}", ";".join(failed[:5]))
