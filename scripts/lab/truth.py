#!/usr/bin/python3
"""truth.py CAPTURE [--name NAME] [--keep-going]  ->  ground-truth JSON on stdout

Computes what tshark (Wireshark's dissectors, default TCP reassembly) sees in an SMB capture,
independently of smbtrail, in the key layout of ../shared/corpus/*.truth.json:
tree_connects, tree_connect_status, creates, create_status, smb1_open_andx, users,
smb1_plain_accounts, dialects, encryption, smb2_request_counts, smb1_request_counts,
nt_status_counts, dcerpc.{binds,requests,...}, ipc_pipe_opens, hard_parts_auto, summary.

It reads `tshark -T pdml` (not `-T fields`, which joins the several SMB messages of one frame
-- compound requests, several NBSS PDUs per segment, AndX chains -- with commas): every SMB2
message is its own <proto name="smb2">, every SMB1 AndX command its own "... Request (0xNN)"
block, so each message is kept apart. `frame` is the frame in which tshark shows the message
(the last TCP segment of a reassembled PDU). Standard library only (run with /usr/bin/python3).
"""
import argparse
import collections
import hashlib
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

SMB2_CMDS = {0: 'NEGOTIATE', 1: 'SESSION_SETUP', 2: 'LOGOFF', 3: 'TREE_CONNECT', 4: 'TREE_DISCONNECT',
             5: 'CREATE', 6: 'CLOSE', 7: 'FLUSH', 8: 'READ', 9: 'WRITE', 10: 'LOCK', 11: 'IOCTL',
             12: 'CANCEL', 13: 'ECHO', 14: 'QUERY_DIRECTORY', 15: 'CHANGE_NOTIFY', 16: 'QUERY_INFO',
             17: 'SET_INFO', 18: 'OPLOCK_BREAK'}
# protocols that can follow a dcerpc PDU in a frame without being its stub dissector
NOT_STUB = {'smb2', 'smb', 'nbss', 'dcerpc', 'smb_pipe', 'tcp', 'udp', 'ip', 'ipv6', 'eth', 'frame',
            'geninfo', '_ws.malformed', '_ws.expert', 'data', 'ntlmssp', 'gss-api', 'spnego'}
SMB1_BLOCK = re.compile(r'^(.*) (Request|Response) \(0x([0-9a-fA-F]{2})\)$')
ADMIN_SHARE = re.compile(r'\\(ADMIN\$|[A-Za-z]\$)$')


def first(el, name):
    """first field called `name` anywhere below el (document order), as its element"""
    for f in el.iter('field'):
        if f.get('name') == name:
            return f
    return None


def show(el, name, default=None):
    f = first(el, name)
    return f.get('show') if f is not None else default


def showname(el, name):
    f = first(el, name)
    return f.get('showname') if f is not None else None


def allshow(el, name):
    return [f.get('show') for f in el.iter('field') if f.get('name') == name]


def status_name(sn):
    """'NT Status: STATUS_SUCCESS (0x00000000)' -> 'STATUS_SUCCESS'"""
    if not sn:
        return None
    m = re.match(r'^[^:]*:\s*(.*?)\s*\((0x[0-9a-fA-F]+)\)\s*$', sn)
    return m.group(1) if m else None


def to_int(s):
    if s is None:
        return None
    try:
        return int(s, 0)
    except ValueError:
        try:
            return int(s)
        except ValueError:
            return None


def ntlm_str(s):
    return '' if s in (None, 'NULL') else s


class Truth:
    def __init__(self):
        self.tree_connects, self.tree_connect_status = [], []
        self.creates, self.create_status, self.smb1_open_andx = [], [], []
        self.users = collections.OrderedDict()
        self.plain = collections.OrderedDict()
        self.smb2_dialect_resp, self.smb2_dialect_off, self.smb1_off = set(), set(), set()
        self.smb1_neg = False
        self.transform, self.transform_sessions = 0, set()
        self.smb2_req, self.smb1_req = collections.Counter(), collections.Counter()
        self.st2, self.st1 = collections.Counter(), collections.Counter()
        self.binds, self.requests = [], []
        self.hp = collections.Counter()
        self.streams_smb, self.streams_syn = set(), set()
        self.packets = 0

    # ------------------------------------------------------------------ per packet
    def packet(self, pkt):
        self.packets += 1
        protos = [p for p in pkt if p.tag == 'proto']
        names = [p.get('name') for p in protos]
        frame = to_int(show(protos[names.index('frame')], 'frame.number')) if 'frame' in names else self.packets
        ts = show(pkt, 'frame.time_epoch')
        base = {'frame': frame, 'ts': ts, 'src': None, 'sport': None, 'dst': None, 'dport': None, 'stream': None}
        for p in protos:
            n = p.get('name')
            if n in ('ip', 'ipv6') and base['src'] is None:
                base['src'] = show(p, n + '.src')
                base['dst'] = show(p, n + '.dst')
                if n == 'ipv6':
                    self.hp['ipv6'] += 1
            elif n == 'tcp' and base['sport'] is None:
                base['sport'] = to_int(show(p, 'tcp.srcport'))
                base['dport'] = to_int(show(p, 'tcp.dstport'))
                base['stream'] = to_int(show(p, 'tcp.stream'))
                flags = to_int(show(p, 'tcp.flags'))
                if flags is not None and flags & 0x02:
                    self.streams_syn.add(base['stream'])
                if first(p, 'tcp.analysis.retransmission') is not None or first(p, 'tcp.analysis.fast_retransmission') is not None:
                    self.hp['retrans'] += 1
                if first(p, 'tcp.analysis.lost_segment') is not None:
                    self.hp['lost'] += 1
                if first(p, 'tcp.analysis.ack_lost_segment') is not None:
                    self.hp['acked_unseen'] += 1
            elif n == 'udp' and base['sport'] is None:
                base['sport'] = to_int(show(p, 'udp.srcport'))
                base['dport'] = to_int(show(p, 'udp.dstport'))
            elif n == 'vlan':
                self.hp['vlan'] += 1
        if any(f.get('name') == 'tcp.segments' for f in pkt.iter('field')):
            self.hp['reasm'] += sum(1 for f in pkt.iter('field') if f.get('name') == 'tcp.segments')
        if '_ws.malformed' in names or any(p.get('name') == '_ws.malformed' for p in pkt.iter('proto')):
            self.hp['malformed'] += 1
        if names.count('nbss') > 1:
            self.hp['multi_nbss'] += 1
        if 'smb' in names or 'smb2' in names:
            if base['stream'] is not None:
                self.streams_smb.add(base['stream'])
            if base['sport'] not in (None, 445, 139) and base['dport'] not in (None, 445, 139):
                tr = ('tcp' if 'tcp' in names else 'udp') + '/' + str(min(base['sport'], base['dport']))
                self.hp['port:' + tr] += 1

        compound = False
        last_pipe, last_smb = None, None
        for i, p in enumerate(protos):
            n = p.get('name')
            if n == 'smb2':
                last_smb = 'smb2'
                last_pipe = None
                for f in p.iter('field'):  # tshark names the handle's file in a label only
                    lab = f.get('show') or ''
                    if f.get('name') == '' and lab.startswith('GUID handle File: '):
                        last_pipe = lab[len('GUID handle File: '):]
                        break
                if first(p, 'smb2.header.transform.flags') is not None or first(p, 'smb2.header.transform.msg_size') is not None:
                    self.transform += 1
                    sid = show(p, 'smb2.header.transform.sesid') or show(p, 'smb2.sesid')
                    if sid:
                        self.transform_sessions.add(sid)
                    continue
                co = show(p, 'smb2.chain_offset')
                if (co and to_int(co)) or show(p, 'smb2.flags.chained') == '1':
                    compound = True
                self.smb2(p, base)
            elif n == 'smb':
                last_smb = 'smb1'
                last_pipe = show(p, 'smb.file')
                self.smb1(p, base)
            elif n == 'smb_pipe':
                last_pipe = show(p, 'smb.file', last_pipe)
            elif n == 'dcerpc':
                nxt = protos[i + 1] if i + 1 < len(protos) else None
                self.dcerpc(p, nxt, base, names, last_smb, last_pipe)
        if compound:
            self.hp['compound'] += 1
        # NTLMSSP AUTHENTICATE anywhere in the frame (nested in SMB session setup, DCE/RPC auth, HTTP)
        for np in pkt.iter('proto'):
            if np.get('name') != 'ntlmssp' or to_int(show(np, 'ntlmssp.messagetype')) != 3:
                continue
            key = (ntlm_str(show(np, 'ntlmssp.auth.username')), ntlm_str(show(np, 'ntlmssp.auth.domain')),
                   ntlm_str(show(np, 'ntlmssp.auth.hostname')))
            smb = 'smb' in names or 'smb2' in names
            if key in self.users:  # one entry per account; over_smb: seen at least once over SMB
                self.users[key]['count'] += 1
                self.users[key]['over_smb'] = self.users[key]['over_smb'] or smb
            else:
                self.users[key] = {'username': key[0], 'domain': key[1], 'hostname': key[2],
                                   'first_frame': frame, 'count': 1, 'over_smb': smb}

    # ------------------------------------------------------------------ SMB2
    def smb2(self, p, base):
        cmd = to_int(show(p, 'smb2.cmd'))
        resp = show(p, 'smb2.flags.response') == '1'
        msg_id = to_int(show(p, 'smb2.msg_id'))
        sesid = show(p, 'smb2.sesid')
        cname = SMB2_CMDS.get(cmd, 'UNKNOWN_%s' % cmd)
        if resp:
            st = show(p, 'smb2.nt_status')
            self.st2['%s (%s)' % (status_name(showname(p, 'smb2.nt_status')), st)] += 1
        else:
            self.smb2_req[cname] += 1
        m = dict(base, proto='smb2', msg_id=msg_id)
        if cmd == 0:
            (self.smb2_dialect_resp if resp else self.smb2_dialect_off).update(allshow(p, 'smb2.dialect'))
        elif cmd == 3:
            m['sesid'] = sesid
            if not resp:
                m['path'] = show(p, 'smb2.tree', '')
                self.tree_connects.append(m)
            else:
                st = show(p, 'smb2.nt_status')
                m.update(nt_status=st, nt_status_name=status_name(showname(p, 'smb2.nt_status')),
                         tid=show(p, 'smb2.tid'), share_type=show(p, 'smb2.share_type'))
                self.tree_connect_status.append(m)
        elif cmd == 5:
            if not resp:
                m.update(tid=show(p, 'smb2.tid'), tree=show(p, 'smb2.tree'), filename=show(p, 'smb2.filename', ''))
                self.creates.append(m)
            else:
                m.update(nt_status=show(p, 'smb2.nt_status'), nt_status_name=status_name(showname(p, 'smb2.nt_status')),
                         fid=show(p, 'smb2.fid'))
                self.create_status.append(m)

    # ------------------------------------------------------------------ SMB1
    def smb1(self, p, base):
        hdr_cmd = to_int(show(p, 'smb.cmd'))
        resp = show(p, 'smb.flags.response') == '1'
        mid, uid = to_int(show(p, 'smb.mid')), to_int(show(p, 'smb.uid'))
        tidf = first(p, 'smb.tid')
        tid = tidf.get('show') if tidf is not None else None
        tree = show(tidf, 'smb.path') if tidf is not None else None
        blocks = [b for b in p if b.tag == 'field' and b.get('name', '') == '' and SMB1_BLOCK.match(b.get('show', ''))]
        if len(blocks) > 1:
            self.hp['andx'] += 1
        if resp:
            st = show(p, 'smb.nt_status')
            self.st1['%s (%s)' % (status_name(showname(p, 'smb.nt_status')) if st else '?', st)] += 1
        if hdr_cmd == 0x72:
            self.smb1_neg = True
            if not resp:
                self.smb1_off.update(allshow(p, 'smb.dialect.name'))
        if not blocks:  # e.g. an error response without words: count the header command
            if not resp:
                sn = showname(p, 'smb.cmd') or ''
                self.smb1_req[sn.split(': ', 1)[-1]] += 1
            return
        for b in blocks:
            mm = SMB1_BLOCK.match(b.get('show'))
            label, code = mm.group(1), int(mm.group(3), 16)
            if not resp:
                self.smb1_req['%s (0x%02x)' % (label, code)] += 1
            m = dict(base, proto='smb1', mid=mid)
            if code == 0x75:  # Tree Connect AndX
                if not resp:
                    m.update(uid=uid, path=show(b, 'smb.path', ''), service=show(b, 'smb.service'))
                    self.tree_connects.append(m)
                else:
                    st = show(p, 'smb.nt_status')
                    m.update(uid=uid, nt_status=st, nt_status_name=status_name(showname(p, 'smb.nt_status')) if st else None,
                             tid=tid, service=show(b, 'smb.service'))
                    self.tree_connect_status.append(m)
            elif code == 0xa2:  # NT Create AndX
                if not resp:
                    m.update(tid=tid, tree=tree, filename=show(b, 'smb.file', ''))
                    self.creates.append(m)
                else:
                    st = show(p, 'smb.nt_status')
                    m.update(nt_status=st, nt_status_name=status_name(showname(p, 'smb.nt_status')) if st else None,
                             fid=show(b, 'smb.fid'))
                    self.create_status.append(m)
            elif code == 0x2d and not resp:  # Open AndX
                m.update(tid=tid, tree=tree, filename=show(b, 'smb.file', ''))
                self.smb1_open_andx.append(m)
            elif code == 0x73 and not resp:  # Session Setup AndX, plaintext account (no extended security)
                acct = first(b, 'smb.account')
                if acct is not None:
                    key = (acct.get('show'), show(b, 'smb.primary_domain'))
                    if key in self.plain:
                        self.plain[key]['count'] += 1
                    else:
                        self.plain[key] = {'account': key[0], 'primary_domain': key[1], 'first_frame': base['frame'], 'count': 1}

    # ------------------------------------------------------------------ DCE/RPC
    def dcerpc(self, p, nxt, base, names, last_smb, last_pipe):
        ptype = to_int(show(p, 'dcerpc.pkt_type'))
        if 'smb2' in names or 'smb' in names:
            transport = (last_smb or ('smb2' if 'smb2' in names else 'smb1')) + '-pipe'
            pipe = last_pipe
        else:
            transport, pipe = ('tcp' if 'tcp' in names else 'udp'), None
        auth = to_int(show(p, 'dcerpc.auth_level'))
        if auth == 6:
            self.hp['privacy'] += 1
        d = dict(base, transport=transport, pipe=pipe)
        if ptype in (11, 14):
            sn = showname(p, 'dcerpc.cn_bind_to_uuid') or ''
            mi = re.match(r'^Interface:\s*(.*?)\s*UUID:', sn)
            iface = mi.group(1) if mi and mi.group(1) else None
            d.update(pkt_type='bind' if ptype == 11 else 'alter_context', call_id=to_int(show(p, 'dcerpc.cn_call_id')),
                     uuid=show(p, 'dcerpc.cn_bind_to_uuid'), interface=iface, auth_level=auth)
            self.binds.append(d)
        elif ptype == 0:
            iface = op = None
            if nxt is not None and nxt.get('name') not in NOT_STUB:
                iface = nxt.get('name')
                sn = nxt.get('showname') or ''
                op = sn.split(', ', 1)[1] if ', ' in sn else None
            d.update(call_id=to_int(show(p, 'dcerpc.cn_call_id') or show(p, 'dcerpc.dg_seqnum')),
                     ctx_id=to_int(show(p, 'dcerpc.cn_ctx_id')), opnum=to_int(show(p, 'dcerpc.opnum')),
                     interface=iface, operation=op, auth_level=auth)
            self.requests.append(d)

    # ------------------------------------------------------------------ result
    def result(self):
        users = list(self.users.values())
        creates_names = sorted({c['filename'] for c in self.creates})
        ipc = collections.Counter()
        for c in self.creates:
            if c.get('tree') and str(c['tree']).upper().endswith('\\IPC$'):
                ipc[c['filename'].lstrip('\\').lower()] += 1
        bound = collections.Counter(b['interface'] for b in self.binds if b['interface'])
        ops = collections.defaultdict(collections.Counter)
        for r in self.requests:
            if r['interface']:
                ops[r['interface']]['%s:%s' % (r['opnum'], r['operation'])] += 1
        transports = collections.Counter(x['transport'] for x in self.binds + self.requests)
        hp = []
        if self.hp['reasm']:
            hp.append('PDUs spanning several TCP segments (%d reassemblies)' % self.hp['reasm'])
        mid = len(self.streams_smb - self.streams_syn)
        if mid:
            hp.append('midstream start (%d/%d SMB TCP streams without SYN)' % (mid, len(self.streams_smb)))
        if self.hp['compound']:
            hp.append('SMB2 compound requests/responses (%d frames)' % self.hp['compound'])
        if self.hp['multi_nbss']:
            hp.append('several NBSS PDUs in one segment (%d frames)' % self.hp['multi_nbss'])
        if self.hp['andx']:
            hp.append('SMB1 AndX chains (%d)' % self.hp['andx'])
        if self.transform:
            hp.append('SMB3 encrypted (transform headers: %d)' % self.transform)
        if self.hp['privacy']:
            hp.append('DCE/RPC packet privacy (encrypted stubs)')
        if self.hp['retrans']:
            hp.append('retransmissions (%d)' % self.hp['retrans'])
        if self.hp['lost']:
            hp.append('lost/missing segments (gaps) (%d)' % self.hp['lost'])
        if self.hp['acked_unseen']:
            hp.append('ACKed-unseen segments (%d)' % self.hp['acked_unseen'])
        if self.hp['malformed']:
            hp.append('tshark malformed (%d frames)' % self.hp['malformed'])
        if self.hp['ipv6']:
            hp.append('IPv6 (%d frames)' % self.hp['ipv6'])
        if self.hp['vlan']:
            hp.append('VLAN-tagged (%d frames)' % self.hp['vlan'])
        other = sorted(k[5:] for k in self.hp if k.startswith('port:'))
        if other:
            hp.append('SMB on other ports/transports: ' + ','.join(other))
        tree_paths = sorted({t['path'] for t in self.tree_connects})
        ind = []
        adm = [t for t in tree_paths if ADMIN_SHARE.search(t or '')]
        if adm:
            ind.append('admin share tree connect (%s)' % ','.join(adm))
        if any('psexesvc' in (c['filename'] or '').lower() for c in self.creates):
            ind.append('PsExec (PSEXESVC)')
        if 'svcctl' in ops:
            ind.append('svcctl DCE/RPC ops=' + ','.join(sorted(ops['svcctl'])))
        if 'atsvc' in ops:
            ind.append('atsvc (scheduled task) ops=' + ','.join(sorted(ops['atsvc'])))
        for b in sorted({b['interface'].lower() for b in self.binds if b['interface']} - {'svcctl', 'atsvc'}):
            ind.append(b + ' bind')
        return {
            'tree_connects': self.tree_connects,
            'tree_connect_status': self.tree_connect_status,
            'creates': self.creates,
            'create_status': self.create_status,
            'smb1_open_andx': self.smb1_open_andx,
            'users': users,
            'smb1_plain_accounts': list(self.plain.values()),
            'dialects': {'smb2_negotiate_response': sorted(self.smb2_dialect_resp),
                         'smb2_offered': sorted(self.smb2_dialect_off),
                         'smb1_negotiate_seen': self.smb1_neg, 'smb1_offered': sorted(self.smb1_off)},
            'encryption': {'transform_header_messages': self.transform,
                           'transform_sessions': sorted(self.transform_sessions),
                           'tshark_field': 'smb2.header.transform.* (ProtocolId 0xfd534d42); payload not decrypted (no keys)'},
            'smb2_request_counts': dict(sorted(self.smb2_req.items())),
            'smb1_request_counts': dict(sorted(self.smb1_req.items())),
            'nt_status_counts': {'smb2_responses': dict(self.st2.most_common()),
                                 'smb1_responses': dict(self.st1.most_common())},
            'dcerpc': {'binds': self.binds, 'requests': self.requests,
                       'bound_interfaces': dict(bound.most_common()),
                       'request_ops_by_interface': {k: dict(v.most_common()) for k, v in ops.items()},
                       'transports': dict(transports.most_common())},
            'ipc_pipe_opens': dict(ipc.most_common()),
            'hard_parts_auto': hp,
            'summary': {'tree_paths': tree_paths, 'create_filenames_distinct': len(creates_names),
                        'create_filenames_sample': creates_names[:40],
                        'ipc_pipes': sorted(ipc), 'rpc_interfaces_bound': sorted(bound),
                        'rpc_interfaces_in_requests': sorted(ops),
                        'users': ['%s\\%s@%s' % (u['domain'], u['username'], u['hostname']) for u in users],
                        'indicators': ind},
        }


def capinfo(path):
    r = subprocess.run(['capinfos', '-T', '-r', '-t', '-E', '-c', path], capture_output=True, text=True)
    parts = r.stdout.strip().split('\t')
    return {'capinfos_rc': r.returncode, 'capinfos_err': r.stderr.strip(),
            'file_type': parts[1] if len(parts) > 1 else None,
            'encapsulation': parts[2] if len(parts) > 2 else None,
            'packets': parts[3] if len(parts) > 3 else None}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('capture')
    ap.add_argument('--name', help='value of "file" (default: the path as given)')
    ap.add_argument('--tshark', default='tshark')
    ap.add_argument('-d', dest='decode_as', action='append', default=[],
                    help="passed to tshark as -d (decode-as), e.g. 'tcp.port==4445,nbss'")
    a = ap.parse_args()
    data = open(a.capture, 'rb').read()
    ver = subprocess.run([a.tshark, '--version'], capture_output=True, text=True).stdout.splitlines()[0]
    out = {'file': a.name or a.capture, 'sha256': hashlib.sha256(data).hexdigest(), 'bytes': len(data),
           'tshark_version': ver, 'capinfo': capinfo(a.capture)}
    t = Truth()
    extra = [x for d in a.decode_as for x in ('-d', d)]
    proc = subprocess.Popen([a.tshark, '-n', '-r', a.capture] + extra + ['-T', 'pdml'], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=dict(os.environ, LC_ALL='C.UTF-8'))
    # tshark's PDML can carry characters XML forbids (e.g. U+FFFE from a UTF-16 BOM, control
    # bytes in a malformed name): drop them line by line before the parser sees them.
    bad = re.compile('[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]')
    badref = re.compile(r'&#(x0*(?:[0-8bcef]|1[0-9a-f]|fff[ef])|0*(?:[0-8]|1[1-24-9]|2[0-9]|3[01]|6553[45]));', re.I)
    parser = ET.XMLPullParser(events=('end',))
    for raw in proc.stdout:
        line = badref.sub('', bad.sub('', raw.decode('utf-8', 'replace')))
        parser.feed(line)
        for ev, el in parser.read_events():
            if el.tag == 'packet':
                t.packet(el)
                el.clear()
    parser.close()
    proc.wait()
    err = proc.stderr.read().decode('utf-8', 'replace').strip()
    if proc.returncode != 0:
        sys.exit('truth.py: tshark failed (%d): %s' % (proc.returncode, err))
    out.update(t.result())
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
