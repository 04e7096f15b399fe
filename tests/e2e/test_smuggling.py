# SPDX-License-Identifier: MIT
"""SMTP smuggling (the 2023 CVEs in Postfix, Exim, sendmail): a body holding a non-standard end
of data such as "\\n.\\n" followed by a smuggled MAIL FROM / RCPT TO / DATA. Only <CRLF>.<CRLF>
ends DATA, so the server must answer the whole thing with exactly one reply (by default
550 5.5.2: a message with a bare CR or LF is refused), then stay in sync, and store nothing.
The normalize mode ([smtp] bare_newline = normalize) is covered in test_limits.py."""

import sluice_harness as h

SMUGGLED = (b'MAIL FROM:<admin@victim.example>\r\nRCPT TO:<target@dest.example>\r\nDATA\r\n'
            b'From: admin@victim.example\r\nSubject: smuggled\r\n\r\nSMUGGLED-BODY\r\n')

# (name, fake end of data). The real <CRLF>.<CRLF> follows the smuggled part in every case.
BARE_LF_VECTORS = [
    ('LF . LF', b'\n.\n'),
    ('LF . CRLF', b'\n.\r\n'),
    ('CRLF . LF', b'\r\n.\n'),
    ('LF . LF after text', b'text\n.\n'),
]
BARE_CR_VECTORS = [
    ('CR . CR', b'\r.\r'),
    ('CR . CRLF', b'\r.\r\n'),
    ('CRLF . CR', b'\r\n.\r'),
]


def attempt(t, d, name, fake_end):
    """One connection: a message carrying the vector, then NOOP and QUIT in the same write."""
    tid = h.new_id()
    head = h.make_message(tid, subject=f'smuggling {name}', body=b'legit body\r\n')
    c = h.RawSmtp(d.port)
    try:
        c.reply()
        c.command('EHLO client.example')
        c.command('MAIL FROM:<legit@client.example>')
        c.command('RCPT TO:<rcpt@dest.example>')
        t.check(c.command('DATA')[0] == 354, f'[{name}] DATA gets 354')
        c.send(head.rstrip(b'\r\n') + fake_end + SMUGGLED + b'.\r\nNOOP\r\nQUIT\r\n')
        r = c.replies_until_close()
    finally:
        c.close()
    return tid, r


def run(t):
    with h.Sluice(t) as d:
        sp = h.Spool(t, d.spool)
        for name, fake in BARE_LF_VECTORS:
            tid, r = attempt(t, d, name, fake)
            t.equal(h.codes(r), [550, 250, 221],
                    f'[{name}] exactly one reply for the message, then NOOP 250, QUIT 221')
            t.check(r and r[0][1][0].startswith('5.5.2'),
                    f'[{name}] the message is refused with 550 5.5.2 (bare LF)', r[:1])
        for name, fake in BARE_CR_VECTORS:
            tid, r = attempt(t, d, name, fake)
            t.equal(h.codes(r), [550, 250, 221],
                    f'[{name}] exactly one reply for the message, then NOOP 250, QUIT 221')
            t.check(r and r[0][1][0].startswith('5.5.2'),
                    f'[{name}] the message is refused with 550 5.5.2 (bare CR)', r[:1])
        entries = sp.load()
        t.equal([(e.id, e.mail_from) for e in entries], [],
                'nothing was stored: neither the refused messages nor anything smuggled')
        d.stop_and_check()


if __name__ == '__main__':
    h.main(run)
