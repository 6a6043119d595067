"""Floods a DHT with bogus values for test_dht_flood.py, in its own process:
python3-opendht's DhtRunner.join() can deadlock against a pending Python
callback (join holds the GIL), so the test never joins a runner itself. This
process ends with os._exit after printing how many values it put.

usage: dht_flooder.py NETWORK_ID BOOTSTRAP_PORT SECONDS
"""
import os
import sys
import time

import opendht as dht


def main() -> None:
    network_id, port, seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    runner = dht.DhtRunner()
    cfg = dht.DhtConfig()
    cfg.setNetwork(network_id)
    runner.run(port=0, config=cfg)
    runner.bootstrap("127.0.0.1", port)
    keys = [dht.InfoHash.get("pweb:agent:uw"), dht.InfoHash.get("pweb:agent:mit")]
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        key = keys[i % 2] if i % 3 else dht.InfoHash.get(f"junk-{i}")
        runner.put(key, dht.Value(os.urandom(64 + i % 900)))
        i += 1
        if i % 200 == 0:
            time.sleep(0.01)  # let the runner drain its queue, stay bounded
    print(f"puts {i}", flush=True)
    os._exit(0)  # no shutdown/join: see above


if __name__ == "__main__":
    main()
