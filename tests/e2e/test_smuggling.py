# SPDX-License-Identifier: MIT
"""SMTP smuggling (the 2023 CVEs in Postfix, Exim, sendmail): a body holding a non-standard end
of data such as "\\n.\\n" followed by a smuggled MAIL FROM / RCPT TO / DATA. Only <CRLF>.<CRLF>
ends DATA, so the server must answer the whole thing with exactly one reply (by default
550 5.5.2, bare line feeds are refused), then stay in sync, and store nothing smuggled."""

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
        accepted = {}
        for name, fake in BARE_CR_VECTORS:
            tid, r = attempt(t, d, name, fake)
            cs = h.codes(r)
            t.check(len(cs) == 3 and cs[0] in (250, 550) and cs[1:] == [250, 221],
                    f'[{name}] exactly one reply for the message (250 or 550), then in sync', r)
            if cs and cs[0] == 250:
                accepted[tid] = name
        entries = sp.load()
        smuggled = [e for e in entries
                    if e.mail_from == 'admin@victim.example' or b'smuggled' in
                    (e.content or b'').split(b'\r\n\r\n', 1)[0].lower()]
        t.check(not smuggled, 'no message with the smuggled envelope or headers was stored',
                smuggled)
        index = sp.by_test_id(entries)
        for tid, name in accepted.items():
            found = index.get(tid, [])
            t.check(len(found) == 1 and b'SMUGGLED-BODY' in found[0].content
                    and found[0].mail_from == 'legit@client.example',
                    f'[{name}] accepted with 250: stored as ONE message whose body still holds '
                    'the smuggled text', found)
        t.equal(len(entries), len(accepted), 'nothing else was stored')
        d.stop_and_check()


if __name__ == '__main__':
    h.main(run)
