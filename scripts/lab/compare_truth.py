#!/usr/bin/python3
"""compare_truth.py A.truth.json B.truth.json [--events] [--all]

Default: the conformance view -- tree_connects {frame, proto, path}, creates {frame, proto,
filename}, users {username, domain, hostname, over_smb} -- must be identical (used to check
truth.py against ../shared/corpus). --all also compares statuses, dialects, encryption, request
and status counts and DCE/RPC binds/requests (frame, interface, opnum, operation).
--events: compare two lab runs: frames, timestamps, ports, ids and names that impacket
chooses at random (8-letter .exe names, 4-letter service names) and interim STATUS_PENDING
responses (timing) are ignored; the order of events is kept.
Exit 0 when equal; prints the differences otherwise.
"""
import json
import re
import sys

args = [a for a in sys.argv[1:] if not a.startswith('--')]
events, full = '--events' in sys.argv, '--all' in sys.argv
a, b = (json.load(open(p)) for p in args[:2])

RANDOM = [(re.compile(r'^[A-Za-z]{8}\.exe$'), 'RANDOM.exe'),           # psexec.py upload name
          (re.compile(r'(?<=RemCom_)[A-Za-z0-9]+'), 'X')]               # RemCom pipes (if reached)


def norm(s):
    if not events or not isinstance(s, str):
        return s
    for rx, rep in RANDOM:
        s = rx.sub(rep, s)
    return s


def view(t):
    fr = (lambda x: None) if events else (lambda x: x.get('frame'))
    v = {
        'tree_connects': [(fr(x), x['proto'], norm(x.get('path'))) for x in t.get('tree_connects', [])],
        'creates': [(fr(x), x['proto'], norm(x.get('filename'))) for x in t.get('creates', [])],
        'users': sorted({(u['username'], u['domain'], u['hostname'], u.get('over_smb')) for u in t.get('users', [])}),
    }
    if full or events:
        v['tree_connect_status'] = [(fr(x), x.get('nt_status')) for x in t.get('tree_connect_status', [])]
        v['create_status'] = [(fr(x), x.get('nt_status')) for x in t.get('create_status', [])]
        v['dialects'] = t.get('dialects')
        v['transform_header_messages'] = (t.get('encryption') or {}).get('transform_header_messages')
        v['smb2_request_counts'] = t.get('smb2_request_counts')
        v['smb1_request_counts'] = t.get('smb1_request_counts')
        nc = t.get('nt_status_counts') or {}
        if events:  # interim STATUS_PENDING responses depend on timing, not on what the client did
            nc = {k: {s: n for s, n in (v or {}).items() if not s.startswith('STATUS_PENDING')} for k, v in nc.items()}
        v['nt_status_counts'] = nc
        d = t.get('dcerpc') or {}
        v['binds'] = [(fr(x), x.get('pkt_type'), x.get('interface'), x.get('transport'), norm(x.get('pipe'))) for x in d.get('binds', [])]
        v['requests'] = [(fr(x), x.get('interface'), x.get('opnum'), x.get('operation'), x.get('transport')) for x in d.get('requests', [])]
    return v


va, vb = view(a), view(b)
bad = 0
for k in va:
    if va[k] != vb[k]:
        bad += 1
        if isinstance(va[k], list):
            sa, sb = [json.dumps(x) for x in va[k]], [json.dumps(x) for x in vb[k]]
            only_a = [x for x in sa if x not in sb][:8]
            only_b = [x for x in sb if x not in sa][:8]
            print('DIFF %s: %d vs %d entries; only in A: %s; only in B: %s' % (k, len(sa), len(sb), only_a, only_b))
        else:
            print('DIFF %s: %s  vs  %s' % (k, json.dumps(va[k])[:400], json.dumps(vb[k])[:400]))
sys.exit(1 if bad else 0)
