# SPDX-License-Identifier: MIT
"""Graceful shutdown, one connection at a time, with [sluice] shutdown_timeout = 2s.

At SIGTERM three clients are connected: A and B are inside DATA (half the message sent), C is
idle after EHLO. Then: A sends the rest within the deadline and must get 250 (its message is
stored); C's next command must get 421; a new connection must be refused or greeted with 421;
B never finishes and must get 421 once the 2 s deadline passes; sluiced must exit 0 soon after
(deadline + 3 s), and B's half message must not be stored."""

import os
import signal
import socket
import time

import sluice_harness as h

DEADLINE = 2.0
SLACK = 3.0


def open_in_data(t, port, tid):
    c = h.RawSmtp(port, timeout=DEADLINE + SLACK + 5)
    c.reply()
    c.command('EHLO client.example')
    c.command(f'MAIL FROM:<{tid[:8]}@client.example>')
    c.command('RCPT TO:<r@dest.example>')
    t.check(c.command('DATA')[0] == 354, 'DATA gets 354 before the shutdown')
    msg = h.make_message(tid, subject='in flight', size=6000)
    half = len(msg) // 2
    c.send(msg[:half])
    return c, msg, half


def run(t):
    conf = os.path.join(h.tempdir(), 'sluice.conf')
    with open(conf, 'w') as f:
        f.write(f'[sluice]\nshutdown_timeout = {int(DEADLINE)}s\n')
    d = h.Sluice(t, extra_args=['--config', conf]).start()
    sp = h.Spool(t, d.spool)
    tid_a, tid_b = h.new_id(), h.new_id()
    a, msg_a, half_a = open_in_data(t, d.port, tid_a)
    b, _, _ = open_in_data(t, d.port, tid_b)
    c = h.RawSmtp(d.port, timeout=10)
    c.reply()
    c.command('EHLO client.example')
    time.sleep(0.2)

    t0 = time.monotonic()
    os.kill(d.proc.pid, signal.SIGTERM)
    time.sleep(0.5)
    a.send(msg_a[half_a:] + b'.\r\n')
    r = a.reply()
    t.check(r[0] == 250, 'A: a transaction in DATA at SIGTERM that ends within the deadline '
            'gets 250', r)
    r = c.command('NOOP')
    t.check(r[0] == 421, 'C: an idle session gets 421 at its next command after SIGTERM', r)
    try:
        n = h.RawSmtp(d.port, timeout=5)
        try:
            g = n.reply()
            t.check(g[0] == 421, 'a new connection after SIGTERM is greeted with 421 (or refused)',
                    g)
        except (h.SmtpError, ConnectionResetError) as e:
            t.check(True, f'a new connection after SIGTERM is closed without a greeting ({e})')
        n.close()
    except ConnectionRefusedError:
        t.check(True, 'a new connection after SIGTERM is refused (listener closed)')
    try:
        r = b.reply()
        waited = time.monotonic() - t0
        t.check(r[0] == 421, 'B: a transaction still in DATA at the deadline gets 421', r)
        t.check(DEADLINE - 0.5 <= waited <= DEADLINE + SLACK,
                f'B: the 421 comes at the shutdown deadline ({waited:.2f} s after SIGTERM, '
                f'deadline {DEADLINE:.0f} s)')
    except (h.SmtpError, OSError) as e:
        t.fail('B: a transaction still in DATA at the deadline gets 421', f'{type(e)}: {e}')
    for x in (a, b, c):
        x.close()
    try:
        rc = d.proc.wait(DEADLINE + SLACK + 5)
    except Exception:
        rc = None
    elapsed = time.monotonic() - t0
    t.check(rc == 0 and elapsed <= DEADLINE + SLACK,
            f'sluiced exits 0 within shutdown_timeout + {SLACK:.0f} s ({elapsed:.2f} s)',
            f'exit {rc}\n{d.log_tail()}')
    index = sp.by_test_id()
    got = index.get(tid_a, [])
    t.check(len(got) == 1 and got[0].content == msg_a, "A's message is stored byte for byte")
    t.check(tid_b not in index, "B's unfinished message is not stored")
    rc, out = sp.verify()
    t.check(rc == 0, 'sluice-spool verify exits 0 after the shutdown', out[-1000:])


if __name__ == '__main__':
    socket.setdefaulttimeout(30)
    h.main(run)
