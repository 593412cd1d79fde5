#!/usr/bin/python3
"""Run a JSON job of SMB operations through impacket's SMBConnection.

Reads one JSON object on stdin (credentials travel here, never in argv) and
prints one JSON object on stdout. Errors are reported per operation with the
NTSTATUS name (e.g. STATUS_OBJECT_NAME_NOT_FOUND); the run itself exits 0
unless the job could not be parsed.
"""
import base64
import json
import struct
import sys
import traceback

from impacket import nt_errors
from impacket.smb3structs import SMB2_0_INFO_FILE, SMB2_DIALECT_002, SMB2_DIALECT_21, SMB2_DIALECT_30
from impacket.smbconnection import SMBConnection, SessionError

DIALECTS = {
    '2.0.2': SMB2_DIALECT_002,
    '2.1': SMB2_DIALECT_21,
    '3.0': SMB2_DIALECT_30,
}
DIALECT_NAMES = {v: k for k, v in DIALECTS.items()}
DIALECT_NAMES.update({0x0302: '3.0.2', 0x0311: '3.1.1'})


def status_of(exc):
    """Map an exception to {status, code, message}."""
    code = None
    if isinstance(exc, SessionError):
        code = exc.getErrorCode()
    elif hasattr(exc, 'getErrorCode'):
        try:
            code = exc.getErrorCode()
        except Exception:  # noqa: BLE001 - best effort
            code = None
    if isinstance(code, int):
        entry = nt_errors.ERROR_MESSAGES.get(code)
        name = entry[0] if entry else '0x%08x' % code
        return {'status': name, 'code': code, 'message': str(exc)}
    return {'status': 'EXCEPTION', 'code': None, 'message': '%s: %s' % (type(exc).__name__, exc)}


def run_op(conn, share, op):
    kind = op['op']
    if kind == 'listShares':
        return [s['shi1_netname'][:-1] for s in conn.listShares()]
    if kind == 'listPath':
        files = conn.listPath(op.get('share', share), op.get('path', '*'))
        return [{
            'name': f.get_longname(),
            'size': f.get_filesize(),
            'isDirectory': bool(f.is_directory()),
            'attributes': f.get_attributes(),
        } for f in files]
    if kind == 'putFile':
        with open(op['local'], 'rb') as fh:
            conn.putFile(op.get('share', share), op['remote'], fh.read)
        return None
    if kind == 'getFile':
        with open(op['local'], 'wb') as fh:
            conn.getFile(op.get('share', share), op['remote'], fh.write)
        return None
    if kind == 'createDirectory':
        conn.createDirectory(op.get('share', share), op['path'])
        return None
    if kind == 'deleteDirectory':
        conn.deleteDirectory(op.get('share', share), op['path'])
        return None
    if kind == 'deleteFile':
        conn.deleteFile(op.get('share', share), op['path'])
        return None
    if kind == 'rename':
        conn.rename(op.get('share', share), op['from'], op['to'])
        return None
    if kind in ('setEas', 'getEas', 'eaSize'):
        return run_ea(conn, op.get('share', share), op)
    if kind == 'pipe':
        return run_pipe(conn, op)
    if kind == 'lsa':
        return run_lsa(conn, op)
    raise ValueError('unknown op %r' % kind)


# FILE_READ_EA | FILE_WRITE_EA | FILE_READ_ATTRIBUTES | SYNCHRONIZE
EA_ACCESS = 0x00100098


def full_ea_list(eas):
    """FILE_FULL_EA_INFORMATION (MS-FSCC 2.4.15) built here, not by smbkit's encoder: entries 4-byte aligned."""
    out = b''
    for i, ea in enumerate(eas):
        name = ea['name'].encode('ascii')
        value = base64.b64decode(ea['value'])
        entry = struct.pack('<IBBH', 0, 0, len(name), len(value)) + name + b'\0' + value
        if i < len(eas) - 1:
            entry += b'\0' * (-len(entry) % 4)
            entry = struct.pack('<I', len(entry)) + entry[4:]
        out += entry
    return out


def get_ea_list(names):
    """FILE_GET_EA_INFORMATION (MS-FSCC 2.4.15.1)."""
    out = b''
    for i, n in enumerate(names):
        name = n.encode('ascii')
        entry = struct.pack('<IB', 0, len(name)) + name + b'\0'
        if i < len(names) - 1:
            entry += b'\0' * (-len(entry) % 4)
            entry = struct.pack('<I', len(entry)) + entry[4:]
        out += entry
    return out


def parse_full_ea_list(data):
    eas = []
    pos = 0
    while pos < len(data):
        nxt, flags, name_len, value_len = struct.unpack_from('<IBBH', data, pos)
        name = data[pos + 8:pos + 8 + name_len].decode('ascii')
        value = data[pos + 9 + name_len:pos + 9 + name_len + value_len]
        eas.append({'name': name, 'value': base64.b64encode(value).decode(), 'flags': flags})
        if nxt == 0:
            break
        pos += nxt
    return eas


def run_ea(conn, share, op):
    """SET_INFO / QUERY_INFO FileFullEaInformation (class 15) and FileEaInformation (class 7) on one file."""
    tid = conn.connectTree(share)
    fid = conn.openFile(tid, op['path'], desiredAccess=EA_ACCESS, shareMode=7)
    smb = conn.getSMBServer()
    try:
        if op['op'] == 'setEas':
            smb.setInfo(tid, fid, full_ea_list(op['eas']), SMB2_0_INFO_FILE, 15)
            return None
        if op['op'] == 'eaSize':
            return struct.unpack('<I', smb.queryInfo(tid, fid, b'', SMB2_0_INFO_FILE, 7)[:4])[0]
        blob = get_ea_list(op['names']) if op.get('names') else b''
        return parse_full_ea_list(smb.queryInfo(tid, fid, blob, SMB2_0_INFO_FILE, 15, 0, 1))  # SL_RESTART_SCAN
    finally:
        conn.closeFile(tid, fid)
        conn.disconnectTree(tid)


# Generic read + write as file rights, what Windows asks of named pipes.
PIPE_ACCESS = 0x0012019f


def run_pipe(conn, op):
    """Open a named pipe on IPC$ and run its steps; each step's outcome is reported, the pipe closed at the end."""
    tid = conn.connectTree('IPC$')
    try:
        fid = conn.openFile(tid, op['name'], desiredAccess=PIPE_ACCESS, shareMode=3, creationOption=0)
    except Exception as exc:  # noqa: BLE001
        conn.disconnectTree(tid)
        raise exc
    steps = []
    try:
        for step in op.get('steps', []):
            out = {'ok': True}
            try:
                if 'write' in step:
                    out['value'] = conn.writeNamedPipe(tid, fid, base64.b64decode(step['write']))
                elif 'read' in step:
                    out['value'] = base64.b64encode(conn.readNamedPipe(tid, fid, step['read'])).decode()
                elif 'transact' in step:
                    out['value'] = base64.b64encode(conn.transactNamedPipe(tid, fid, base64.b64decode(step['transact']))).decode()
                else:
                    raise ValueError('unknown pipe step %r' % step)
            except Exception as exc:  # noqa: BLE001
                out = {'ok': False}
                out.update(status_of(exc))
            steps.append(out)
    finally:
        try:
            conn.closeFile(tid, fid)
        finally:
            conn.disconnectTree(tid)
    return steps


def sid_text(sid):
    return sid.formatCanonical() if sid else None


def lsa_call(dce, state, call):
    """One lsarpc call through impacket's lsad/lsat helpers; returns a JSON-able value."""
    from impacket.dcerpc.v5 import lsad, lsat
    from impacket.dcerpc.v5.dtypes import MAXIMUM_ALLOWED
    name = call['call']
    if name in ('openPolicy', 'openPolicy2'):
        helper = lsad.hLsarOpenPolicy2 if name == 'openPolicy2' else lsad.hLsarOpenPolicy
        state['handle'] = helper(dce, MAXIMUM_ALLOWED | lsat.POLICY_LOOKUP_NAMES)['PolicyHandle']
        return None
    if name in ('queryInfo', 'queryInfo2'):
        helper = lsad.hLsarQueryInformationPolicy2 if name == 'queryInfo2' else lsad.hLsarQueryInformationPolicy
        info = helper(dce, state['handle'], call['level'])['PolicyInformation']
        if call['level'] == 3:
            return {'name': info['PolicyPrimaryDomainInfo']['Name'], 'sid': sid_text(info['PolicyPrimaryDomainInfo']['Sid'])}
        if call['level'] == 5:
            return {'name': info['PolicyAccountDomainInfo']['DomainName'], 'sid': sid_text(info['PolicyAccountDomainInfo']['DomainSid'])}
        return {'name': info['PolicyDnsDomainInfo']['Name'], 'sid': sid_text(info['PolicyDnsDomainInfo']['Sid'])}
    if name == 'lookupNames':
        helper = {1: lsat.hLsarLookupNames, 2: lsat.hLsarLookupNames2, 3: lsat.hLsarLookupNames3}[call['version']]
        res = helper(dce, state['handle'], call['names'])
        domains = [{'name': d['Name'], 'sid': sid_text(d['Sid'])} for d in res['ReferencedDomains']['Domains']]
        sids = []
        for t in res['TranslatedSids']['Sids']:
            entry = {'use': t['Use'], 'domainIndex': t['DomainIndex']}
            if call['version'] == 3:
                entry['sid'] = sid_text(t['Sid'])
            else:
                entry['rid'] = t['RelativeId']
            sids.append(entry)
        return {'status': res['ErrorCode'], 'mapped': res['MappedCount'], 'domains': domains, 'sids': sids}
    if name == 'lookupSids':
        helper = {1: lsat.hLsarLookupSids, 2: lsat.hLsarLookupSids2}[call['version']]
        res = helper(dce, state['handle'], call['sids'])
        domains = [{'name': d['Name'], 'sid': sid_text(d['Sid'])} for d in res['ReferencedDomains']['Domains']]
        names = [{'use': t['Use'], 'name': t['Name'], 'domainIndex': t['DomainIndex']} for t in res['TranslatedNames']['Names']]
        return {'status': res['ErrorCode'], 'mapped': res['MappedCount'], 'domains': domains, 'names': names}
    if name == 'getUserName':
        # impacket models DomainName with one pointer level where the IDL has two: ask for the account only.
        return {'user': lsat.hLsarGetUserName(dce)['UserName']}
    if name == 'close':
        lsad.hLsarClose(dce, state['handle'])
        return None
    if name == 'raw':
        dce.call(call['opnum'], base64.b64decode(call.get('stub', '')))
        return base64.b64encode(dce.recv()).decode()
    raise ValueError('unknown lsa call %r' % name)


def run_lsa(conn, op):
    """Bind lsarpc over \\pipe\\lsarpc on this session and run the calls; each reports ok, or its status."""
    from impacket.dcerpc.v5 import lsat, transport
    from impacket.dcerpc.v5.rpcrt import DCERPCException
    rpct = transport.SMBTransport(conn.getRemoteHost(), filename=r'\lsarpc', smb_connection=conn)
    dce = rpct.get_dce_rpc()
    dce.connect()
    dce.bind(lsat.MSRPC_UUID_LSAT)
    state = {}
    out = []
    try:
        for call in op['calls']:
            res = {'call': call['call'], 'ok': True}
            try:
                value = lsa_call(dce, state, call)
                if value is not None:
                    res['value'] = value
            except DCERPCException as exc:
                res['ok'] = False
                res['message'] = str(exc)
                code = exc.get_error_code()
                res['code'] = code if isinstance(code, int) else None
            out.append(res)
    finally:
        dce.disconnect()
    return out


def main():
    try:
        job = json.load(sys.stdin)
    except Exception as exc:  # noqa: BLE001
        print(json.dumps({'fatal': 'bad job: %s' % exc}))
        return 2

    out = {'connected': False, 'loggedIn': False, 'dialect': None, 'error': None, 'results': []}
    host = job['host']
    port = int(job.get('port', 445))
    dialect = job.get('dialect')
    preferred = DIALECTS[dialect] if dialect else None
    timeout = int(job.get('timeout', 30))
    conn = None
    try:
        conn = SMBConnection(host, host, sess_port=port, timeout=timeout, preferredDialect=preferred)
        out['connected'] = True
        d = conn.getDialect()
        out['dialect'] = DIALECT_NAMES.get(d, str(d))
        if job.get('anonymous'):
            conn.login('', '')
        else:
            conn.login(job.get('user', ''), job.get('password', ''), job.get('domain', ''))
        out['loggedIn'] = True
        out['signing'] = bool(conn.isSigningRequired())
    except Exception as exc:  # noqa: BLE001
        out['error'] = status_of(exc)
        if job.get('debug'):
            out['error']['trace'] = traceback.format_exc()
    if out['loggedIn']:
        for op in job.get('ops', []):
            res = {'op': op['op'], 'ok': True}
            try:
                value = run_op(conn, job.get('share', ''), op)
                if value is not None:
                    res['value'] = value
            except Exception as exc:  # noqa: BLE001
                res['ok'] = False
                res.update(status_of(exc))
                if job.get('debug'):
                    res['trace'] = traceback.format_exc()
            out['results'].append(res)
    if conn is not None:
        try:
            conn.logoff()
        except Exception:  # noqa: BLE001 - the server may have dropped us already
            pass
        try:
            conn.close()
        except Exception:  # noqa: BLE001
            pass
    print(json.dumps(out))
    return 0


if __name__ == '__main__':
    sys.exit(main())
