# SPDX-License-Identifier: MIT
"""sluiced --backend dpdk end to end, with the Linux kernel as the TCP peer.

Two network namespaces made here and removed at the end, joined by a veth pair: the server
namespace holds one end, driven by DPDK's net_af_packet port (sluiced's own TCP/IPv4 stack
answers as 10.250.0.1, the kernel has no address there); the client namespace holds the other
end as 10.250.0.2/24 with transmit checksum offload turned off (a veth otherwise sends
unfinished TCP checksums). These addresses exist only inside the two namespaces.

Checks, each message read back with `sluice-spool cat` (or export) and compared byte for byte:
  1. swaks sends one message (exit 0, "250 ... queued as");
  2. smtplib sends messages of 200 bytes to 300 KB, several on one connection;
  3. 220 connections open at once, each sends one message after all are greeted;
  4. SIGTERM: sluiced exits 0, the spool verifies;
  5. a second sluiced behind a third namespace whose relay (AF_PACKET, in this script) loses,
     duplicates and reorders frames both ways: 8 messages of 60 KB, byte-exact.
Every wait has a timeout. Needs root, ip, ethtool, swaks and a sluiced built with DPDK; exits
77 (skip) without them. Set SLUICE_E2E_KEEP=1 to keep the spool and the log.
"""

import collections
import ctypes
import os
import random
import re
import select
import socket
import smtplib
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'e2e'))
import sluice_harness as h  # noqa: E402

SERVER_IP = '10.250.0.1'
CLIENT_IP = '10.250.0.2'
PORT = 2525
CLONE_NEWNET = 0x40000000
CONCURRENT = 220
ETH_P_ALL = 3
PACKET_OUTGOING = 4


class Net:
    """The namespaces and veth pairs; remove() always runs (finally). With relay=True a third
    namespace sits between server and client: two veth pairs, joined by Relay."""

    def __init__(self, ip, relay=False):
        tag = f'{os.getpid() % 100000}{"r" if relay else ""}'
        self.ip = ip
        self.relay = relay
        self.ns_srv = f'sluice-dpdk-s{tag}'
        self.ns_cli = f'sluice-dpdk-c{tag}'
        self.ns_mid = f'sluice-dpdk-m{tag}'
        self.if_srv = f'sdk{tag}s'
        self.if_cli = f'sdk{tag}c'
        self.if_mid_s = f'sdk{tag}a'  # peer of if_srv in ns_mid
        self.if_mid_c = f'sdk{tag}b'  # peer of if_cli in ns_mid
        self.made = []

    def run(self, *argv, ns=None, check=True):
        full = ([self.ip, 'netns', 'exec', ns] if ns else []) + list(argv)
        r = subprocess.run(full, capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise RuntimeError(f'{" ".join(full)}: {r.stderr.decode(errors="replace")}')
        return r

    def create(self, ethtool):
        for ns in (self.ns_srv, self.ns_cli) + ((self.ns_mid,) if self.relay else ()):
            self.run(self.ip, 'netns', 'add', ns)
            self.made.append(ns)
        if self.relay:
            self.pair(self.if_srv, self.ns_srv, self.if_mid_s, self.ns_mid)
            self.pair(self.if_cli, self.ns_cli, self.if_mid_c, self.ns_mid)
            for i in (self.if_mid_s, self.if_mid_c):
                self.run('sysctl', '-qw', f'net.ipv6.conf.{i}.disable_ipv6=1', ns=self.ns_mid,
                         check=False)
                self.run(ethtool, '-K', i, 'tx', 'off', ns=self.ns_mid, check=False)
                self.run(self.ip, 'link', 'set', i, 'up', ns=self.ns_mid)
        else:
            self.pair(self.if_srv, self.ns_srv, self.if_cli, self.ns_cli)
        c, s = self.ns_cli, self.ns_srv
        self.run(self.ip, 'addr', 'add', f'{CLIENT_IP}/24', 'dev', self.if_cli, ns=c)
        self.run(self.ip, 'link', 'set', self.if_cli, 'up', ns=c)
        self.run(self.ip, 'link', 'set', 'lo', 'up', ns=c)
        self.run(ethtool, '-K', self.if_cli, 'tx', 'off', ns=c)
        self.run('sysctl', '-qw', f'net.ipv6.conf.{self.if_srv}.disable_ipv6=1', ns=s,
                 check=False)
        self.run('sysctl', '-qw', f'net.ipv6.conf.{self.if_cli}.disable_ipv6=1', ns=c,
                 check=False)
        self.run(self.ip, 'link', 'set', self.if_srv, 'up', ns=s)

    def pair(self, a, ns_a, b, ns_b):
        self.run(self.ip, 'link', 'add', a, 'type', 'veth', 'peer', 'name', b)
        self.made.append(a)
        self.run(self.ip, 'link', 'set', a, 'netns', ns_a)
        self.run(self.ip, 'link', 'set', b, 'netns', ns_b)

    def remove(self):
        # Deleting a namespace deletes the veth ends inside it, and with them the pairs.
        for ns in (self.ns_cli, self.ns_srv, self.ns_mid):
            if ns in self.made:
                self.run(self.ip, 'netns', 'delete', ns, check=False)
        for i in (self.if_srv, self.if_cli):
            if i in self.made:  # only if still in this namespace (a failed move)
                self.run(self.ip, 'link', 'delete', i, check=False)
        self.made = []


class Relay:
    """Forwards Ethernet frames between two interfaces of the middle namespace (AF_PACKET),
    losing, duplicating and reordering some of them, until stop(). Bounded: it ends by itself
    after max_seconds."""

    def __init__(self, net, loss, dup, reorder, seed, max_seconds=120):
        self.net, self.loss, self.dup, self.reorder = net, loss, dup, reorder
        self.rng = random.Random(seed)
        self.max_seconds = max_seconds
        self.stats = collections.Counter()
        self.stopping = threading.Event()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=in_netns, args=(net.ns_mid, self.loop))
        self.thread.start()
        self.ready.wait(10)

    def loop(self):
        socks = []
        for name in (self.net.if_mid_s, self.net.if_mid_c):
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            s.bind((name, 0))
            socks.append(s)
        other = {socks[0]: socks[1], socks[1]: socks[0]}
        held = {}  # out socket -> (frame, deadline)
        self.ready.set()
        end = time.monotonic() + self.max_seconds
        try:
            while not self.stopping.is_set() and time.monotonic() < end:
                r, _, _ = select.select(socks, [], [], 0.002)
                for s in r:
                    data, addr = s.recvfrom(65535)
                    if addr[2] == PACKET_OUTGOING:
                        continue
                    self.forward(other[s], data, held)
                now = time.monotonic()
                for out, (data, deadline) in list(held.items()):
                    if now >= deadline:
                        del held[out]
                        out.send(data)
        finally:
            for s in socks:
                s.close()

    def forward(self, out, data, held):
        x = self.rng.random()
        self.stats['frames'] += 1
        if x < self.loss:
            self.stats['lost'] += 1
            return
        if out not in held and x < self.loss + self.reorder:
            held[out] = (data, time.monotonic() + 0.004)  # goes after the next frame
            self.stats['reordered'] += 1
            return
        out.send(data)
        if x > 1 - self.dup:
            out.send(data)
            self.stats['duplicated'] += 1
        if out in held:
            out.send(held.pop(out)[0])

    def stop(self):
        self.stopping.set()
        self.thread.join(10)


def in_netns(ns, fn, *args):
    """Run fn(*args) on a thread that joined namespace ns; threads it starts stay there."""
    out = {}

    def body():
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(f'/var/run/netns/{ns}', os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                out['error'] = OSError(ctypes.get_errno(), 'setns')
                return
        finally:
            os.close(fd)
        try:
            out['result'] = fn(*args)
        except Exception as e:  # reported by the caller
            out['error'] = e

    th = threading.Thread(target=body)
    th.start()
    th.join(600)
    if 'error' in out:
        raise out['error']
    return out.get('result')


def send_messages(msgs, timeout=30):
    """One smtplib connection; msgs: [(sender, rcpts, bytes)] -> [queue id or error text]."""
    ids = []
    with smtplib.SMTP(SERVER_IP, PORT, local_hostname='client.example', timeout=timeout) as s:
        s.ehlo()
        for sender, rcpts, msg in msgs:
            code, text = s.mail(sender)
            for r in rcpts:
                code = s.rcpt(r)[0] if code == 250 else code
            if code == 250:
                code, text = s.data(msg)
            ids.append(h.queued_id(text.decode('utf-8', 'replace')) if code == 250
                       else f'{code} {text!r}')
    return ids


def concurrent_clients(msgs):
    """Open len(msgs) connections, greet all, then each sends its message."""
    n = len(msgs)
    barrier = threading.Barrier(n, timeout=60)
    res = [None] * n

    def one(i):
        try:
            with smtplib.SMTP(SERVER_IP, PORT, local_hostname='client.example',
                              timeout=60) as s:
                s.ehlo()
                barrier.wait()
                s.sendmail('many@client.example', ['rcpt@dest.example'], msgs[i])
                res[i] = 'ok'
        except Exception as e:
            res[i] = repr(e)
            barrier.abort()

    ths = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for th in ths:
        th.start()
    for th in ths:
        th.join(120)
    return res


class Daemon:
    def __init__(self, t, exe, net, workdir):
        self.t, self.exe, self.net, self.dir = t, exe, net, workdir
        self.spool = os.path.join(workdir, 'spool')
        self.log = os.path.join(workdir, 'sluiced.log')
        self.proc = None

    def write_conf(self):
        path = os.path.join(self.dir, 'sluice.conf')
        eal = (f'-l 0 --no-huge -m 256 --no-shconf --no-pci --no-telemetry '
               f'--file-prefix sluice-dpdk-{self.net.if_srv}')
        with open(path, 'w') as f:
            f.write(f'[sluice]\nbackend = dpdk\nhostname = test.sluice\n'
                    f'[dpdk]\neal_args = {eal}\nport = net_af_packet0,iface={self.net.if_srv}\n'
                    f'address = {SERVER_IP}\nnetmask = 255.255.255.0\n'
                    f'[listen]\naddress = {SERVER_IP}:{PORT}\n'
                    f'[limits]\nmax_connections = 1024\nmax_connections_per_client = 0\n'
                    f'[spool]\ndir = {self.spool}\n')
        return path

    def start(self, timeout=30):
        conf = self.write_conf()
        run = os.path.join(self.dir, 'run')
        os.makedirs(run, exist_ok=True)
        env = dict(os.environ, RUNTIME_DIRECTORY=run)
        self.logf = open(self.log, 'wb')
        self.proc = h.spawn([self.net.ip, 'netns', 'exec', self.net.ns_srv, self.exe,
                             '--config', conf, '--user', '-'],
                            stdin=subprocess.DEVNULL, stdout=self.logf, stderr=self.logf,
                            env=env)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            text = self.text()
            if 'sluiced: ready' in text:
                return text
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        if 'built without DPDK' in self.text():
            raise h.Skip('sluiced was built without DPDK')
        self.t.require(False, 'sluiced --backend dpdk starts and prints ready',
                       self.text()[-3000:])

    def text(self):
        with open(self.log, 'rb') as f:
            return f.read().decode(errors='replace')

    def stop(self, timeout=30):
        os.kill(self.proc.pid, 15)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None


def check_stored(t, sp, want, what):
    """want: {tid: message bytes}; every one stored exactly once and byte-exact."""
    index = sp.by_test_id(sp.load())
    bad = []
    for tid, msg in want.items():
        found = index.get(tid, [])
        if len(found) != 1 or found[0].content != msg:
            bad.append((tid, len(found)))
    t.check(not bad, f'{what}: all {len(want)} messages stored once, byte for byte',
            f'{len(bad)} wrong, first: {bad[:3]}')


def step_swaks(t, net, sp, d):
    tid = h.new_id()
    msg = h.make_message(tid, subject='dpdk swaks', size=5000)
    path = os.path.join(d.dir, 'swaks.eml')
    with open(path, 'wb') as f:
        f.write(msg[:-2])  # swaks ends the data with CRLF "." CRLF: what it sends is msg
    r = net.run(h.require_tool('swaks'), '--server', SERVER_IP, '--port', str(PORT),
                '--from', 'swaks@client.example', '--to', 'bob@dest.example',
                '--helo', 'client.example', '--timeout', '20', '--data', f'@{path}',
                ns=net.ns_cli, check=False)
    out = r.stdout.decode(errors='replace')
    t.check(r.returncode == 0, 'swaks over the DPDK port: exit 0', out[-1500:])
    m = re.search(r'queued as (\S+)', out)
    t.require(m is not None, 'swaks: end of data gets "250 ... queued as ID"', out[-1500:])
    data = sp.cat(m.group(1))
    t.equal(h.strip_received(data)[1], msg, 'swaks message: `sluice-spool cat ID` == bytes sent')


def step_smtplib(t, net, sp):
    want, batches = {}, []
    sizes = [200, 3000, 40000, 300000, 1500, 120000]
    for b in range(3):
        batch = []
        for k, size in enumerate(sizes):
            tid = h.new_id()
            msg = h.make_message(tid, subject=f'dpdk {b}.{k}', size=size)
            batch.append((f's{b}@client.example', [f'r{k}@dest.example'], msg))
            want[tid] = msg
        batches.append(batch)
    ids = in_netns(net.ns_cli, lambda: [send_messages(bt) for bt in batches])
    flat = [x for bt in ids for x in bt]
    t.check(all(x and ' ' not in x for x in flat),
            f'smtplib: {len(flat)} messages on 3 connections all get "250 queued as"', flat)
    return want


def step_concurrent(t, net):
    want = {}
    msgs = []
    for i in range(CONCURRENT):
        tid = h.new_id()
        msgs.append(h.make_message(tid, subject=f'concurrent {i}', size=2000))
        want[tid] = msgs[-1]
    t0 = time.monotonic()
    res = in_netns(net.ns_cli, concurrent_clients, msgs)
    dt = time.monotonic() - t0
    ok = sum(1 for r in res if r == 'ok')
    t.check(ok == CONCURRENT, f'{CONCURRENT} connections open at once, every message gets 250',
            [r for r in res if r != 'ok'][:5])
    t.note(f'{CONCURRENT} concurrent sessions in {dt:.2f} s')
    return want


def step_impaired(t, ip, ethtool, exe):
    """A second sluiced behind a relay that loses 3%, duplicates 3% and reorders 10% of the
    frames in each direction (netem is not needed)."""
    net = Net(ip, relay=True)
    relay = None
    try:
        net.create(ethtool)
        d = Daemon(t, exe, net, h.tempdir('sluice-dpdk-r-'))
        d.start()
        relay = Relay(net, loss=0.03, dup=0.03, reorder=0.10, seed=os.getpid())
        want, batches = {}, []
        for b in range(2):
            batch = []
            for k in range(4):
                tid = h.new_id()
                msg = h.make_message(tid, subject=f'impaired {b}.{k}', size=60000)
                batch.append(('lossy@client.example', ['rcpt@dest.example'], msg))
                want[tid] = msg
            batches.append(batch)
        t0 = time.monotonic()
        ids = in_netns(net.ns_cli, lambda: [send_messages(bt, 60) for bt in batches])
        dt = time.monotonic() - t0
        flat = [x for bt in ids for x in bt]
        t.check(all(x and ' ' not in x for x in flat),
                'lossy, duplicating, reordering path: every message gets 250', flat)
        st = relay.stats
        t.note(f'relay: {st["frames"]} frames, {st["lost"]} lost, {st["duplicated"]} '
               f'duplicated, {st["reordered"]} reordered; {len(flat)} x 60 KB in {dt:.1f} s')
        t.check(st['lost'] > 0 and st['duplicated'] > 0 and st['reordered'] > 0,
                'the relay really lost, duplicated and reordered frames', dict(st))
        check_stored(t, h.Spool(t, d.spool), want, 'impaired path')
        relay.stop()  # the path is cut: FINs still unacknowledged stay so
        t0 = time.monotonic()
        t.equal(d.stop(), 0, 'impaired path: SIGTERM, exit 0')
        t.check(time.monotonic() - t0 < 5,
                'path cut: the shutdown waits for no FIN acknowledgement (sessions end at close)',
                f'{time.monotonic() - t0:.1f} s')
    finally:
        if relay:
            relay.stop()
        net.remove()


def test(t):
    if os.geteuid() != 0:
        raise h.Skip('needs root (network namespaces, a veth pair, an af_packet port)')
    ip = h.require_tool('ip')
    ethtool = h.require_tool('ethtool')
    h.require_tool('swaks')
    exe = h.binary('SLUICE_E2E_SLUICED', 'sluiced')
    sp = None
    net = Net(ip)
    try:
        net.create(ethtool)
        d = Daemon(t, exe, net, h.tempdir('sluice-dpdk-'))
        ready = d.start()
        t.check('backend dpdk' in ready, 'ready line names the dpdk backend')
        sp = h.Spool(t, d.spool)
        step_swaks(t, net, sp, d)
        want = step_smtplib(t, net, sp)
        check_stored(t, sp, want, 'smtplib over the userspace stack')
        want = step_concurrent(t, net)
        check_stored(t, sp, want, f'{CONCURRENT} concurrent connections')
        rc = d.stop()
        t.equal(rc, 0, 'SIGTERM: sluiced --backend dpdk drains and exits 0')
        if rc != 0:
            t.note(d.text()[-3000:])
        status, out = sp.verify()
        t.equal(status, 0, 'sluice-spool verify: the spool is consistent')
    finally:
        net.remove()
    step_impaired(t, ip, ethtool, exe)


if __name__ == '__main__':
    h.main(test)
