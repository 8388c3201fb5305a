#!/usr/bin/env bash
# Fraud alerts on real traffic with a synthetic fraud ring injected: replays the Taobao
# sample (../shared/evaldata, see its README) into eddy (event clock, ack memory) with
# what Taobao lacks made up per user — an IP (5% of users behind 20 shared carrier NAT
# IPs), a home country, a price per item (log-uniform 10..2000) — plus a ring of RING
# fraudsters who strike in bursts of 6 fresh accounts sharing two IPs, each placing one or
# two high-value orders. Two rings, one eddy run each:
#   travel: each member views from one country and buys from another minutes later;
#   quiet:  no location change, no browsing: each member's first event is the purchase.
# Prints how many orders and users were alerted, the precision and recall of the alerted
# users against the ring, and which reasons the alerts carried.
# Usage: bench/fraud_ring.sh [--ring N] [--set key=value ...]   (extra --set go to eddy)
set -euo pipefail
cd "$(dirname "$0")/.."
ring=30
extra=()
while (($#)); do
  case "$1" in
    --ring) ring="$2"; shift ;;
    --set) extra+=(--set "$2"); shift ;;
    *) echo "usage: bench/fraud_ring.sh [--ring N] [--set key=value ...]" >&2; exit 2 ;;
  esac
  shift
done
csv=../shared/evaldata/taobao-userbehavior-sample/UserBehavior.csv
if [[ ! -f "$csv" ]]; then
  echo "bench/fraud_ring.sh: $csv is absent; nothing to measure" >&2
  exit 0
fi
source bench/lib.sh
for variant in travel quiet; do
rm -rf "$work/data"
start_eddy --log-level warn --set clock.mode=event --set durability.ack=memory "${extra[@]}"
python3 - "$csv" "$port" "$ring" "$variant" <<'PY'
import collections, csv, hashlib, json, math, random, sys, urllib.request

path, port, ring_size, variant = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
base = f"http://127.0.0.1:{port}"
rng = random.Random(2026)

def h(s):
    return int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "little")

types = {"pv": "view", "cart": "add_to_cart", "fav": "wishlist", "buy": "purchase"}
countries = ["CN", "CN", "CN", "CN", "HK", "TW", "SG", "US"]
def price(item):
    return round(10 * math.exp((h("p" + item) % 10_000) / 10_000 * math.log(200)), 2)

rows = []
with open(path) as f:
    for user, item, cat, behavior, ts in csv.reader(f):
        rows.append((int(ts) * 1000, user, item, cat, behavior))
rows.sort()
t_first, t_last = rows[0][0], rows[-1][0]
events = []
orders = 0
for t, user, item, cat, behavior in rows:
    hu = h("u" + user)
    ip = f"100.64.0.{hu % 20}" if hu % 100 < 5 else f"10.{hu >> 8 & 255}.{hu >> 16 & 255}.{hu & 255}"
    e = {"userId": user, "itemId": item, "category": cat, "type": types[behavior],
         "timestamp": t, "ip": ip,
         "location": {"country": countries[hu % len(countries)], "region": "", "city": "x"}}
    if behavior == "buy":
        orders += 1
        e.update(price=price(item), orderId=f"t{orders}")
    events.append(e)

# The ring: bursts of 6 members, each a fresh account that views from one country and
# buys an expensive item from another minutes later, the burst's orders from two IPs.
ring = [f"ring-{i}" for i in range(ring_size)]
expensive = sorted({e["itemId"] for e in events}, key=price)[-200:]
for b in range((ring_size + 5) // 6):
    t0 = rng.randrange(t_first, t_last - 3_600_000)
    ips = [f"203.0.113.{rng.randrange(256)}" for _ in range(2)]
    for k, user in enumerate(ring[6 * b: 6 * b + 6]):
        t = t0 + k * 60_000
        item = rng.choice(expensive)
        home = "US" if variant == "travel" else "CN"
        if variant == "travel":
            events.append({"userId": user, "itemId": item, "type": "view", "timestamp": t,
                           "ip": ips[k % 2], "location": {"country": home, "region": "", "city": "x"}})
        for n in range(rng.choice([1, 2])):
            orders += 1
            events.append({"userId": user, "itemId": rng.choice(expensive), "type": "purchase",
                           "timestamp": t + 240_000 + n * 30_000, "price": max(600, price(item)),
                           "orderId": f"r{orders}", "ip": ips[k % 2],
                           "location": {"country": "RO" if variant == "travel" else home,
                                        "region": "", "city": "x"}})
events.sort(key=lambda e: e["timestamp"])

def post(batch):
    req = urllib.request.Request(base + "/v1/events", data="\n".join(map(json.dumps, batch)).encode(),
                                 headers={"Content-Type": "application/x-ndjson"})
    reply = json.load(urllib.request.urlopen(req))
    assert not reply["rejected"], reply["rejected"][:3]

for i in range(0, len(events), 1000):
    post(events[i:i + 1000])
alerts = json.load(urllib.request.urlopen(base + "/v1/alerts?kind=fraud&k=1000"))["alerts"]
if len(alerts) == 1000:
    print("warning: 1000 alerts (the most one read returns): figures are a lower bound")
alerted = {a["userId"] for a in alerts}
ring_set = set(ring)
hit = len(alerted & ring_set)
purchases = sum(1 for e in events if e["type"] == "purchase")
print(f"{variant} fraud ring on the Taobao sample: {len(events)} events ({purchases} purchases, "
      f"{len({e['userId'] for e in events})} users), ring of {len(ring)} users")
print(f"alerts: {len(alerts)} orders of {len(alerted)} users; ring users alerted {hit}/{len(ring)}")
precision = hit / len(alerted) if alerted else 0.0
recall = hit / len(ring) if ring else 0.0
print(f"precision {precision:.3f}  recall {recall:.3f}")
reasons = collections.Counter()
for a in alerts:
    reasons[("ring" if a["userId"] in ring_set else "other", tuple(r["code"] for r in a["reasons"]))] += 1
for (who, codes), n in sorted(reasons.items(), key=lambda x: -x[1]):
    print(f"  {n:5d} {who:5s} {'+'.join(codes)}")
PY
stop_eddy
done
