# SPDX-License-Identifier: MIT
"""Postfix's smtp-source load generator against sluiced: 20 parallel sessions sending 200
messages (a new connection per message), then 5 sessions sending 100 messages over kept-open
connections (-d). smtp-source speaks HELO, never pipelines, and exits non-zero on any non-2xx
reply. Every message must be in the spool, once, with the envelope and the exact body
smtp-source generates."""

import re
import subprocess

import sluice_harness as h

LENGTH = 2000


def expected_body(length):
    """The body smtp-source sends for -l LENGTH: 'X' lines of 80 octets (CRLF included), each
    starting with a digit, then CRLF if the last line is unterminated."""
    data = bytearray(b'X' * length)
    for i in range(80, length, 80):
        data[i - 80] = ord('0123456789'[(i // 80) % 10])
        data[i - 2:i] = b'\r\n'
    if not data.endswith(b'\r\n'):
        data += b'\r\n'
    return bytes(data)


def load(t, d, name, args, count, sender):
    argv = [h.require_tool('smtp-source')] + args + [
        '-m', str(count), '-l', str(LENGTH), '-f', sender, '-t', 'sink@dest.example',
        '-M', 'client.example', f'127.0.0.1:{d.port}']
    r = subprocess.run(argv, capture_output=True, timeout=180, stdin=subprocess.DEVNULL)
    t.check(r.returncode == 0, f'smtp-source {name} ({" ".join(argv[1:])}) exits 0: '
            'every reply was 2xx/354', f'exit {r.returncode}: '
            f'{(r.stdout + r.stderr).decode(errors="replace")[-2000:]}')


def run(t):
    h.require_tool('smtp-source')
    with h.Sluice(t, workers=2) as d:
        sp = h.Spool(t, d.spool)
        load(t, d, '20 sessions x 200 messages', ['-s', '20'], 200, 'new@client.example')
        load(t, d, '5 kept-open sessions x 100 messages', ['-s', '5', '-d'], 100,
             'kept@client.example')
        entries = sp.load()
        want_body = expected_body(LENGTH)
        for sender, count in (('new@client.example', 200), ('kept@client.example', 100)):
            mine = [e for e in entries if e.mail_from == sender]
            t.equal(len(mine), count, f'all {count} messages from {sender} are in the spool')
            t.check(all(e.rcpt == ['sink@dest.example'] for e in mine),
                    f'{sender}: every stored envelope has the one recipient')
            bodies_ok = [e for e in mine if e.content.split(b'\r\n\r\n', 1)[-1] == want_body]
            bad = next((e for e in mine if e not in bodies_ok), None)
            t.check(len(bodies_ok) == len(mine),
                    f'{sender}: every stored body is exactly the {len(want_body)} octets sent',
                    bad and h.describe_difference(bad.content.split(b'\r\n\r\n', 1)[-1],
                                                  want_body))
            ids = [re.search(rb'^Message-Id: *(\S+)', e.content, re.M | re.I) for e in mine]
            ids = {m.group(1) for m in ids if m}
            t.equal(len(ids), len(mine), f'{sender}: no message is stored twice (Message-Ids)')
        t.equal(len(entries), 300, 'the spool holds exactly the 300 messages sent')
        d.stop_and_check()


if __name__ == '__main__':
    h.main(run)
