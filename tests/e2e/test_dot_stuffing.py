# SPDX-License-Identifier: MIT
"""Dot-stuffing end to end: lines that start with dots (RFC 5321 4.5.2) are unstuffed exactly
once, only at a real line start, also when the stuffed dot and the line end that precedes it
arrive in different TCP segments. Compared byte for byte in the spool."""

import re
import smtplib
import time

import sluice_harness as h

DOT_BODY = (b'.\r\n'                      # the message itself starts with a dot line
            b'..\r\n'
            b'...three\r\n'
            b'.hidden\r\n'
            b'a line with . inside. and at end.\r\n'
            b' .space first\r\n'
            b'..\r\n'
            b'.\r\n'
            b'.\r\n'
            b'last line .\r\n')


def stuff(content):
    return re.sub(rb'(?m)^\.', b'..', content)


def with_smtplib(t, d):
    tid = h.new_id()
    msg = DOT_BODY + h.make_message(tid, subject='dots', body=DOT_BODY)
    with smtplib.SMTP('127.0.0.1', d.port, local_hostname='client.example', timeout=15) as s:
        t.check(s.sendmail('a@client.example', ['b@dest.example'], msg) == {},
                'smtplib (which stuffs dots itself) gets 250')
    return tid, msg


def split_points(wire):
    """Offsets around every '\\r\\n.': before CR, between CR and LF, before and after the dot."""
    pts = set()
    for m in re.finditer(rb'\r\n\.', wire):
        i = m.start()
        pts.update({i, i + 1, i + 2, i + 3})
    return sorted(p for p in pts if 0 < p < len(wire))


def with_split_writes(t, d, pieces_per_write):
    """Raw client: the stuffed body is written in pieces cut next to every line-start dot."""
    tid = h.new_id()
    msg = h.make_message(tid, subject='dots split', body=DOT_BODY) + b'.x\r\n..\r\n'
    wire = stuff(msg) + b'.\r\n'
    c = h.RawSmtp(d.port)
    try:
        c.reply()
        c.command('EHLO client.example')
        t.check(c.command('MAIL FROM:<a@client.example>')[0] == 250, 'MAIL gets 250')
        t.check(c.command('RCPT TO:<b@dest.example>')[0] == 250, 'RCPT gets 250')
        t.check(c.command('DATA')[0] == 354, 'DATA gets 354')
        pts = split_points(wire)[::pieces_per_write] + [len(wire)]
        last = 0
        for p in pts:
            c.send(wire[last:p])
            last = p
            time.sleep(0.01)
        code, text = c.reply()
        t.check(code == 250, f'end of DATA after {len(pts)} separate writes gets 250',
                f'{code} {text}')
        t.check(c.command('QUIT')[0] == 221, 'QUIT gets 221')
    finally:
        c.close()
    return tid, msg


def run(t):
    with h.Sluice(t) as d:
        sp = h.Spool(t, d.spool)
        cases = [('smtplib', with_smtplib(t, d)),
                 ('raw, a write at every dot boundary', with_split_writes(t, d, 1)),
                 ('raw, a write at every 3rd boundary', with_split_writes(t, d, 3))]
        index = sp.by_test_id()
        for name, (tid, msg) in cases:
            found = index.get(tid, [])
            if t.check(len(found) == 1, f'{name}: message stored once', f'found {len(found)}'):
                t.equal(found[0].content, msg,
                        f'{name}: dots unstuffed exactly once, at line starts only, byte exact')
        d.stop_and_check()


if __name__ == '__main__':
    h.main(run)
