"""ESP peer for Espresso's interop tests, built on scapy 2.5's SecurityAssociation.

Reads one JSON request per line on stdin and answers one JSON line on stdout, so that a whole test
matrix runs in one process. Requests:

  {"id": n, "op": "encrypt", "sa": SA, "packets": [hex inner packet, ...], "seq": first sequence number}
      -> {"id": n, "ok": true, "packets": [hex outer packet, ...]}
  {"id": n, "op": "decrypt", "sa": SA, "packets": [hex outer packet, ...], "seq": [full 64-bit sequence, ...]}
      -> {"id": n, "ok": true, "packets": [hex inner packet, ...]}

SA = {"spi", "crypt": scapy name or "AES-GMAC", "cryptKey": hex (key || salt), "icv": bytes,
      "auth": scapy name or null, "authKey": hex, "mode": "tunnel" | "transport",
      "tunnel": {"version", "src", "dst"} | null, "natT": {"sport", "dport"} | null, "esn": bool}

Where scapy 2.5 falls short, this file fills in, and the test report says so:
  - AES-GMAC (RFC 4543) is not in scapy: a CryptAlgo below computes it with the cryptography library's
    AES-GCM over an empty plaintext, AAD = SPI || [ESN high] || seq || IV || payload.
  - scapy leaves the ESN high bits out of the HMAC of ESP (RFC 4303 §2.2.1 puts them in): an AuthAlgo
    wrapper below appends them.
  - scapy keeps the UDP header when it decrypts transport mode over IPv6 with UDP encapsulation: the UDP
    header (which ESP does not protect) is taken out first and scapy decrypts the plain ESP packet.
  - scapy's AES-GCM goes through the cryptography AEAD API, which only knows 16-byte tags: for 8- and
    12-byte ICVs the SA uses scapy's other GCM code path (the hazmat GCM mode, which truncates tags).
  - scapy writes a UDP length of 8 for ESP in UDP over IPv4 (it freezes the UDP header before the ESP
    packet is attached): the peer lets scapy recompute the length.
"""

import json
import struct
import sys

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from scapy.compat import orb, raw
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.ipsec import (
    AUTH_ALGOS,
    CRYPT_ALGOS,
    ESP,
    CryptAlgo,
    IPSecIntegrityError,
    SecurityAssociation,
    _ESPPlain,
)


class GmacAlgo(CryptAlgo):
    """AES-GMAC (RFC 4543): authentication only; the payload travels in clear, the tag covers it."""

    def __init__(self):
        super().__init__('AES-GMAC', cipher=AESGCM, mode=None, key_size=(16, 24, 32), block_size=1,
                         iv_size=8, icv_size=16, salt_size=4)
        self.is_aead = False

    def _aad(self, esp_spi, esp_seq, iv, payload, esn_en, esn):
        head = struct.pack('!LLL', esp_spi, esn, esp_seq) if esn_en else struct.pack('!LL', esp_spi, esp_seq)
        return head + iv + payload

    def encrypt(self, sa, esp, key, icv_size=None, esn_en=False, esn=0):
        payload = esp.data_for_encryption()
        tag = AESGCM(key).encrypt(sa.crypt_salt + esp.iv, b'', self._aad(esp.spi, esp.seq, esp.iv, payload, esn_en, esn))
        return ESP(spi=esp.spi, seq=esp.seq, data=esp.iv + payload + tag)

    def decrypt(self, sa, esp, key, icv_size=None, esn_en=False, esn=0):
        iv = esp.data[:8]
        payload = esp.data[8:len(esp.data) - 16]
        icv = esp.data[len(esp.data) - 16:]
        try:
            AESGCM(key).decrypt(sa.crypt_salt + iv, icv, self._aad(esp.spi, esp.seq, iv, payload, esn_en, esn))
        except InvalidTag as err:
            raise IPSecIntegrityError(err)
        padlen = orb(payload[-2])
        nh = orb(payload[-1])
        data = payload[:len(payload) - padlen - 2]
        return _ESPPlain(spi=esp.spi, seq=esp.seq, iv=iv, data=data, padding=payload[len(data):-2],
                         padlen=padlen, nh=nh, icv=icv)


CRYPT_ALGOS['AES-GMAC'] = GmacAlgo()
CRYPT_ALGOS['AES-GCM-TRUNCATED'] = CryptAlgo('AES-GCM', cipher=algorithms.AES, mode=modes.GCM, block_size=1,
                                             iv_size=8, icv_size=16, salt_size=4,
                                             format_mode_iv=lambda sa, iv, **kw: sa.crypt_salt + iv)


class EsnAuth:
    """Wraps a scapy AuthAlgo so that the ESP ICV covers the ESN high bits (RFC 4303 §2.2.1)."""

    def __init__(self, base, esn_high):
        self.base = base
        self.esn_high = esn_high
        self.icv_size = base.icv_size

    def sign(self, pkt, key, esn_en=False, esn=0):
        mac = self.base.new_mac(key)
        mac.update(raw(pkt[ESP]) + struct.pack('!L', self.esn_high))
        pkt[ESP].data += mac.finalize()[:self.icv_size]
        return pkt

    def verify(self, pkt, key, esn_en=False, esn=0):
        icv = pkt.data[len(pkt.data) - self.icv_size:]
        clone = pkt.copy()
        clone.data = clone.data[:len(clone.data) - self.icv_size]
        mac = self.base.new_mac(key)
        mac.update(raw(clone) + struct.pack('!L', self.esn_high))
        if mac.finalize()[:self.icv_size] != icv:
            raise IPSecIntegrityError('ICV mismatch (ESN)')


def make_sa(spec, seq, esn_high):
    key = bytes.fromhex(spec['cryptKey'])
    crypt = spec['crypt']
    if crypt == 'AES-GCM' and spec['icv'] != 16:
        crypt = 'AES-GCM-TRUNCATED'
    kwargs = dict(spi=spec['spi'], seq_num=seq & 0xffffffff, crypt_algo=crypt, crypt_key=key,
                  esn_en=spec['esn'], esn=esn_high)
    if crypt.startswith('AES-GCM'):
        kwargs['crypt_icv_size'] = spec['icv']
    if spec['auth']:
        kwargs['auth_algo'] = spec['auth']
        kwargs['auth_key'] = bytes.fromhex(spec['authKey'])
    if spec['mode'] == 'tunnel':
        t = spec['tunnel']
        kwargs['tunnel_header'] = IP(src=t['src'], dst=t['dst']) if t['version'] == 4 else IPv6(src=t['src'], dst=t['dst'])
    if spec['natT']:
        kwargs['nat_t_header'] = UDP(sport=spec['natT']['sport'], dport=spec['natT']['dport'])
    sa = SecurityAssociation(ESP, **kwargs)
    if spec['auth'] and spec['esn']:
        sa.auth_algo = EsnAuth(AUTH_ALGOS[spec['auth']], esn_high)
    return sa


def parse_ip(data):
    return IP(data) if data[0] >> 4 == 4 else IPv6(data)


def encrypt(spec, packets, first_seq):
    out = []
    for n, hexpkt in enumerate(packets):
        seq = first_seq + n
        sa = make_sa(spec, seq, seq >> 32)
        pkt = sa.encrypt(parse_ip(bytes.fromhex(hexpkt)))
        if pkt.version == 4 and spec['natT']:
            del pkt[UDP].len
            pkt = IP(raw(pkt))
        out.append(raw(pkt).hex())
    return out


def strip_udp_v6(pkt):
    """IPv6 / [extension headers] / UDP / ESP -> the same without the UDP header, next header 50."""
    esp_bytes = raw(pkt[UDP].payload)
    clone = pkt.copy()
    under = clone[UDP].underlayer
    under.remove_payload()
    under.nh = 50
    del clone[IPv6].plen
    return IPv6(raw(clone / ESP(esp_bytes)))


def decrypt(spec, packets, seqs):
    out = []
    for hexpkt, seq in zip(packets, seqs):
        sa = make_sa(spec, seq, seq >> 32)
        pkt = parse_ip(bytes.fromhex(hexpkt))
        if spec['mode'] == 'transport' and pkt.version == 6 and spec['natT']:
            pkt = strip_udp_v6(pkt)
        out.append(raw(sa.decrypt(pkt, esn_en=spec['esn'], esn=seq >> 32)).hex())
    return out


def main():
    for line in sys.stdin:
        req = json.loads(line)
        try:
            if req['op'] == 'encrypt':
                packets = encrypt(req['sa'], req['packets'], req['seq'])
            else:
                packets = decrypt(req['sa'], req['packets'], req['seq'])
            answer = {'id': req['id'], 'ok': True, 'packets': packets}
        except Exception as err:  # the test reports what failed, per request
            answer = {'id': req['id'], 'ok': False, 'error': f'{type(err).__name__}: {err}'}
        sys.stdout.write(json.dumps(answer) + '\n')
        sys.stdout.flush()


if __name__ == '__main__':
    main()
