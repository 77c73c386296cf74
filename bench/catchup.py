#!/usr/bin/env python3
"""Catch-up rate: how fast one client that resumes is sent N stored messages, over SSE and WebSocket.

usage: bench/catchup.py PORT N ROUNDS [CHANNEL]

Start herald-server with --history-size 0 --replay-limit 1000000 (so all N are kept and replayed). Unless
FILL=0, it first publishes N messages (100 bytes, priority and tags) to CHANNEL ("cu"); then each round a raw
client resumes from the first and reads until it has the other N-1. PID=<server pid> adds the server's CPU time
per round. Reported in bench/README.md ("Catch-up").
"""
import http.client, json, sys, time, socket, os, base64
port, n, rounds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
ch = sys.argv[4] if len(sys.argv) > 4 else 'cu'
c = http.client.HTTPConnection('127.0.0.1', port)
if os.environ.get('FILL', '1') == '1':
    first = None
    for i in range(n):
        c.request('POST', '/api/publish', json.dumps({'channel': ch, 'message': 'x' * 100 + str(i), 'priority': 4, 'tags': ['a', 'b']}), {'Content-Type': 'application/json'})
        r = json.loads(c.getresponse().read())
        if first is None: first = r['id']
else:
    first = 1
def sse():
    s = socket.create_connection(('127.0.0.1', port))
    s.sendall(f'GET /events?channels={ch} HTTP/1.1\r\nHost: 127.0.0.1\r\nLast-Event-ID: {first}\r\nAccept: text/event-stream\r\n\r\n'.encode())
    got = 0; buf = b''
    t0 = time.time()
    while got < n - 1:
        d = s.recv(1 << 20)
        if not d: break
        b = buf + d
        got += b.count(b'\nid: ')
        buf = b[-4:]
    s.close()
    return time.time() - t0, got
def ws():
    s = socket.create_connection(('127.0.0.1', port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(f'GET /ws?channels={ch}&since={first} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n'.encode())
    t0 = time.time(); buf = b''; got = 0
    # skip handshake
    while b'\r\n\r\n' not in buf: buf += s.recv(65536)
    buf = buf[buf.index(b'\r\n\r\n') + 4:]
    pos = 0
    while got < n - 1:
        while True:
            if len(buf) - pos < 2: break
            l = buf[pos + 1] & 127; off = 2
            if l == 126:
                if len(buf) - pos < 4: break
                l = int.from_bytes(buf[pos + 2:pos + 4], 'big'); off = 4
            elif l == 127:
                if len(buf) - pos < 10: break
                l = int.from_bytes(buf[pos + 2:pos + 10], 'big'); off = 10
            if len(buf) - pos < off + l: break
            if buf.find(b'"message":', pos + off, pos + off + l) >= 0: got += 1
            pos += off + l
        if got >= n - 1: break
        d = s.recv(1 << 20)
        if not d: break
        buf = buf[pos:] + d; pos = 0
    s.close()
    return time.time() - t0, got
pid = int(os.environ.get('PID', '0'))
def cpu():
    if not pid: return 0
    f = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()
    return (int(f[11]) + int(f[12])) * 10
for r in range(rounds):
    for name, f in (('sse', sse), ('ws', ws)):
        c0 = cpu(); dt, got = f(); c1 = cpu()
        print(f'{name} {got} in {dt:.3f}s = {got/dt:,.0f}/s, server cpu {c1 - c0} ms', flush=True)
