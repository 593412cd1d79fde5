#!/usr/bin/python3
"""Oplocks and leases through impacket's SMB3 client (a client that caches).

Reads one JSON job on stdin ({host, port, user, password, share}) and prints one
JSON object: what the server granted, the break notifications the holder saw,
the status of its acknowledgments, and how the conflicting open ended.

Holder A opens with a batch oplock (then, on a second file, a v1 lease RWH);
client B opens the same file from another connection in a thread, which must
wait until A acknowledges the break that the server sends A unsolicited.
"""
import json
import struct
import sys
import threading

from impacket import smb3structs as s
from impacket.smb3structs import SMB2_DIALECT_30, SMB2Packet
from impacket.smbconnection import SMBConnection

BREAK_MESSAGE_ID = 0xFFFFFFFFFFFFFFFF
RWH = s.SMB2_LEASE_READ_CACHING | s.SMB2_LEASE_WRITE_CACHING | s.SMB2_LEASE_HANDLE_CACHING


def connect(job):
    conn = SMBConnection(job['host'], job['host'], sess_port=job['port'], preferredDialect=SMB2_DIALECT_30, timeout=30)
    conn.login(job['user'], job['password'])
    smb = conn.getSMBServer()
    tid = conn.connectTree(job['share'])
    return conn, smb, tid


def capture_responses(smb):
    """Keeps the last response impacket read, so the CREATE response's OplockLevel and contexts can be seen."""
    seen = {}
    original = smb.recvSMB

    def recv(packet_id=None):
        answer = original(packet_id)
        seen['last'] = answer
        return answer

    smb.recvSMB = recv
    return seen


def create(smb, seen, tid, name, oplock, contexts=None):
    fid = smb.create(tid, name, s.FILE_READ_DATA | s.FILE_WRITE_DATA, s.FILE_SHARE_READ | s.FILE_SHARE_WRITE | s.FILE_SHARE_DELETE,
                     s.FILE_NON_DIRECTORY_FILE, s.FILE_OPEN_IF, 0, oplockLevel=oplock, createContexts=contexts)
    response = s.SMB2Create_Response(seen['last']['Data'])
    return fid, response


def lease_context(key, state):
    lease = s.SMB2_CREATE_REQUEST_LEASE()
    lease['LeaseKey'] = key
    lease['LeaseState'] = state
    lease['LeaseFlags'] = 0
    lease['LeaseDuration'] = 0
    ctx = s.SMB2CreateContext()
    ctx['Buffer'] = b'RqLs' + b'\x00' * 4 + lease.getData()
    ctx['NameOffset'] = 16
    ctx['NameLength'] = 4
    ctx['DataOffset'] = 24
    ctx['DataLength'] = len(lease.getData())
    ctx['Next'] = 0
    return ctx


def granted_lease_state(body, response):
    """The LeaseState of the first create context of a CREATE response body (None when there is none)."""
    if response['CreateContextsLength'] == 0:
        return None
    start = response['CreateContextsOffset'] - 64
    data_offset = struct.unpack_from('<H', body, start + 10)[0]
    return struct.unpack_from('<I', body, start + data_offset + 16)[0]


def next_break(smb):
    """Reads messages until the unsolicited OPLOCK_BREAK notification arrives."""
    while True:
        packet = SMB2Packet(smb._NetBIOSSession.recv_packet(30).get_trailer())
        if packet['Command'] == s.SMB2_OPLOCK_BREAK and packet['MessageID'] == BREAK_MESSAGE_ID:
            return packet
        smb._Connection['OutstandingResponses'][packet['MessageID']] = packet


def acknowledge(smb, tid, body):
    packet = SMB2Packet()
    packet['Command'] = s.SMB2_OPLOCK_BREAK
    packet['TreeID'] = tid
    packet['Data'] = body
    packet_id = smb.sendSMB(packet)
    return smb.recvSMB(packet_id)['Status']


def contend(job, name, out, key):
    def run():
        try:
            conn, smb, tid = connect(job)
            seen = capture_responses(smb)
            fid, response = create(smb, seen, tid, name, s.SMB2_OPLOCK_LEVEL_BATCH)
            out[key] = {'ok': True, 'oplock': response['OplockLevel']}
            smb.close(tid, fid)
            conn.logoff()
        except Exception as exc:  # noqa: BLE001 - reported to the test
            out[key] = {'ok': False, 'error': '%s: %s' % (type(exc).__name__, exc)}

    t = threading.Thread(target=run)
    t.start()
    return t


def main():
    job = json.load(sys.stdin)
    out = {}
    conn, smb, tid = connect(job)
    seen = capture_responses(smb)

    # Batch oplock, broken to level II by B's open and acknowledged by A.
    fid, response = create(smb, seen, tid, 'oplock.txt', s.SMB2_OPLOCK_LEVEL_BATCH)
    out['batchGranted'] = response['OplockLevel']
    waiter = contend(job, 'oplock.txt', out, 'oplockContender')
    notification = next_break(smb)
    brk = s.SMB2OplockBreakNotification(notification['Data'])
    out['oplockBreakTo'] = brk['OplockLevel']
    ack = s.SMB2OplockBreakAcknowledgment()
    ack['OplockLevel'] = brk['OplockLevel']
    ack['FileID'] = brk['FileID'].getData() if hasattr(brk['FileID'], 'getData') else brk['FileID']
    out['oplockAckStatus'] = acknowledge(smb, tid, ack)
    waiter.join(60)
    smb.close(tid, fid)

    # A v1 lease RWH, broken to RH by B's open (B asks for a batch oplock and gets none beside H caching).
    key = b'\x11' * 16
    fid, response = create(smb, seen, tid, 'lease.txt', s.SMB2_OPLOCK_LEVEL_LEASE, [lease_context(key, RWH)])
    out['leaseOplockLevel'] = response['OplockLevel']
    out['leaseGranted'] = granted_lease_state(seen['last']['Data'], response)
    waiter = contend(job, 'lease.txt', out, 'leaseContender')
    notification = next_break(smb)
    lb = s.SMB2LeaseBreakNotification(notification['Data'])
    out['leaseBreak'] = {'from': lb['CurrentLeaseState'], 'to': lb['NewLeaseState'], 'flags': lb['Flags']}
    lack = s.SMB2LeaseBreakAcknowledgement()
    lack['LeaseKey'] = key
    lack['LeaseState'] = lb['NewLeaseState']
    out['leaseAckStatus'] = acknowledge(smb, tid, lack)
    waiter.join(60)
    smb.close(tid, fid)
    conn.logoff()
    print(json.dumps(out))


if __name__ == '__main__':
    main()
