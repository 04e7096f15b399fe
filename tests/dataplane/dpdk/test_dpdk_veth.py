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
  4. with netem on the client's side (loss, reordering, duplication), several 60 KB messages;
  5. SIGTERM: sluiced exits 0.
Every wait has a timeout. Needs root, ip, ethtool, swaks and a sluiced built with DPDK; exits
77 (skip) without them. Set SLUICE_E2E_KEEP=1 to keep the spool and the log.
"""

import ctypes
import os
import re
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


class Net:
    """The two namespaces and the veth pair; remove() always runs (finally)."""

    def __init__(self, ip):
        tag = f'{os.getpid() % 100000}'
        self.ip = ip
        self.ns_srv = f'sluice-dpdk-s{tag}'
        self.ns_cli = f'sluice-dpdk-c{tag}'
        self.if_srv = f'sdk{tag}s'
        self.if_cli = f'sdk{tag}c'
        self.made = []

    def run(self, *argv, ns=None, check=True):
        full = ([self.ip, 'netns', 'exec', ns] if ns else []) + list(argv)
        r = subprocess.run(full, capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise RuntimeError(f'{" ".join(full)}: {r.stderr.decode(errors="replace")}')
        return r

    def create(self, ethtool):
        for ns in (self.ns_srv, self.ns_cli):
            self.run(self.ip, 'netns', 'add', ns)
            self.made.append(ns)
        self.run(self.ip, 'link', 'add', self.if_srv, 'type', 'veth', 'peer', 'name', self.if_cli)
        self.made.append('veth')
        self.run(self.ip, 'link', 'set', self.if_srv, 'netns', self.ns_srv)
        self.run(self.ip, 'link', 'set', self.if_cli, 'netns', self.ns_cli)
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

    def remove(self):
        # Deleting a namespace deletes the veth end inside it, and with it the pair.
        for ns in (self.ns_cli, self.ns_srv):
            if ns in self.made:
                self.run(self.ip, 'netns', 'delete', ns, check=False)
        if 'veth' in self.made:
            self.run(self.ip, 'link', 'delete', self.if_srv, check=False)
        self.made = []


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
               f'--file-prefix sluice-dpdk-{os.getpid()}')
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


def step_netem(t, net, tc):
    r = net.run(tc, 'qdisc', 'add', 'dev', net.if_cli, 'root', 'netem', 'delay', '2ms',
                'loss', '3%', 'duplicate', '3%', 'reorder', '25%', '50%', ns=net.ns_cli,
                check=False)
    if r.returncode != 0:
        t.note(f'netem not available ({r.stderr.decode(errors="replace").strip()}): skipped')
        return {}
    want, batch = {}, []
    for k in range(6):
        tid = h.new_id()
        msg = h.make_message(tid, subject=f'netem {k}', size=60000)
        batch.append(('netem@client.example', ['rcpt@dest.example'], msg))
        want[tid] = msg
    try:
        ids = in_netns(net.ns_cli, send_messages, batch, 60)
    finally:
        net.run(tc, 'qdisc', 'del', 'dev', net.if_cli, 'root', ns=net.ns_cli, check=False)
    t.check(all(x and ' ' not in x for x in ids),
            'netem (3% loss, 3% duplicates, reordering): every message gets 250', ids)
    return want


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
        want = step_netem(t, net, h.require_tool('tc'))
        if want:
            check_stored(t, sp, want, 'netem')
        rc = d.stop()
        t.equal(rc, 0, 'SIGTERM: sluiced --backend dpdk drains and exits 0')
        if rc != 0:
            t.note(d.text()[-3000:])
        status, out = sp.verify()
        t.equal(status, 0, 'sluice-spool verify: the spool is consistent')
    finally:
        net.remove()


if __name__ == '__main__':
    h.main(test)
