"""Writes ESP captures with scapy's own pcap writer, for `espresso process --from outside` to decrypt.

Reads one JSON document on stdin:
  {"out": path, "link": "ether" | "raw",
   "items": [{"sa": SA, "packets": [hex inner packet, ...], "seq": first sequence number}, ...]}
and writes every item's packets, encrypted by scapy 2.5's SecurityAssociation (SA as in
../interop/scapy-esp-peer.py, whose SA construction and fixes this reuses), in order, with wrpcap.
Prints the number of packets written.
"""

import importlib.util
import json
import os
import sys

from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location('scapy_esp_peer', os.path.join(here, '..', 'interop', 'scapy-esp-peer.py'))
peer = importlib.util.module_from_spec(spec)
spec.loader.exec_module(peer)


def main():
    req = json.load(sys.stdin)
    frames = []
    for item in req['items']:
        for hexpkt in peer.encrypt(item['sa'], item['packets'], item['seq']):
            pkt = peer.parse_ip(bytes.fromhex(hexpkt))
            frames.append(Ether(src='02:00:00:00:00:01', dst='02:00:00:00:00:02') / pkt if req['link'] == 'ether' else pkt)
    wrpcap(req['out'], frames)
    print(len(frames))


if __name__ == '__main__':
    main()
