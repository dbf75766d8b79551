"""Helpers shared by the lab's impacket scripts (run by run.sh in the client namespace)."""
import hashlib

from impacket.dcerpc.v5 import transport


def step(what, fn, *a, **kw):
    """Runs one action of a scenario; a refusal is part of the scenario, so it is logged, not raised."""
    try:
        r = fn(*a, **kw)
        print('ok  ', what)
        return r
    except Exception as e:
        print('fail', what, '-', str(e).splitlines()[0][:120])
        return None


def exe_bytes(tag, n=8192):
    """A small, inert, deterministic PE-looking file (MZ header, PE signature, tag, filler)."""
    b = b'MZ' + b'\x90' * 58 + (128).to_bytes(4, 'little') + b'\x00' * 64 + b'PE\x00\x00' + tag.encode() + b' lab sample'
    s = hashlib.sha256(tag.encode()).digest()
    while len(b) < n:
        s = hashlib.sha256(s).digest()
        b += s
    return b[:n]


def bind(conn, ip, pipe, uuid):
    """A DCE/RPC binding to `uuid` over the named pipe `pipe` of an SMB connection."""
    t = transport.SMBTransport(ip, filename=pipe, smb_connection=conn)
    d = t.get_dce_rpc()
    d.connect()
    d.bind(uuid)
    return d
